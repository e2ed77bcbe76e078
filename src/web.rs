//! The web page's entry points (`web/build.sh` builds them): the same explorer as the desktop's,
//! started on the page's canvas by `web/index.html`, and its compute worker, started in a Web
//! Worker by `web/worker.js`. What a page cannot do is listed in
//! [`crate::app::web_cuts`].

use crate::app::images::FileBytes;
use crate::app::jobs::model::LoadModel;
use crate::app::model::ModelSource;
use crate::app::offload::{Reply, Request};
use crate::app::worker::{Cache, Job, Throttle};
use crate::control::{Control, Progress};
use crate::device::{AdapterSummary, DeviceChoice, WebGpuOffer};
use crate::error::{LanternError, Result};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The explorer running on a page: keeps eframe's runner alive for as long as the page holds it.
#[wasm_bindgen]
pub struct WebHandle {
    runner: eframe::WebRunner,
}

#[wasm_bindgen]
impl WebHandle {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self { runner: eframe::WebRunner::new() }
    }

    /// Start the explorer on the canvas with id `canvas_id`, on the demo model and images (or
    /// what the page's last visit left open, kept in the browser's local storage).
    pub async fn start(&self, canvas_id: &str) -> Result<(), JsValue> {
        let canvas = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(canvas_id))
            .ok_or_else(|| JsValue::from_str(&format!("the page has no element #{canvas_id}")))?
            .dyn_into::<web_sys::HtmlCanvasElement>()?;
        // The page draws through WebGL2, which every browser has and headless Chromium's
        // screenshots capture (a WebGPU canvas comes out blank in them); WebGPU, where the browser
        // offers it, computes in the compute worker.
        let mut options = eframe::WebOptions::default();
        if let eframe::egui_wgpu::WgpuSetup::CreateNew(create) = &mut options.wgpu_options.wgpu_setup {
            create.instance_descriptor.backends = eframe::wgpu::Backends::GL;
        }
        self.runner
            .start(
                canvas,
                options,
                Box::new(|cc| {
                    let launch = crate::app::Launch { settings: page_settings(), ..crate::app::Launch::default() };
                    Ok(Box::new(crate::app::LanternApp::new(cc, launch)))
                }),
            )
            .await
    }

    /// The panic message, if the app panicked (the page shows it instead of a frozen canvas).
    pub fn panic_message(&self) -> Option<String> {
        self.runner.panic_summary().map(|s| s.message())
    }
}

/// The `name=value` pairs of an address's query (`?method=rise&masks=1000`), decoded.
fn address_pairs(search: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        js_sys::decode_uri_component(&s.replace('+', " "))
            .ok()
            .and_then(|d| d.as_string())
            .unwrap_or_else(|| s.to_string())
    };
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The page's address pairs for the explorer: all but `device`, which names where the compute
/// worker computes (the worker is started with the page's address and reads it there).
fn page_settings() -> Vec<(String, String)> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    address_pairs(&search).into_iter().filter(|(name, _)| name != DEVICE).collect()
}

/// The address pair that chooses the compute worker's device (`?device=webgpu`).
const DEVICE: &str = "device";

impl Default for WebHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// The compute worker: its cache, the requests waiting, and whether one is running.
struct ComputeWorker {
    scope: web_sys::DedicatedWorkerGlobalScope,
    cache: RefCell<Cache>,
    waiting: RefCell<VecDeque<js_sys::Array>>,
    busy: Cell<bool>,
}

thread_local! {
    static COMPUTE: OnceCell<ComputeWorker> = const { OnceCell::new() };
}

/// The compute worker's entry point: `web/worker.js` calls it once the module is loaded in the
/// Web Worker the page started ([`crate::app::offload`]), with what the browser offers for GPU
/// compute: the WebGPU adapter's name (if any), whether it is a fallback (software) adapter, and
/// whether the browser can suspend wasm (JSPI). The device is chosen by the `device` pair of the
/// worker's address (the page's own): `webgpu`, `cpu` or `auto` (WebGPU on a hardware adapter).
#[wasm_bindgen]
pub async fn worker_start(adapter: Option<String>, fallback: bool, suspendable: bool) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let search = scope.location().search();
    let mut refused = None;
    let choice = match address_pairs(&search).into_iter().find(|(name, _)| name == DEVICE) {
        Some((_, value)) => value.parse().unwrap_or_else(|e: String| {
            refused = Some(e);
            DeviceChoice::Auto
        }),
        None => DeviceChoice::Auto,
    };
    let adapter = adapter.map(|name| AdapterSummary { name, backend: "WebGPU".into(), hardware: !fallback });
    crate::device::wait::set_suspendable(suspendable);
    let mut compute = crate::device::choose_in_worker(choice, WebGpuOffer { adapter, suspendable }).await;
    if let Some(e) = refused {
        compute.description = format!("{} (device: {e})", compute.description);
    }
    let ready = Reply::Ready { device: compute.description, gpu: compute.gpu };
    let worker = ComputeWorker {
        scope,
        cache: RefCell::new(Cache::new(compute.device)),
        waiting: RefCell::default(),
        busy: Cell::new(false),
    };
    COMPUTE.with(|c| {
        let worker = c.get_or_init(|| worker);
        post(&worker.scope, &ready);
    });
}

/// One message from the page (`[header, image, model]`, see [`crate::app::offload`]):
/// `web/worker.js` calls it for each, on a stack JSPI may suspend while a job waits for the GPU.
/// A message that arrives meanwhile is queued and run when the one before it has answered.
#[wasm_bindgen]
pub fn worker_handle(message: JsValue) {
    COMPUTE.with(|c| {
        let Some(worker) = c.get() else { return };
        worker.waiting.borrow_mut().push_back(message.unchecked_into());
        if worker.busy.replace(true) {
            return;
        }
        loop {
            let Some(message) = worker.waiting.borrow_mut().pop_front() else { break };
            answer(worker, &message);
        }
        worker.busy.set(false);
    });
}

fn post(scope: &web_sys::DedicatedWorkerGlobalScope, reply: &Reply) {
    if let Ok(text) = serde_json::to_string(reply) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
}

/// Run one request and post its progress and answer.
fn answer(worker: &ComputeWorker, message: &js_sys::Array) {
    let Some(request) = message.get(0).as_string().and_then(|h| serde_json::from_str::<Request>(&h).ok()) else {
        return;
    };
    let bytes = |i: u32| message.get(i).dyn_into::<js_sys::Uint8Array>().ok().map(|a| a.to_vec());
    let id = request.id;
    let result = run(request, bytes(1), bytes(2), &mut worker.cache.borrow_mut(), &|done, total| {
        post(&worker.scope, &Reply::Progress { id, done, total })
    });
    post(&worker.scope, &Reply::Done { id, result: result.map_err(|e| e.to_string()) });
}

/// Take what the request brought into the cache, then run its job.
fn run(
    request: Request,
    image: Option<Vec<u8>>,
    model: Option<Vec<u8>>,
    cache: &mut Cache,
    progress: &dyn Fn(usize, usize),
) -> Result<String> {
    let cancel = AtomicBool::new(false);
    // As often as the desktop's worker reports it: each report is a message and a frame.
    let mut throttle = Throttle::default();
    let mut on_progress = |p: Progress<'_>| {
        if throttle.lets_through(p.done, p.total) {
            progress(p.done, p.total)
        }
    };
    let mut control = Control::with_progress(&cancel, &mut on_progress);
    if let Some((id, given)) = request.model {
        let source = match (given, model) {
            (Some(name), Some(bytes)) => ModelSource::Given(FileBytes { name, bytes: bytes.into() }),
            (None, _) => ModelSource::Demo,
            (Some(name), None) => return Err(LanternError::Internal(format!("{name} came without its bytes"))),
        };
        Job::run(LoadModel { id, source, preprocess: None }, cache, &mut control)?;
    }
    if let Some((id, width, height)) = request.image {
        let pixels = image.ok_or_else(|| LanternError::Internal("an image came without its pixels".into()))?;
        let img = image::RgbImage::from_raw(width, height, pixels)
            .ok_or_else(|| LanternError::Internal(format!("image {id}: the pixels are not {width}x{height}")))?;
        cache.images.insert(id, Arc::new(img));
    }
    crate::app::jobs::run_offloaded(&request.job, cache, &mut control)
}
