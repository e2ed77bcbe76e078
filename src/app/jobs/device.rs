//! Where the worker computes: connecting to a `lantern serve` (a background task, so neither the
//! frame nor the worker waits on the network), switching the worker to the connected device or
//! back to the local one, and the periodic check that the server still answers.

use crate::app::worker::{Cache, Job};
use crate::control::Control;
use crate::device::ComputeDevice;
use crate::error::Result;

/// A server connected, ready for [`UseDevice`].
#[derive(Debug)]
pub struct Connected {
    pub compute: ComputeDevice,
    pub message: String,
}

/// Connect to the server at `address` with the token in `token_file` (the task's work; blocks
/// at most [`crate::device::CONNECT_TIMEOUT`], as the CLI does).
#[cfg(not(target_arch = "wasm32"))]
pub fn connect(address: &str, token_file: &std::path::Path, control: &Control) -> Result<Connected> {
    use crate::device::RemoteAddress;
    use crate::error::LanternError;
    let address: RemoteAddress = address.trim().parse().map_err(LanternError::BadArgument)?;
    let token = crate::device::read_token(token_file)?;
    control.check()?;
    let compute = crate::device::connect(&address, &token, crate::device::CONNECT_TIMEOUT)?;
    let message = format!("Connected: computing on {}", compute.description);
    Ok(Connected { compute, message })
}

/// Compute on a connected server's device, or back on the local one (`None`). Answers with the
/// server's description (`None` for local). The models are dropped: the app loads them again.
pub struct UseDevice(pub Option<ComputeDevice>);

impl Job for UseDevice {
    type Output = Option<String>;

    fn run(self, cache: &mut Cache, _: &mut Control) -> Result<Option<String>> {
        let server = self.0.as_ref().map(|c| c.description.clone());
        cache.use_device(self.0.map(|c| c.device), server.clone());
        Ok(server)
    }
}

/// Is the server still there? Nothing to do on the local device; on a remote one, a round trip,
/// and if it fails the worker falls back to the local device (reported as `DeviceLost`).
pub struct CheckDevice;

impl Job for CheckDevice {
    type Output = ();

    fn run(self, cache: &mut Cache, _: &mut Control) -> Result<()> {
        cache.verify_remote()
    }
}
