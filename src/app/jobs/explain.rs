//! The explanation job: one method's map of the open image for one view, from the image's
//! cached session (activations are kept per image, model and layer).

use crate::app::worker::{Cache, Job};
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::explain::{Method, Params, Session, Target, Timing};
use crate::imaging::Geometry;
use crate::map::boxes::{boxes_at, threshold_boxes};
use crate::map::{PixelBox, WeightMap};
use crate::models::scores::ranked;
use std::sync::Arc;
use web_time::Instant;

/// Sessions kept (most recently used).
const SESSIONS_KEPT: usize = 8;

/// One explanation to compute.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExplainRequest {
    pub image: u64,
    pub model: u64,
    pub method: Method,
    pub target: Target,
    pub layer: Option<String>,
    pub params: Params,
}

/// The result of an explain request.
#[derive(Debug, Clone)]
pub struct ExplainOutput {
    pub map: Arc<WeightMap>,
    /// Boxes of every region above threshold `i / 100`, for `i` in `0..100`.
    pub boxes: Arc<Vec<Vec<PixelBox>>>,
    /// The ten most probable classes: `(class, probability)`.
    pub top: Vec<(usize, f32)>,
    pub class: usize,
    pub method: Method,
    pub layer: String,
    pub milliseconds: f64,
    /// The forward pass and the method's own time.
    pub timing: Timing,
    /// The model's whole output for the image (for exported records).
    pub logits: Arc<Vec<f32>>,
    pub geometry: Geometry,
    /// For an approximate method, what it skipped.
    pub approximation: Option<String>,
}

impl ExplainOutput {
    /// The predicted boxes at `threshold`, in map pixels.
    pub fn boxes_at(&self, threshold: f32) -> &[PixelBox] {
        boxes_at(&self.boxes, threshold)
    }

    /// The predicted boxes at `threshold`, in original-image pixels.
    pub fn boxes_in_original(&self, threshold: f32) -> Vec<PixelBox> {
        self.boxes_at(threshold)
            .iter()
            .map(|b| self.geometry.map_box_in_original(b, (self.map.width, self.map.height)))
            .collect()
    }
}

fn not_loaded(what: &str) -> LanternError {
    LanternError::Internal(format!("the {what} is not loaded yet"))
}

/// An [`ExplainOutput`] as it travels from the web page's compute worker: everything but the
/// boxes, which the page finds again from the map.
#[cfg(target_arch = "wasm32")]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Answer {
    map: WeightMap,
    top: Vec<(usize, f32)>,
    class: usize,
    method: Method,
    layer: String,
    milliseconds: f64,
    timing: Timing,
    logits: Vec<f32>,
    geometry: Geometry,
    approximation: Option<String>,
}

#[cfg(target_arch = "wasm32")]
impl Answer {
    pub fn of(o: ExplainOutput) -> Self {
        Self {
            map: Arc::unwrap_or_clone(o.map),
            top: o.top,
            class: o.class,
            method: o.method,
            layer: o.layer,
            milliseconds: o.milliseconds,
            timing: o.timing,
            logits: Arc::unwrap_or_clone(o.logits),
            geometry: o.geometry,
            approximation: o.approximation,
        }
    }

    /// The output from the answer's JSON text.
    pub fn decode(text: &str) -> Result<ExplainOutput> {
        let a: Answer = serde_json::from_str(text).map_err(|e| LanternError::Internal(format!("an answer: {e}")))?;
        let boxes = threshold_boxes(&a.map);
        Ok(ExplainOutput {
            map: Arc::new(a.map),
            boxes: Arc::new(boxes),
            top: a.top,
            class: a.class,
            method: a.method,
            layer: a.layer,
            milliseconds: a.milliseconds,
            timing: a.timing,
            logits: Arc::new(a.logits),
            geometry: a.geometry,
            approximation: a.approximation,
        })
    }
}

impl Job for ExplainRequest {
    type Output = ExplainOutput;

    /// On the web page, explanations run in the compute worker.
    #[cfg(target_arch = "wasm32")]
    fn offload(&self) -> Option<crate::app::offload::Offload<ExplainOutput>> {
        let job = serde_json::to_string(&super::Offloaded::Explain(self.clone())).ok()?;
        Some(crate::app::offload::Offload { job, model: self.model, image: self.image, decode: Answer::decode })
    }

    fn run(self, cache: &mut Cache, control: &mut Control) -> Result<ExplainOutput> {
        let start = Instant::now();
        let r = self;
        let net = cache.models.get(&r.model).ok_or_else(|| not_loaded("model"))?;
        let img = cache.images.get(&r.image).ok_or_else(|| not_loaded("image"))?;
        let geometry = net.preprocess.geometry(img.width(), img.height());
        let key = (r.image, r.model);
        let pos = match cache.sessions.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                if cache.sessions.len() >= SESSIONS_KEPT {
                    cache.sessions.pop_front();
                }
                let session = Session::new(Arc::clone(net), net.preprocess.tensor(img, &net.device()))
                    .with_generator(cache.generators.get(&r.model).cloned());
                cache.sessions.push_back((key, session));
                cache.sessions.len() - 1
            }
        };
        let session = &mut cache.sessions[pos].1;
        let logits = session.logits().to_vec();
        let class = r.target.resolve(&logits);
        let e = session.explain(r.method, class, r.layer.as_deref(), &r.params, control)?;
        let top = ranked(&session.network().output.probabilities(&logits), 10);
        let boxes = threshold_boxes(&e.map);
        Ok(ExplainOutput {
            map: Arc::new(e.map),
            boxes: Arc::new(boxes),
            top,
            class,
            method: r.method,
            layer: e.layer,
            milliseconds: start.elapsed().as_secs_f64() * 1000.0,
            timing: e.timing,
            logits: Arc::new(logits),
            geometry,
            approximation: e.approximation,
        })
    }
}
