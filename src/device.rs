//! Choosing where tensors are computed.
//!
//! The web page's compute worker computes on WebGPU through burn's wgpu runtime where the browser
//! offers it and can wait for it ([`choose_in_worker`], [`wait`]), else on burn's Flex backend in
//! wasm; the page's own thread computes on Flex. The web build has no remote client.
//!
//! `auto` takes a hardware GPU through wgpu when one is present and otherwise burn's Flex backend
//! (pure-Rust CPU). A CPU rasterizer (llvmpipe, lavapipe) is never chosen automatically: it runs
//! convolutions an order of magnitude slower than Flex.

use crate::error::{LanternError, Result};
use burn::tensor::Device;
#[cfg(not(target_arch = "wasm32"))]
use burn::tensor::DeviceKind;
#[cfg(not(target_arch = "wasm32"))]
pub use remote::{
    CONNECT_TIMEOUT, REMOTE_CHECK, RemoteAddress, catch_quietly, check_remote, connect, guard_remote, read_token,
    remote_failure, remote_in_use, set_token_file,
};
use serde::{Deserialize, Serialize};

/// What the user asked for: a local device, or a `lantern serve` on another machine.
///
/// `Copy` like the other flag values, so every command's `--device` takes `remote:...` through
/// this one parser: the remote address is interned (parsed once, kept for the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Wgpu,
    /// `remote:<server id>`, `remote:<server id>@host:port` or `remote:ws://host:port`.
    #[cfg(not(target_arch = "wasm32"))]
    Remote(&'static RemoteAddress),
}

impl DeviceChoice {
    /// The local choices, in the order help lists them.
    pub const ALL: &'static [DeviceChoice] = &[DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Wgpu];
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Wgpu => f.write_str("wgpu"),
            #[cfg(not(target_arch = "wasm32"))]
            DeviceChoice::Remote(address) => write!(f, "remote:{address}"),
        }
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let text = s.trim();
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(rest) = strip_prefix_ignore_case(text, "remote:") {
            let address: RemoteAddress = rest.parse()?;
            return Ok(DeviceChoice::Remote(Box::leak(Box::new(address))));
        }
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" | "flex" => Ok(DeviceChoice::Cpu),
            "wgpu" | "gpu" | "webgpu" => Ok(DeviceChoice::Wgpu),
            _ => Err(format!(
                "unknown device '{s}' (choose {}, or remote:<server id> or remote:ws://host:port)",
                crate::names::one_of(DeviceChoice::ALL)
            )),
        }
    }
}

impl Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// A wgpu adapter as the system reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    /// False for software rasterizers such as llvmpipe and lavapipe.
    pub hardware: bool,
}

/// The device tensors run on, and a line saying which it is.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub device: Device,
    pub description: String,
    pub gpu: bool,
}

impl ComputeDevice {
    /// burn's Flex CPU backend.
    pub fn cpu() -> Self {
        let description = if cfg!(target_arch = "wasm32") {
            // The web page's explanations run in its compute worker (`app::offload`).
            "CPU (burn Flex in wasm, in a Web Worker)".to_string()
        } else {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            format!("CPU (burn Flex, {threads} threads)")
        };
        Self { device: Device::flex(), description, gpu: false }
    }
}

/// Every wgpu adapter on this machine.
#[cfg(not(target_arch = "wasm32"))]
pub fn adapters() -> Vec<AdapterSummary> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                name: info.name,
                backend: format!("{:?}", info.backend),
                hardware: info.device_type != wgpu::DeviceType::Cpu,
            }
        })
        .collect()
}

/// Whether this machine could have a hardware GPU at all. On Linux every GPU driver exposes a
/// render node (`/dev/dri/renderD*`) or, for NVIDIA's own driver, `/dev/nvidia*`; without one,
/// probing adapters only wakes the Vulkan loader (which prints warnings such as
/// "XDG_RUNTIME_DIR is invalid or not set") to find software rasterizers.
pub fn gpu_possible() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let has = |dir: &str, prefix: &str| {
        std::fs::read_dir(dir)
            .is_ok_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix)))
    };
    has("/dev/dri", "renderD") || has("/dev", "nvidia")
}

/// Resolve a choice to a device for the web page's own thread: burn's Flex backend in wasm. The
/// page's thread cannot wait for a GPU read; WebGPU compute runs in its compute worker
/// ([`choose_in_worker`], asked for with `?device=webgpu` in the page's address).
#[cfg(target_arch = "wasm32")]
pub fn choose(choice: DeviceChoice) -> Result<ComputeDevice> {
    match choice {
        DeviceChoice::Auto | DeviceChoice::Cpu => Ok(ComputeDevice::cpu()),
        DeviceChoice::Wgpu => Err(LanternError::Device(
            "the page's own thread computes on the CPU; WebGPU compute runs in its compute worker \
             (open the page with ?device=webgpu)"
                .into(),
        )),
    }
}

/// What a browser offers the web page's compute worker for GPU compute (`web/worker.js` asks).
#[cfg(any(target_arch = "wasm32", test))]
#[derive(Debug, Clone)]
pub struct WebGpuOffer {
    /// The adapter `navigator.gpu.requestAdapter()` gave, if any.
    pub adapter: Option<AdapterSummary>,
    /// Whether the browser can suspend wasm while the GPU works (JSPI, see [`wait`]).
    pub suspendable: bool,
}

/// Whether the compute worker computes on WebGPU for `choice`: `Ok(true)` on WebGPU, `Ok(false)`
/// on the CPU, `Err(why)` when WebGPU was asked for and the browser cannot give it (the worker
/// then computes on the CPU and says why). As on the desktop, `auto` never takes a software
/// adapter (SwiftShader): it runs convolutions far slower than the CPU path.
#[cfg(any(target_arch = "wasm32", test))]
pub fn webgpu_wanted(choice: DeviceChoice, offer: &WebGpuOffer) -> std::result::Result<bool, String> {
    match (choice, &offer.adapter) {
        (DeviceChoice::Wgpu, None) => Err("this browser offers no WebGPU adapter".into()),
        (DeviceChoice::Wgpu, Some(_)) if !offer.suspendable => {
            Err("this browser cannot suspend wasm while the GPU works (it lacks JavaScript Promise Integration)".into())
        }
        (DeviceChoice::Wgpu, Some(_)) => Ok(true),
        (DeviceChoice::Auto, Some(a)) => Ok(a.hardware && offer.suspendable),
        _ => Ok(false),
    }
}

/// The compute worker's device for `choice` and what the browser offers: burn's wgpu runtime on
/// WebGPU (created asynchronously, as a browser requires) or Flex, described with the reason
/// when WebGPU was asked for and not had.
#[cfg(target_arch = "wasm32")]
pub async fn choose_in_worker(choice: DeviceChoice, offer: WebGpuOffer) -> ComputeDevice {
    let cpu_because = |why: String| {
        let mut cpu = ComputeDevice::cpu();
        cpu.description = format!("{} - WebGPU was asked for, but {why}", cpu.description);
        cpu
    };
    match (webgpu_wanted(choice, &offer), offer.adapter) {
        (Ok(true), Some(adapter)) => match Device::wgpu_options().init_async().await {
            Ok(device) => {
                let software = if adapter.hardware { "" } else { " - a software adapter, slower than the CPU path" };
                let description = format!("GPU via WebGPU: {} (in a Web Worker){software}", adapter.name);
                ComputeDevice { device, description, gpu: true }
            }
            Err(e) => cpu_because(format!("burn could not start on its adapter: {e}")),
        },
        (Err(why), _) => cpu_because(why),
        _ => ComputeDevice::cpu(),
    }
}

/// A tensor's data on the host. The desktop blocks until it is read; the web page's compute
/// worker, computing on WebGPU, suspends its job until the GPU answers ([`wait`]).
pub fn read<const D: usize>(t: burn::tensor::Tensor<D>) -> burn::tensor::TensorData {
    #[cfg(target_arch = "wasm32")]
    {
        wait::block_on(t.into_data_async()).expect("the device reads the tensor back")
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        t.into_data()
    }
}

/// Resolve a choice to a device. A remote one is connected with the token of
/// [`set_token_file`], within [`CONNECT_TIMEOUT`].
#[cfg(not(target_arch = "wasm32"))]
pub fn choose(choice: DeviceChoice) -> Result<ComputeDevice> {
    match choice {
        DeviceChoice::Remote(address) => {
            let token = match remote::token_file() {
                Some(path) => remote::read_token(&path)?,
                None => {
                    return Err(LanternError::BadArgument(format!(
                        "--device remote:{address} needs --token-file (the file `lantern serve` wrote its token to)"
                    )));
                }
            };
            remote::connect(address, &token, CONNECT_TIMEOUT)
        }
        DeviceChoice::Cpu => Ok(ComputeDevice::cpu()),
        DeviceChoice::Auto if !gpu_possible() => Ok(ComputeDevice::cpu()),
        DeviceChoice::Auto => Ok(match adapters().into_iter().find(|a| a.hardware) {
            Some(a) => wgpu_device(DeviceKind::DefaultDevice, &a),
            None => ComputeDevice::cpu(),
        }),
        DeviceChoice::Wgpu => {
            let all = adapters();
            if let Some(a) = all.iter().find(|a| a.hardware) {
                Ok(wgpu_device(DeviceKind::DefaultDevice, a))
            } else if let Some(a) = all.first() {
                let mut d = wgpu_device(DeviceKind::Cpu, a);
                d.description.push_str(" - a software rasterizer, far slower than --device cpu");
                Ok(d)
            } else {
                Err(LanternError::Device("--device wgpu: this machine has no wgpu adapter".into()))
            }
        }
    }
}

/// Hand an existing wgpu device (egui's) to burn, so models and overlays share one GPU device.
#[cfg(not(target_arch = "wasm32"))]
pub fn share_wgpu(
    instance: wgpu::Instance,
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    backend: wgpu::Backend,
) -> Result<ComputeDevice> {
    let name = adapter.get_info().name;
    let setup = burn::tensor::wgpu::WgpuSetup { instance, adapter, device, queue, backend };
    let device = Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| LanternError::Device(format!("could not share the GPU with burn: {e}")))?;
    Ok(ComputeDevice {
        device,
        description: format!("GPU via wgpu, shared with the display: {name} ({backend:?})"),
        gpu: true,
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn wgpu_device(kind: DeviceKind, adapter: &AdapterSummary) -> ComputeDevice {
    ComputeDevice {
        device: Device::wgpu(kind),
        description: format!("GPU via wgpu: {} ({})", adapter.name, adapter.backend),
        gpu: true,
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod remote;
#[cfg(target_arch = "wasm32")]
pub mod wait;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse() {
        assert_eq!("AUTO".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("wgpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Wgpu);
        assert!("tpu".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn the_page_takes_webgpu_when_asked_or_on_hardware_and_says_why_not() {
        let adapter =
            |hardware| AdapterSummary { name: "google swiftshader".into(), backend: "WebGPU".into(), hardware };
        let offer = |adapter, suspendable| WebGpuOffer { adapter, suspendable };
        let software = offer(Some(adapter(false)), true);
        let hardware = offer(Some(adapter(true)), true);
        assert_eq!(webgpu_wanted(DeviceChoice::Auto, &software), Ok(false), "auto never takes a software adapter");
        assert_eq!(webgpu_wanted(DeviceChoice::Auto, &hardware), Ok(true));
        assert_eq!(webgpu_wanted(DeviceChoice::Wgpu, &software), Ok(true), "asked for, a software adapter will do");
        assert_eq!(webgpu_wanted(DeviceChoice::Cpu, &hardware), Ok(false));
        assert_eq!(webgpu_wanted(DeviceChoice::Auto, &offer(Some(adapter(true)), false)), Ok(false));
        let why = webgpu_wanted(DeviceChoice::Wgpu, &offer(None, true)).unwrap_err();
        assert!(why.contains("no WebGPU adapter"), "{why}");
        let why = webgpu_wanted(DeviceChoice::Wgpu, &offer(Some(adapter(true)), false)).unwrap_err();
        assert!(why.contains("JavaScript Promise Integration"), "{why}");
        assert_eq!("WebGPU".parse::<DeviceChoice>().unwrap(), DeviceChoice::Wgpu);
    }

    #[test]
    fn cpu_is_flex() {
        let d = choose(DeviceChoice::Cpu).unwrap();
        assert!(!d.gpu);
        assert!(d.description.contains("Flex"));
    }
}
