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
use crate::error::{LanternError, Result};
use burn::tensor::Device;
use std::cell::RefCell;
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
        let options = eframe::WebOptions::default();
        self.runner
            .start(
                canvas,
                options,
                Box::new(|cc| {
                    let launch = crate::app::Launch { settings: address_pairs(), ..crate::app::Launch::default() };
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

/// The `name=value` pairs of the page's address (`?method=rise&masks=1000`), decoded.
fn address_pairs() -> Vec<(String, String)> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
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

impl Default for WebHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// The compute worker's entry point: `web/worker.js` calls it once the module is loaded in the
/// Web Worker the page started ([`crate::app::offload`]). It listens for requests, runs each job
/// on its own cache and answers.
#[wasm_bindgen]
pub fn worker_start() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let cache = RefCell::new(Cache::new(Device::flex()));
    let answer_scope = scope.clone();
    let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        let post = |reply: &Reply| {
            if let Ok(text) = serde_json::to_string(reply) {
                let _ = answer_scope.post_message(&JsValue::from_str(&text));
            }
        };
        let message: js_sys::Array = event.data().unchecked_into();
        let Some(request) = message.get(0).as_string().and_then(|h| serde_json::from_str::<Request>(&h).ok()) else {
            return;
        };
        let bytes = |i: u32| message.get(i).dyn_into::<js_sys::Uint8Array>().ok().map(|a| a.to_vec());
        let id = request.id;
        let result = run(request, bytes(1), bytes(2), &mut cache.borrow_mut(), &|done, total| {
            post(&Reply::Progress { id, done, total })
        });
        post(&Reply::Done { id, result: result.map_err(|e| e.to_string()) });
    });
    scope.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    // The worker lives as long as the page keeps it: so does its listener.
    listener.forget();
    if let Ok(text) = serde_json::to_string(&Reply::Ready) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
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
