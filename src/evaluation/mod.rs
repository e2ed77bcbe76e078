//! `lantern eval`: every method on every image of a dataset, the localisation and faithfulness
//! metrics, and a report. Each finished (image, method) pair is appended to `state.jsonl` in the
//! output folder, so an interrupted run resumes where it stopped.

pub mod plots;
pub mod report;

use crate::datasets::{Dataset, Sample};
use crate::error::{LanternError, Result};
use crate::explain::{Control, Method, Objective, Params, Session, Target};
use crate::imaging::{self, Geometry};
use crate::map::{BoxMode, PixelBox, WeightMap};
use crate::metrics::faithfulness::{self, Game};
use crate::metrics::wsol::{self, BoxAccuracy, PixelPrecision};
use crate::models::Network;
use image::GrayImage;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub methods: Vec<Method>,
    /// Layer for the CAM-family methods (default: the network's).
    pub layer: Option<String>,
    /// CAM threshold step (wsolevaluation: 0.01).
    pub interval: f64,
    /// Also run deletion and insertion (one model pass per `step` pixels).
    pub faithfulness: bool,
    /// Evaluate at most this many images.
    pub limit: Option<usize>,
    /// Settings of the gradient and perturbation methods.
    pub params: Params,
}

/// Everything measured for one (image, method) pair; one line of `state.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageResult {
    pub id: String,
    pub method: String,
    pub class: Option<usize>,
    pub predicted: usize,
    /// Class the map explains: the ground-truth class when known (GT-known), else the prediction.
    pub explained: usize,
    /// Best IoU per CAM threshold, largest region (empty without boxes).
    pub v1_ious: Vec<f64>,
    /// Best IoU per CAM threshold, every region.
    pub v2_ious: Vec<f64>,
    /// PxAP histograms of the map on foreground and background pixels (empty without a mask).
    pub foreground_hist: Vec<f64>,
    pub background_hist: Vec<f64>,
    pub pointing_hit: Option<bool>,
    pub relevance_mass: Option<f64>,
    pub deletion: Option<Vec<f32>>,
    pub insertion: Option<Vec<f32>>,
    pub milliseconds: f64,
}

/// Ground truth moved into the model input's frame.
struct Truth {
    boxes: Vec<PixelBox>,
    /// 1 foreground, 0 background, per model-input pixel.
    mask: Option<Vec<u8>>,
}

/// Map original-image boxes and mask into the crop the model sees.
fn truth_in_view(sample: &Sample, g: &Geometry) -> Result<Truth> {
    let sx = f64::from(g.resized.0) / f64::from(g.original.0);
    let sy = f64::from(g.resized.1) / f64::from(g.original.1);
    let (ox, oy) = (f64::from(g.crop_origin.0), f64::from(g.crop_origin.1));
    let (cw, ch) = g.crop_size;
    let boxes = sample
        .boxes
        .iter()
        .filter_map(|b| {
            let x0 = (f64::from(b.x0) * sx - ox).floor();
            let y0 = (f64::from(b.y0) * sy - oy).floor();
            let x1 = (f64::from(b.x1) * sx - ox).floor();
            let y1 = (f64::from(b.y1) * sy - oy).floor();
            if x1 < 0.0 || y1 < 0.0 || x0 >= f64::from(cw) || y0 >= f64::from(ch) {
                return None;
            }
            crate::datasets::clamp_box(x0, y0, x1, y1, cw, ch)
        })
        .collect();
    let mask = match &sample.mask {
        None => None,
        Some(source) => {
            let m: GrayImage = source.load()?;
            if m.dimensions() != g.original {
                return Err(LanternError::Invalid(format!(
                    "{}: mask is {}x{}, the image {}x{}",
                    sample.id, m.width(), m.height(), g.original.0, g.original.1
                )));
            }
            let resized = image::imageops::resize(&m, g.resized.0, g.resized.1, image::imageops::FilterType::Nearest);
            let view = image::imageops::crop_imm(&resized, g.crop_origin.0, g.crop_origin.1, cw, ch).to_image();
            Some(view.pixels().map(|p| u8::from(p.0[0] > 127)).collect())
        }
    };
    Ok(Truth { boxes, mask })
}

/// Evaluate one sample with every method.
fn evaluate_sample(net: &Arc<Network>, sample: &Sample, config: &EvalConfig, thresholds: &[f64], cancel: &AtomicBool) -> Result<Vec<ImageResult>> {
    let image = imaging::load_image(&sample.image)?;
    let g = net.preprocess.geometry(image.width(), image.height());
    let truth = truth_in_view(sample, &g)?;
    let x = net.preprocess.tensor(&image, &net.device());
    let layer = config.layer.clone().unwrap_or_else(|| net.default_layer.clone());
    let mut results = Vec::new();
    let mut session = Session::new(Arc::clone(net), x.clone());
    let predicted = Target::Top1.resolve(session.logits());
    let explained = sample.class.filter(|&c| c < net.classes()).unwrap_or(predicted);
    for &method in &config.methods {
        let start = Instant::now();
        let e = session.explain(method, explained, Some(&layer), &config.params, &mut Control::new(cancel))?;
        let map: &WeightMap = &e.map;
        let (mut v1, mut v2) = (Vec::new(), Vec::new());
        if !truth.boxes.is_empty() {
            v1 = BoxAccuracy::new(BoxMode::Largest, thresholds.to_vec(), vec![50]).best_ious(map, &truth.boxes);
            v2 = BoxAccuracy::new(BoxMode::All, thresholds.to_vec(), vec![50]).best_ious(map, &truth.boxes);
        }
        let (mut fg, mut bg, mut pointing, mut mass) = (Vec::new(), Vec::new(), None, None);
        if let Some(mask) = &truth.mask {
            let mut p = PixelPrecision::new(thresholds);
            p.add(map, mask);
            fg = p.foreground;
            bg = p.background;
            let inside: Vec<bool> = mask.iter().map(|&m| m == 1).collect();
            pointing = Some(wsol::pointing_game(map, &inside, 15));
            mass = Some(wsol::relevance_mass(map, &inside));
        }
        let (mut deletion, mut insertion) = (None, None);
        if config.faithfulness {
            let step = map.width;
            let objective = Objective::Class(explained);
            let curve = |game| faithfulness::causal_curve(net, &x, map, &objective, game, step, 16, &mut Control::new(cancel));
            deletion = Some(curve(Game::Deletion)?.scores);
            insertion = Some(curve(Game::Insertion)?.scores);
        }
        results.push(ImageResult {
            id: sample.id.clone(),
            method: method.name().to_string(),
            class: sample.class,
            predicted,
            explained,
            v1_ious: v1,
            v2_ious: v2,
            foreground_hist: fg,
            background_hist: bg,
            pointing_hit: pointing,
            relevance_mass: mass,
            deletion,
            insertion,
            milliseconds: start.elapsed().as_secs_f64() * 1000.0,
        });
    }
    Ok(results)
}

/// Results already in `state.jsonl`. Lines that do not parse (a torn last line from an
/// interrupted run) are dropped and the file is rewritten without them, so that new results are
/// appended on a line of their own.
pub fn load_state(path: &Path) -> Result<Vec<ImageResult>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| LanternError::io(path, e))?;
    let mut results = Vec::new();
    let mut clean = String::with_capacity(text.len());
    for line in text.lines() {
        if let Ok(r) = serde_json::from_str::<ImageResult>(line) {
            results.push(r);
            clean.push_str(line);
            clean.push('\n');
        }
    }
    if clean != text {
        crate::files::write_atomic(path, |f| f.write_all(clean.as_bytes()))?;
    }
    Ok(results)
}

/// Run the evaluation; results go to `out/state.jsonl` as they are made. `progress(done, total)`
/// is called after each image. Returns every result, earlier runs' included.
pub fn run(
    net: &Arc<Network>,
    dataset: &Dataset,
    config: &EvalConfig,
    out: &Path,
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<ImageResult>> {
    std::fs::create_dir_all(out).map_err(|e| LanternError::io(out, e))?;
    let state_path = out.join("state.jsonl");
    let mut results = load_state(&state_path)?;
    let done: HashSet<(String, String)> = results.iter().map(|r| (r.id.clone(), r.method.clone())).collect();
    let mut state = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&state_path)
        .map_err(|e| LanternError::io(&state_path, e))?;
    let thresholds = wsol::cam_thresholds(config.interval);
    let samples: Vec<&Sample> = dataset.samples.iter().take(config.limit.unwrap_or(usize::MAX)).collect();
    let total = samples.len();
    for (i, sample) in samples.into_iter().enumerate() {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(LanternError::Cancelled);
        }
        let todo: Vec<Method> =
            config.methods.iter().copied().filter(|m| !done.contains(&(sample.id.clone(), m.name().to_string()))).collect();
        if !todo.is_empty() {
            let sub = EvalConfig { methods: todo, ..config.clone() };
            for r in evaluate_sample(net, sample, &sub, &thresholds, cancel)? {
                let line = serde_json::to_string(&r).expect("results serialise");
                writeln!(state, "{line}").and_then(|_| state.flush()).map_err(|e| LanternError::io(&state_path, e))?;
                results.push(r);
            }
        }
        progress(i + 1, total, &sample.id);
    }
    Ok(results)
}
