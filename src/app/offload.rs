//! The web page's compute worker, the page's side: a page has one thread, and an explanation that
//! runs on it freezes the page for as long as it takes (seconds for RISE). So the page starts a
//! Web Worker (`web/worker.js`) that instantiates the same wasm module and serves requests
//! (`crate::web::worker_start`), and the [`super::worker::Worker`] of the page sends it every job
//! that can run there ([`super::worker::Job::offload`]: the explanations) while the page keeps
//! drawing.
//!
//! The protocol: the page posts `[header, image, model]`: a JSON [`Request`] (the job, and the
//! ids of the model and image it needs), the image's RGB pixels when the compute worker has not
//! been sent that image yet, and the model file's bytes when it has not been sent that model yet
//! (nothing for the bundled demo). The compute worker answers with JSON [`Reply`]s: `Ready` once
//! it listens (with the device it computes on), `Progress` while a job runs, and `Done` with the
//! job's answer. A job that is cancelled (a newer one replaces it) cannot be interrupted inside a
//! worker busy computing, so the page terminates that worker and starts a fresh one, which is sent
//! models and images anew.

use super::model::ModelSource;
use crate::error::{LanternError, Result};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The script the page starts the compute worker from (beside `index.html`).
const WORKER_SCRIPT: &str = "./worker.js";
/// How long the compute worker may take to load its module and say it listens.
const START_WITHIN: web_time::Duration = web_time::Duration::from_secs(60);

/// A job for the compute worker, with what it needs sent along.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    /// The job's kind and its fields, as the job serialises them.
    pub job: String,
    /// The model the job needs: its id, and the name of a model file given to the page (its
    /// bytes come with the message), or `None` for the bundled demo. Absent when already sent.
    pub model: Option<(u64, Option<String>)>,
    /// The image the job needs: its id, width and height (its RGB pixels come with the message).
    /// Absent when already sent.
    pub image: Option<(u64, u32, u32)>,
}

/// What the compute worker says.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The worker listens, computing on `device` (described; `gpu` when it is WebGPU).
    Ready {
        device: String,
        gpu: bool,
    },
    Progress {
        id: u64,
        done: usize,
        total: usize,
    },
    /// The job's answer as the job serialises it, or the error's text.
    Done {
        id: u64,
        result: std::result::Result<String, String>,
    },
}

/// A job the page's worker sends to the compute worker: what it asks, the model and image it
/// needs (by the ids of the page's cache), and how its serialised answer becomes the job's output.
pub struct Offload<O> {
    pub job: String,
    pub model: u64,
    pub image: u64,
    pub decode: fn(&str) -> Result<O>,
}

/// The page's side: the compute worker, its answers, and what it has been sent.
pub struct Offloader {
    worker: web_sys::Worker,
    replies: Rc<RefCell<VecDeque<Reply>>>,
    /// Kept alive for as long as the worker may answer.
    _listener: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
    /// What went wrong in the worker outside a job (its script not found, its module failing).
    error: Rc<RefCell<Option<String>>>,
    started: web_time::Instant,
    /// The device the worker computes on (described, and whether it is WebGPU), once it listens.
    device: Option<(String, bool)>,
    models: HashSet<u64>,
    images: HashSet<u64>,
    /// The model and image each unanswered request carried. A request that fails may have left
    /// them out of the worker (a model that did not load there), so they are sent again.
    carried: HashMap<u64, (Option<u64>, Option<u64>)>,
    next_id: u64,
}

impl Offloader {
    /// Start a compute worker; `repaint` is called whenever it answers.
    pub fn start(repaint: Rc<dyn Fn()>) -> Result<Self> {
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        // The page's address goes along: its `device` pair chooses where the worker computes.
        let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
        let worker = web_sys::Worker::new_with_options(&format!("{WORKER_SCRIPT}{search}"), &options)
            .map_err(|e| LanternError::Device(format!("the page could not start its compute worker: {e:?}")))?;
        let replies: Rc<RefCell<VecDeque<Reply>>> = Rc::default();
        let inbox = Rc::clone(&replies);
        let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            if let Some(reply) = event.data().as_string().and_then(|text| serde_json::from_str(&text).ok()) {
                inbox.borrow_mut().push_back(reply);
                repaint();
            }
        });
        worker.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        let error: Rc<RefCell<Option<String>>> = Rc::default();
        let seen = Rc::clone(&error);
        let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |event: web_sys::ErrorEvent| {
            *seen.borrow_mut() = Some(format!("the page's compute worker failed: {}", event.message()));
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            worker,
            replies,
            _listener: listener,
            _on_error: on_error,
            error,
            started: web_time::Instant::now(),
            device: None,
            models: HashSet::new(),
            images: HashSet::new(),
            carried: HashMap::new(),
            next_id: 0,
        })
    }

    /// Whether the worker listens (it says so once its module is loaded).
    pub fn ready(&self) -> bool {
        self.device.is_some()
    }

    /// The device the worker computes on, described, and whether it is WebGPU (once it listens).
    pub fn device(&self) -> Option<&(String, bool)> {
        self.device.as_ref()
    }

    /// Why the worker cannot be used: it reported an error outside a job, or it did not start
    /// listening within [`START_WITHIN`].
    pub fn failed(&self) -> Option<String> {
        if let Some(e) = self.error.borrow().clone() {
            return Some(e);
        }
        (!self.ready() && self.started.elapsed() > START_WITHIN)
            .then(|| format!("the page's compute worker did not start within {} s", START_WITHIN.as_secs()))
    }

    /// The answers that arrived (`Ready` is taken in here).
    pub fn replies(&mut self) -> Vec<Reply> {
        let mut rest = Vec::new();
        for reply in self.replies.borrow_mut().drain(..) {
            match reply {
                Reply::Ready { device, gpu } => self.device = Some((device, gpu)),
                other => rest.push(other),
            }
        }
        for reply in &rest {
            if let Reply::Done { id, result } = reply
                && let Some((model, image)) = self.carried.remove(id)
                && result.is_err()
            {
                if let Some(m) = model {
                    self.models.remove(&m);
                }
                if let Some(i) = image {
                    self.images.remove(&i);
                }
            }
        }
        rest
    }

    /// Send `job`, which needs the model `model` (its id in the page's cache, and where it came
    /// from) and the image `image` (its id and pixels); its request id.
    pub fn send(&mut self, job: String, model: (u64, &ModelSource), image: (u64, &RgbImage)) -> Result<u64> {
        self.next_id += 1;
        let id = self.next_id;
        let message = js_sys::Array::new();
        let transfer = js_sys::Array::new();
        let image_pixels = (!self.images.contains(&image.0)).then_some(image.1);
        let model_source = (!self.models.contains(&model.0)).then_some(model.1);
        let (model, image) = (model.0, image.0);
        let request = Request {
            id,
            job,
            model: model_source.map(|s| (model, given_name(s))),
            image: image_pixels.map(|img| (image, img.width(), img.height())),
        };
        let header = serde_json::to_string(&request).map_err(|e| LanternError::Internal(e.to_string()))?;
        message.push(&JsValue::from_str(&header));
        message.push(&bytes_value(image_pixels.map(|img| img.as_raw().as_slice()), &transfer));
        let model_bytes = match model_source {
            Some(ModelSource::Given(file)) => Some(&file.bytes[..]),
            _ => None,
        };
        message.push(&bytes_value(model_bytes, &transfer));
        self.worker
            .post_message_with_transfer(&message, &transfer)
            .map_err(|e| LanternError::Device(format!("the page's compute worker took no message: {e:?}")))?;
        self.images.insert(image);
        self.models.insert(model);
        self.carried.insert(id, (model_source.map(|_| model), image_pixels.map(|_| image)));
        Ok(id)
    }
}

impl Drop for Offloader {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The name of a model file given to the page (`None` for the bundled demo).
fn given_name(source: &ModelSource) -> Option<String> {
    match source {
        ModelSource::Given(file) => Some(file.name.clone()),
        ModelSource::Demo | ModelSource::File(_) => None,
    }
}

/// `bytes` as a JavaScript array whose buffer is handed over to the worker (not copied twice),
/// or `null`.
fn bytes_value(bytes: Option<&[u8]>, transfer: &js_sys::Array) -> JsValue {
    match bytes {
        Some(b) => {
            let array = js_sys::Uint8Array::from(b);
            transfer.push(&array.buffer());
            array.into()
        }
        None => JsValue::NULL,
    }
}
