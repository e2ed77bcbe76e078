//! `lantern eval`: every method on every image of a dataset, the localisation and faithfulness
//! metrics, and a report. Each finished (image, method) pair is appended to `state.jsonl` in the
//! output folder, keyed on the run's settings ([`settings`]), so an interrupted run resumes where
//! it stopped and a changed run never mixes its rows with the old ones. Images and ground truth
//! are framed by a [`Protocol`] (wsolevaluation's by default); dataset classes become model
//! classes through a [`ClassMap`].

pub mod class_map;
pub mod multilabel;
pub mod plots;
pub mod protocol;
pub mod report;
pub mod settings;
pub mod shard;
pub mod similarity;
pub mod similarity_outfits;
pub mod stats;

pub use class_map::ClassMap;
pub use protocol::Protocol;
pub use settings::RunSettings;
pub use shard::Shard;

use crate::datasets::{Dataset, Sample};
use crate::error::{LanternError, Result};
use crate::explain::{Control, Method, Objective, Params, Session, Target};
use crate::imaging;
use crate::map::{BoxMode, WeightMap};
use crate::metrics::faithfulness::{self, Game, GameOptions};
use crate::metrics::wsol::{self, BoxAccuracy, PixelPrecision};
use crate::models::Network;
use crate::models::generator::Generator;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use web_time::Instant;

/// Smallest CAM threshold step: 1000 thresholds.
pub const MIN_INTERVAL: f64 = 0.001;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub methods: Vec<Method>,
    /// Layer for the CAM-family methods (default: the network's).
    pub layer: Option<String>,
    /// CAM threshold step (wsolevaluation: 0.01), from [`MIN_INTERVAL`] to below 1.
    pub interval: f64,
    /// Also run deletion and insertion (one model pass per `step` pixels).
    pub faithfulness: bool,
    /// Evaluate at most this many images (at least 1).
    pub limit: Option<usize>,
    /// Settings of the gradient and perturbation methods.
    pub params: Params,
    /// How images, boxes and masks are framed.
    pub protocol: Protocol,
    /// Dataset class to model class; `None`: the identity, allowed only when the counts agree.
    pub class_map: Option<ClassMap>,
    /// SHA-256 of the model's weights (part of the resume key).
    pub model_sha256: String,
    /// The dataset's format and folder (part of the resume key).
    pub dataset: String,
    /// Discard an earlier run's state in the output folder instead of resuming it.
    pub fresh: bool,
    /// The weight-map generator for the `generator` method, with the SHA-256 of its file (part
    /// of the resume key).
    pub generator: Option<(Arc<Generator>, String)>,
    /// Evaluate only this part of the (limited) dataset ([`shard`]); part of the resume key.
    pub shard: Option<Shard>,
}

/// Refuse an out-of-range `--interval` or `--limit` with the flag and its range.
pub fn check_numbers(interval: f64, limit: Option<usize>) -> Result<()> {
    if !(MIN_INTERVAL..1.0).contains(&interval) {
        return Err(LanternError::BadArgument(format!(
            "--interval must be from {MIN_INTERVAL} to below 1 (wsolevaluation uses 0.01), got {interval}"
        )));
    }
    if limit == Some(0) {
        return Err(LanternError::BadArgument("--limit must be at least 1".into()));
    }
    Ok(())
}

/// Everything measured for one (image, method) pair; one line of `state.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageResult {
    pub id: String,
    pub method: String,
    /// Ground-truth class in the dataset's numbering.
    pub class: Option<usize>,
    /// The model's top-1 class.
    pub predicted: usize,
    /// Model class the map explains: the ground-truth class through the class map when known
    /// (GT-known), else the prediction.
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
    /// [`RunSettings::key`] of the run that made the row (empty in rows of older versions).
    #[serde(default)]
    pub settings: String,
}

impl ImageResult {
    /// Whether the model's top-1 class is the ground truth (`None` without a known class).
    pub fn class_correct(&self) -> Option<bool> {
        self.class.map(|_| self.explained == self.predicted)
    }
}

/// What one sample is evaluated with.
struct Job<'a> {
    config: &'a EvalConfig,
    methods: Vec<Method>,
    layer: &'a str,
    thresholds: &'a [f64],
    classes: &'a ClassMap,
    key: &'a str,
}

/// Evaluate one sample with every method of `job`.
fn evaluate_sample(net: &Arc<Network>, sample: &Sample, job: &Job, cancel: &AtomicBool) -> Result<Vec<ImageResult>> {
    let config = job.config;
    let thresholds = job.thresholds;
    let image = imaging::load_image(&sample.image)?;
    let g = config.protocol.geometry(&net.preprocess, image.width(), image.height());
    let truth = protocol::truth_in_view(sample, &g)?;
    let x = net.preprocess.view_tensor(&g.view(&image), &net.device());
    let mut results = Vec::new();
    let mut session =
        Session::new(Arc::clone(net), x.clone()).with_generator(config.generator.as_ref().map(|(g, _)| Arc::clone(g)));
    let predicted = Target::Top1.resolve(session.logits());
    let explained = match sample.class {
        None => predicted,
        Some(c) => job
            .classes
            .get(Some(c))
            .ok_or_else(|| LanternError::Mismatch(format!("{}: dataset class {c} has no model class", sample.id)))?,
    };
    for &method in &job.methods {
        let start = Instant::now();
        let e = session.explain(method, explained, Some(job.layer), &config.params, &mut Control::new(cancel))?;
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
            let curve = |game| {
                let options = GameOptions { game, step, batch: 16 };
                faithfulness::causal_curve(net, &x, map, &objective, options, &mut Control::new(cancel))
            };
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
            settings: job.key.to_string(),
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
    let (results, clean) = parse_state(&text);
    if clean != text {
        crate::files::write_atomic(path, |f| f.write_all(clean.as_bytes()))?;
    }
    Ok(results)
}

/// The rows of a `state.jsonl` text, and the text without the lines that do not parse.
pub fn parse_state(text: &str) -> (Vec<ImageResult>, String) {
    let mut results = Vec::new();
    let mut clean = String::with_capacity(text.len());
    for line in text.lines() {
        if let Ok(r) = serde_json::from_str::<ImageResult>(line) {
            results.push(r);
            clean.push_str(line);
            clean.push('\n');
        }
    }
    (results, clean)
}

/// Discard the state of an earlier run in `out` (`--fresh`).
fn discard_state(out: &Path) -> Result<()> {
    for name in ["state.jsonl", "settings.json", shard::MANIFEST] {
        let path = out.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(LanternError::io(&path, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Run the evaluation; results go to `out/state.jsonl` as they are made. `progress(done, total)`
/// is called after each image. Refuses, before writing anything, a class map that does not fit
/// and an output folder whose state was made with other settings. Returns the results of this
/// run's images and methods, earlier runs' included, in dataset order and then `config.methods`
/// order (however the rows were made: at once, resumed or in shards).
pub fn run(
    net: &Arc<Network>,
    dataset: &Dataset,
    config: &EvalConfig,
    out: &Path,
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<ImageResult>> {
    check_numbers(config.interval, config.limit)?;
    if config.methods.is_empty() {
        return Err(LanternError::BadArgument("no method to evaluate".into()));
    }
    let samples: Vec<&Sample> = dataset.samples.iter().take(config.limit.unwrap_or(usize::MAX)).collect();
    let classes = ClassMap::resolve(config.class_map.clone(), &dataset.classes, net.classes(), &samples)?;
    let samples: Vec<&Sample> = match config.shard {
        None => samples,
        Some(shard) => shard_samples(shard, &samples).into_iter().map(|(_, s)| s).collect(),
    };
    let settings = RunSettings {
        model_sha256: config.model_sha256.clone(),
        arch: net.arch.clone(),
        preprocess: net.preprocess.clone(),
        dataset: config.dataset.clone(),
        protocol: config.protocol,
        layer: config.layer.clone().unwrap_or_else(|| net.default_layer.clone()),
        interval: config.interval,
        faithfulness: config.faithfulness,
        limit: config.limit,
        class_map: classes.model_class.clone(),
        params: settings::params_value(&config.params),
        generator_sha256: config.generator.as_ref().map(|(_, sha)| sha.clone()),
        shard: config.shard,
    };
    let key = settings.key();
    if config.fresh {
        discard_state(out)?;
    }
    let state_path = out.join("state.jsonl");
    let settings_path = out.join("settings.json");
    let earlier_rows = load_state(&state_path)?;
    let earlier: Option<serde_json::Value> =
        std::fs::read_to_string(&settings_path).ok().and_then(|t| serde_json::from_str(&t).ok());
    settings::check_state(&state_path, &earlier_rows, &settings, earlier.as_ref())?;
    std::fs::create_dir_all(out).map_err(|e| LanternError::io(out, e))?;
    crate::files::write_json(&settings_path, &settings)?;
    let wanted: HashSet<String> = config.methods.iter().map(|m| m.name().to_string()).collect();
    let ids: HashSet<&str> = samples.iter().map(|s| s.id.as_str()).collect();
    let mut results: Vec<ImageResult> =
        earlier_rows.into_iter().filter(|r| wanted.contains(&r.method) && ids.contains(r.id.as_str())).collect();
    let done: HashSet<(String, String)> = results.iter().map(|r| (r.id.clone(), r.method.clone())).collect();
    let mut state = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&state_path)
        .map_err(|e| LanternError::io(&state_path, e))?;
    let thresholds = wsol::cam_thresholds(config.interval);
    let total = samples.len();
    let place: std::collections::HashMap<&str, usize> =
        samples.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    for (i, sample) in samples.iter().enumerate() {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(LanternError::Cancelled);
        }
        let methods: Vec<Method> = config
            .methods
            .iter()
            .copied()
            .filter(|m| !done.contains(&(sample.id.clone(), m.name().to_string())))
            .collect();
        if !methods.is_empty() {
            let job =
                Job { config, methods, layer: &settings.layer, thresholds: &thresholds, classes: &classes, key: &key };
            for r in evaluate_sample(net, sample, &job, cancel)? {
                let line = serde_json::to_string(&r).expect("results serialise");
                writeln!(state, "{line}").and_then(|_| state.flush()).map_err(|e| LanternError::io(&state_path, e))?;
                // The report is made from the rows as `state.jsonl` holds them, as a resumed run
                // and a merge of shards read them: serde_json's float parsing is best-effort (it
                // may land one ulp off the written value), so a row kept as computed could give
                // a mean that differs in the last digit from theirs.
                results.push(serde_json::from_str(&line).expect("a row written here reads back"));
            }
        }
        progress(i + 1, total, &sample.id);
    }
    let order: Vec<String> = config.methods.iter().map(|m| m.name().to_string()).collect();
    results.sort_by_key(|r| (place[r.id.as_str()], order.iter().position(|m| *m == r.method)));
    Ok(results)
}

/// The samples of `shard` among `samples` (the dataset after `--limit`), with their places.
pub fn shard_samples<'a>(shard: Shard, samples: &[&'a Sample]) -> Vec<(usize, &'a Sample)> {
    let ids: Vec<&str> = samples.iter().map(|s| s.id.as_str()).collect();
    shard.select(&ids).into_iter().map(|i| (i, samples[i])).collect()
}
