//! A device on another machine: the client side of `lantern serve`, through burn's remote backend.
//!
//! The tensors of a remote device live on the server; the autodiff graph stays here, so every
//! gradient method works. burn reports a connection lost mid-computation by panicking inside the
//! operation that needed the server; [`guard_remote`] turns that into [`LanternError::Device`].
//!
//! For a caller on a background thread (the app's "Connect to a server…"):
//!
//! ```text
//! let address: RemoteAddress = "ws://gpu:3000".parse()?;           // or "<server id>@host:port"
//! let token = device::read_token(path)?;                             // or the text the user typed
//! let compute = device::connect(&address, &token, Duration::from_secs(10))?;  // never hangs longer
//! let maps = device::guard_remote(|| explain(&compute.device, ...))?;         // a drop is an Err
//! device::check_remote(&compute.device, Duration::from_secs(5))?;             // is it still there?
//! ```

use super::ComputeDevice;
use crate::error::{LanternError, Result};
use burn::remote::{EndpointId, IrohHost, IrohRelays, RemoteHost};
use burn::tensor::{Device, Tensor, TensorData};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How long the CLI waits for a server to answer before giving up. burn itself retries an
/// unreachable server for about 16 s; this bounds a server that accepts but never answers.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(25);

/// Where a `lantern serve` is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteAddress {
    /// `ws://host:port`: unencrypted, for a trusted network.
    WebSocket(String),
    /// An Iroh server id, dialed directly at `address` (relays off) or found through n0's public
    /// relays when no address is given.
    Iroh { id: String, address: Option<String> },
}

impl std::fmt::Display for RemoteAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteAddress::WebSocket(url) => f.write_str(url),
            RemoteAddress::Iroh { id, address: None } => f.write_str(id),
            RemoteAddress::Iroh { id, address: Some(address) } => write!(f, "{id}@{address}"),
        }
    }
}

impl std::str::FromStr for RemoteAddress {
    type Err = String;

    /// `ws://host:port`, `<server id>` or `<server id>@host:port`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let text = s.trim();
        if text.starts_with("ws://") || text.starts_with("wss://") {
            let rest = text.split_once("://").map_or("", |(_, r)| r).trim_end_matches('/');
            if rest.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
                return Err(format!("remote:{text}: a WebSocket server is ws://host:port"));
            }
            return Ok(RemoteAddress::WebSocket(text.trim_end_matches('/').to_string()));
        }
        let (id, address) = match text.split_once('@') {
            Some((id, address)) => (id, Some(address)),
            None => (text, None),
        };
        if id.parse::<EndpointId>().is_err() {
            return Err(format!("remote:{text}: not a server id (the one `lantern serve` prints) nor ws://host:port"));
        }
        if let Some(address) = address
            && address.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(format!("remote:{text}: the address after @ is host:port"));
        }
        Ok(RemoteAddress::Iroh { id: id.to_string(), address: address.map(str::to_string) })
    }
}

impl RemoteAddress {
    /// burn's description of the host, presenting `token`.
    fn host(&self, token: &str) -> Result<RemoteHost> {
        let host = match self {
            RemoteAddress::WebSocket(url) => RemoteHost::websocket(url),
            RemoteAddress::Iroh { id, address } => {
                let id: EndpointId = id.parse().map_err(|e| LanternError::BadArgument(format!("remote:{id}: {e}")))?;
                let mut iroh = IrohHost::new(id);
                match address {
                    None => iroh = iroh.with_relays(IrohRelays::Public),
                    Some(address) => {
                        let resolved: Vec<SocketAddr> = address
                            .to_socket_addrs()
                            .map_err(|e| LanternError::Device(format!("cannot resolve {address}: {e}")))?
                            .collect();
                        if resolved.is_empty() {
                            return Err(LanternError::Device(format!("{address} resolves to no address")));
                        }
                        iroh = iroh.with_relays(IrohRelays::Disabled);
                        for a in resolved {
                            iroh = iroh.with_address(a);
                        }
                    }
                }
                RemoteHost::iroh(iroh)
            }
        };
        Ok(host.with_credential(token.as_bytes().to_vec()))
    }
}

static TOKEN_FILE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The token file the command line gave (`--token-file`), which [`super::choose`] reads for a
/// `remote:` device.
pub fn set_token_file(path: Option<PathBuf>) {
    *TOKEN_FILE.lock().unwrap_or_else(|e| e.into_inner()) = path;
}

pub(super) fn token_file() -> Option<PathBuf> {
    TOKEN_FILE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Whether this process connected a remote device, so a caught panic may be a lost server (see
/// [`remote_failure`]).
pub fn remote_in_use() -> bool {
    REMOTE_DEVICE.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// The token in `path` (its first line, without surrounding spaces).
pub fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|source| LanternError::Io { path: path.into(), source })?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(LanternError::Malformed { path: path.into(), reason: "the token file is empty".into() });
    }
    Ok(token)
}

/// Connect the first device of the server at `address`, presenting `token`, giving up after
/// `timeout`. Blocks the calling thread (call it from a background one in a GUI), never longer
/// than `timeout`; a refused token, an unreachable server and a timeout are all errors.
pub fn connect(address: &RemoteAddress, token: &str, timeout: Duration) -> Result<ComputeDevice> {
    let host = address.host(token)?;
    let (tx, rx) = std::sync::mpsc::channel();
    // burn's connect cannot be cancelled; on a timeout its thread finishes (or fails) on its own.
    std::thread::Builder::new()
        .name("lantern-remote-connect".into())
        .spawn(move || {
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Device::remote_options(&host).init()))
                    .unwrap_or_else(|p| Err(burn::remote::ConnectError::Handshake { reason: panic_text(&*p) }));
            let _ = tx.send(result);
        })
        .map_err(|e| LanternError::Device(format!("cannot start a thread to connect: {e}")))?;
    let device = match rx.recv_timeout(timeout) {
        Ok(Ok(device)) => device,
        Ok(Err(burn::remote::ConnectError::Unauthorized)) => {
            return Err(LanternError::Device(format!(
                "remote:{address} refused the token (check --token-file against the server's)"
            )));
        }
        Ok(Err(e)) => return Err(LanternError::Device(format!("remote:{address}: {e}"))),
        Err(_) => {
            return Err(LanternError::Device(format!(
                "remote:{address}: no answer within {} s",
                timeout.as_secs_f32()
            )));
        }
    };
    let compute = ComputeDevice { device, description: format!("remote: {address}"), gpu: false };
    check_remote(&compute.device, timeout)?;
    *REMOTE_DEVICE.lock().unwrap_or_else(|e| e.into_inner()) = Some(compute.device.clone());
    quiet_caught_panics();
    Ok(compute)
}

/// A round trip to the server (a tiny tensor computed there and read back) within `timeout`:
/// `Err` when the connection has dropped.
pub fn check_remote(device: &Device, timeout: Duration) -> Result<()> {
    let device = device.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = catch_quietly(|| {
            let t = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0], [2]), &device) * 2.0;
            t.try_into_data()
                .map_err(|e| LanternError::Device(format!("the server failed: {e:?}")))
                .and_then(|d| d.try_to_vec::<f32>().map_err(|e| LanternError::Device(format!("{e:?}"))))
        })
        .unwrap_or_else(|p| Err(LanternError::Device(panic_text(&*p))));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(values)) if values == [2.0, 4.0] => Ok(()),
        Ok(Ok(values)) => Err(LanternError::Device(format!("the server computed 2*[1, 2] as {values:?}"))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(LanternError::Device(format!("the server did not answer within {} s", timeout.as_secs_f32()))),
    }
}

/// How long a failure waits for the server's answer before calling it lost.
pub const REMOTE_CHECK: Duration = Duration::from_secs(5);

/// Run `work`, turning a panic into an error: [`LanternError::Device`] when the remote server no
/// longer answers (burn panics in the operation that finds it gone), [`LanternError::Internal`]
/// with the panic's message and place when it still does (then the panic is a bug).
pub fn guard_remote<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_quietly(work).unwrap_or_else(|p| Err(remote_failure(&*p)))
}

/// Run `work`, catching a panic without printing it while a remote device is connected (the
/// caller reports it through [`remote_failure`]); set `LANTERN_DEBUG_PANICS` to print it anyway.
pub fn catch_quietly<T>(work: impl FnOnce() -> T) -> std::thread::Result<T> {
    let before = CATCHING.with(|c| c.replace(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CATCHING.with(|c| c.set(before));
    outcome
}

/// What a panic caught by [`catch_quietly`] means: a lost server if the connected one does not
/// answer a round trip within [`REMOTE_CHECK`], else a bug, named with its place.
pub fn remote_failure(payload: &(dyn std::any::Any + Send)) -> LanternError {
    let text = panic_text(payload);
    let device = REMOTE_DEVICE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match device.map(|d| check_remote(&d, REMOTE_CHECK)) {
        Some(Ok(())) => {
            let place = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            LanternError::Internal(format!("an unexpected failure while the server still answers: {text}{place}"))
        }
        Some(Err(_)) | None => LanternError::Device(format!("lost the remote server: {text}")),
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = crate::error::panic_message(payload).unwrap_or_else(|| "an unknown failure".into());
    // burn's messages can be long debug dumps: the first line says what happened.
    text.lines().next().unwrap_or("").chars().take(300).collect()
}

thread_local! {
    /// This thread runs inside [`catch_quietly`].
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where the last quietly caught panic happened (` at file:line`).
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The remote device last connected, which [`remote_failure`] asks whether it still answers.
static REMOTE_DEVICE: Mutex<Option<Device>> = Mutex::new(None);

/// Once a remote device is connected, a panic inside [`catch_quietly`] is reported by its caller:
/// keep Rust's message off standard error there (unless `LANTERN_DEBUG_PANICS` is set), noting
/// its place. Panics elsewhere print as always.
fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("LANTERN_DEBUG_PANICS").is_some() {
            return;
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(std::cell::Cell::get) {
                let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line()));
                LAST_PANIC.with(|p| *p.borrow_mut() = place);
            } else {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            "ws://127.0.0.1:3000".parse::<RemoteAddress>().unwrap(),
            RemoteAddress::WebSocket("ws://127.0.0.1:3000".into())
        );
        assert!("ws://nohost".parse::<RemoteAddress>().is_err());
        assert!("not-an-id".parse::<RemoteAddress>().is_err());
        let id = iroh_id();
        assert_eq!(id.parse::<RemoteAddress>().unwrap(), RemoteAddress::Iroh { id: id.clone(), address: None });
        let with = format!("{id}@127.0.0.1:4000");
        let parsed = with.parse::<RemoteAddress>().unwrap();
        assert_eq!(parsed.to_string(), with);
        assert!(format!("{id}@127.0.0.1").parse::<RemoteAddress>().is_err());
    }

    #[test]
    fn remote_choices_parse_and_print() {
        let choice: super::super::DeviceChoice = "remote:ws://localhost:3000".parse().unwrap();
        assert_eq!(choice.to_string(), "remote:ws://localhost:3000");
        let err = "remote:nowhere".parse::<super::super::DeviceChoice>().unwrap_err();
        assert!(err.contains("server id"), "{err}");
    }

    #[test]
    fn a_remote_choice_without_a_token_file_is_bad_input() {
        set_token_file(None);
        let choice: super::super::DeviceChoice = "remote:ws://127.0.0.1:9".parse().unwrap();
        let err = super::super::choose(choice).unwrap_err();
        assert!(err.is_bad_input(), "{err}");
        assert!(err.to_string().contains("--token-file"), "{err}");
    }

    fn iroh_id() -> String {
        burn::server::IrohIdentity::from_bytes([7; 32]).id().to_string()
    }
}
