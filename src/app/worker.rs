//! The compute worker: one named background thread that owns the models, decoded images and
//! per-image explanation sessions (so activations are cached per image, model and layer). The UI
//! sends jobs and polls events; it never waits. For each view slot only the newest explain
//! request is kept, and a newer request cancels the one running for its slot.

use super::images::ImageSource;
use super::model::{ModelInfo, ModelSource};
use super::pair_jobs::{self, SimilarJob, SimilarKind, SimilarityInfo, SimilarityModels, SimilaritySource};
use crate::explain::{Control, Method, Params, Progress, Session, Target, Timing};
use crate::imaging::{self, Geometry};
use crate::map::boxes::{boxes_at, threshold_boxes};
use crate::map::{PixelBox, WeightMap};
use crate::models::Network;
use crate::models::generator::Generator;
use crate::models::scores::ranked;
use burn::tensor::Device;
use image::RgbImage;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Which view a result is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Main,
    Cell(usize),
    /// The small map of the `i`-th present label of a multi-label model (the inspector's list).
    Label(usize),
}

/// The layer tree the picker shows for an ONNX graph (see [`ModelInfo::layer_tree`]).
fn layer_tree(net: &crate::models::Network) -> Vec<(String, Vec<(String, String)>)> {
    let Some(graph) = net.graph() else { return Vec::new() };
    let mut tree: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (info, layer) in net.layers.iter().zip(&graph.layers) {
        let top = layer.scope.as_deref().and_then(|s| s.split('.').next()).unwrap_or("(model)").to_string();
        let layout = graph.layout(layer.value).map(|l| l.describe()).unwrap_or_default();
        let row = (info.name.clone(), format!("{:?} {layout}", layer.dims));
        match tree.last_mut() {
            Some((group, rows)) if *group == top => rows.push(row),
            _ => tree.push((top, vec![row])),
        }
    }
    tree
}

/// One explanation to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRequest {
    pub slot: Slot,
    pub token: u64,
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

/// What the worker reports.
#[derive(Debug)]
pub enum Event {
    ModelLoaded {
        id: u64,
        result: Result<ModelInfo, String>,
    },
    ImageLoaded {
        id: u64,
        result: Result<Arc<RgbImage>, String>,
    },
    Thumbnail {
        id: u64,
        result: Result<RgbImage, String>,
    },
    /// A dataset image's ground-truth mask.
    MaskLoaded {
        id: u64,
        result: Result<Arc<image::GrayImage>, String>,
    },
    /// A generator file was installed for model `id`: its name, or why it does not fit.
    GeneratorLoaded {
        id: u64,
        result: Result<String, String>,
    },
    Progress {
        slot: Slot,
        token: u64,
        done: usize,
        total: usize,
        partial: Option<Arc<WeightMap>>,
    },
    Explained {
        slot: Slot,
        token: u64,
        result: Result<ExplainOutput, String>,
    },
    /// Similarity models were loaded for id `id` (see [`pair_jobs`]).
    SimilarityLoaded {
        id: u64,
        result: Result<SimilarityInfo, String>,
    },
    SimilarProgress {
        kind: SimilarKind,
        token: u64,
        done: usize,
        total: usize,
    },
    PairExplained {
        token: u64,
        result: Result<pair_jobs::PairOutput, String>,
    },
    NeighboursFound {
        token: u64,
        result: Result<pair_jobs::Neighbours, String>,
    },
}

enum LoadJob {
    /// A model, read with `preprocess` instead of its own when given (what the user chose for an
    /// ONNX model that does not say).
    Model {
        id: u64,
        source: ModelSource,
        preprocess: Option<imaging::Preprocess>,
    },
    Image {
        id: u64,
        source: ImageSource,
        thumbnail: bool,
    },
    Mask {
        id: u64,
        source: crate::datasets::MaskSource,
    },
    Generator {
        id: u64,
        model: ModelSource,
        path: PathBuf,
    },
    /// Similarity models, with the app's open model (for an embedding read from it).
    Similarity {
        id: u64,
        source: SimilaritySource,
    },
}

#[derive(Default)]
struct Queue {
    loads: VecDeque<LoadJob>,
    explains: VecDeque<ExplainRequest>,
    running: Option<(Slot, Arc<AtomicBool>)>,
    /// Similarity jobs (the newest of each kind), after the explanations.
    similar: VecDeque<SimilarJob>,
    running_similar: Option<(SimilarKind, Arc<AtomicBool>)>,
    shutdown: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// Handle to the worker thread.
pub struct Worker {
    shared: Arc<Shared>,
    events: Receiver<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Start the worker; `repaint` is called whenever an event is sent.
    pub fn start(device: Device, repaint: impl Fn() + Send + 'static) -> Self {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new() });
        let (tx, events) = channel();
        let state = State {
            device,
            tx,
            repaint: Box::new(repaint),
            models: HashMap::new(),
            generators: HashMap::new(),
            images: HashMap::new(),
            sessions: VecDeque::new(),
            similarity: HashMap::new(),
            embeddings: HashMap::new(),
            pair_maps: None,
        };
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("lantern-worker".into())
            .spawn(move || run(thread_shared, state))
            .expect("the worker thread starts");
        Self { shared, events, thread: Some(thread) }
    }

    fn push(&self, f: impl FnOnce(&mut Queue)) {
        let mut q = self.shared.queue.lock().expect("worker queue lock");
        f(&mut q);
        self.shared.wake.notify_one();
    }

    pub fn load_model(&self, id: u64, source: ModelSource, preprocess: Option<imaging::Preprocess>) {
        self.push(|q| q.loads.push_back(LoadJob::Model { id, source, preprocess }));
    }

    pub fn load_image(&self, id: u64, source: ImageSource) {
        self.push(|q| q.loads.push_back(LoadJob::Image { id, source, thumbnail: false }));
    }

    pub fn load_mask(&self, id: u64, source: crate::datasets::MaskSource) {
        self.push(|q| q.loads.push_back(LoadJob::Mask { id, source }));
    }

    /// Use the generator file at `path` for model `id` (checked against the model's weights).
    pub fn load_generator(&self, id: u64, model: ModelSource, path: PathBuf) {
        self.push(|q| q.loads.push_back(LoadJob::Generator { id, model, path }));
    }

    pub fn load_thumbnail(&self, id: u64, source: ImageSource) {
        self.push(|q| q.loads.push_back(LoadJob::Image { id, source, thumbnail: true }));
    }

    /// Queue an explanation; an older pending request for the same slot is dropped, and one
    /// running for it is cancelled.
    pub fn explain(&self, request: ExplainRequest) {
        self.push(|q| {
            q.explains.retain(|r| r.slot != request.slot);
            if let Some((slot, cancel)) = &q.running
                && *slot == request.slot
            {
                cancel.store(true, Ordering::Relaxed);
            }
            q.explains.push_back(request);
        });
    }

    /// Cancel whatever runs for `slot` and drop its pending request.
    pub fn cancel(&self, slot: Slot) {
        self.push(|q| {
            q.explains.retain(|r| r.slot != slot);
            if let Some((s, cancel)) = &q.running
                && *s == slot
            {
                cancel.store(true, Ordering::Relaxed);
            }
        });
    }

    /// Load the similarity models of `source` as id `id`.
    pub fn load_similarity(&self, id: u64, source: SimilaritySource) {
        self.push(|q| q.loads.push_back(LoadJob::Similarity { id, source }));
    }

    /// Queue a similarity job; an older pending job of its kind is dropped, and one running is
    /// cancelled.
    pub fn similar(&self, job: SimilarJob) {
        self.push(|q| {
            let kind = job.kind();
            q.similar.retain(|j| j.kind() != kind);
            if let Some((k, cancel)) = &q.running_similar
                && *k == kind
            {
                cancel.store(true, Ordering::Relaxed);
            }
            q.similar.push_back(job);
        });
    }

    /// Cancel the similarity job of `kind` that runs and drop its pending one.
    pub fn cancel_similar(&self, kind: SimilarKind) {
        self.push(|q| {
            q.similar.retain(|j| j.kind() != kind);
            if let Some((k, cancel)) = &q.running_similar
                && *k == kind
            {
                cancel.store(true, Ordering::Relaxed);
            }
        });
    }

    /// Every event that arrived since the last call.
    pub fn poll(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Block until an event arrives or `timeout` passes (tests use this; the UI never does).
    pub fn wait(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.push(|q| {
            q.shutdown = true;
            if let Some((_, cancel)) = &q.running {
                cancel.store(true, Ordering::Relaxed);
            }
            if let Some((_, cancel)) = &q.running_similar {
                cancel.store(true, Ordering::Relaxed);
            }
        });
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    device: Device,
    tx: Sender<Event>,
    repaint: Box<dyn Fn() + Send>,
    models: HashMap<u64, Arc<Network>>,
    /// The weight-map generator of each model that has one.
    generators: HashMap<u64, Arc<Generator>>,
    images: HashMap<u64, Arc<RgbImage>>,
    /// Most recently used last; `(image, model)` and its session.
    sessions: VecDeque<((u64, u64), Session)>,
    /// Loaded similarity models by id.
    similarity: HashMap<u64, Arc<SimilarityModels>>,
    /// Gallery embeddings by similarity-model id and image source.
    embeddings: HashMap<u64, HashMap<ImageSource, Vec<f32>>>,
    /// The last pair's similarity maps.
    pair_maps: pair_jobs::PairMapsCache,
}

const SESSIONS_KEPT: usize = 8;

enum Next {
    Load(LoadJob),
    Explain(ExplainRequest, Arc<AtomicBool>),
    Similar(SimilarJob, Arc<AtomicBool>),
}

/// Who waits for a job, so a job that panicked can still be answered.
#[derive(Clone, Copy)]
enum Waiting {
    Model(u64),
    Image(u64),
    Thumbnail(u64),
    Mask(u64),
    Generator(u64),
    Explain(Slot, u64),
    Similarity(u64),
    Similar(SimilarKind, u64),
}

impl Waiting {
    fn of(next: &Next) -> Self {
        match next {
            Next::Load(LoadJob::Model { id, .. }) => Waiting::Model(*id),
            Next::Load(LoadJob::Image { id, thumbnail: false, .. }) => Waiting::Image(*id),
            Next::Load(LoadJob::Image { id, thumbnail: true, .. }) => Waiting::Thumbnail(*id),
            Next::Load(LoadJob::Mask { id, .. }) => Waiting::Mask(*id),
            Next::Load(LoadJob::Generator { id, .. }) => Waiting::Generator(*id),
            Next::Load(LoadJob::Similarity { id, .. }) => Waiting::Similarity(*id),
            Next::Explain(r, _) => Waiting::Explain(r.slot, r.token),
            Next::Similar(j, _) => Waiting::Similar(j.kind(), j.token()),
        }
    }

    /// The event that tells the waiter the job failed with `e`.
    fn failed(self, e: String) -> Event {
        match self {
            Waiting::Model(id) => Event::ModelLoaded { id, result: Err(e) },
            Waiting::Image(id) => Event::ImageLoaded { id, result: Err(e) },
            Waiting::Thumbnail(id) => Event::Thumbnail { id, result: Err(e) },
            Waiting::Mask(id) => Event::MaskLoaded { id, result: Err(e) },
            Waiting::Generator(id) => Event::GeneratorLoaded { id, result: Err(e) },
            Waiting::Explain(slot, token) => Event::Explained { slot, token, result: Err(e) },
            Waiting::Similarity(id) => Event::SimilarityLoaded { id, result: Err(e) },
            Waiting::Similar(SimilarKind::Pair, token) => Event::PairExplained { token, result: Err(e) },
            Waiting::Similar(SimilarKind::Neighbours, token) => Event::NeighboursFound { token, result: Err(e) },
        }
    }
}

fn run(shared: Arc<Shared>, mut state: State) {
    loop {
        let next = {
            let mut q = shared.queue.lock().expect("worker queue lock");
            q.running = None;
            q.running_similar = None;
            loop {
                if q.shutdown {
                    return;
                }
                if let Some(l) = q.loads.pop_front() {
                    break Next::Load(l);
                }
                if let Some(r) = q.explains.pop_front() {
                    let cancel = Arc::new(AtomicBool::new(false));
                    q.running = Some((r.slot, Arc::clone(&cancel)));
                    break Next::Explain(r, cancel);
                }
                if let Some(j) = q.similar.pop_front() {
                    let cancel = Arc::new(AtomicBool::new(false));
                    q.running_similar = Some((j.kind(), Arc::clone(&cancel)));
                    break Next::Similar(j, cancel);
                }
                q = shared.wake.wait(q).expect("worker queue lock");
            }
        };
        let waiting = Waiting::of(&next);
        let answer = guarded(waiting, || match next {
            Next::Load(load) => state.load(load),
            Next::Explain(r, cancel) => state.explain(r, &cancel),
            Next::Similar(j, cancel) => state.similar(j, &cancel),
        });
        if let Some(event) = answer {
            state.send(event);
        }
    }
}

/// Run one job. A panic in it must not take the worker down with it, and whoever waits for the
/// job gets an answer: the failure event returned here, the same a failed job sends.
fn guarded(waiting: Waiting, job: impl FnOnce()) -> Option<Event> {
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).err()?;
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Some(waiting.failed(format!("the background job failed unexpectedly: {what}")))
}

/// The size of a thumbnail that fits a `side x side` box and keeps the aspect ratio, at least
/// one pixel each way (a 10000 x 1 panorama must not become 96 x 0).
fn thumbnail_size(width: u32, height: u32, side: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let side = u64::from(side);
    let (tw, th) = if w >= h { (side, (side * h / w).max(1)) } else { ((side * w / h).max(1), side) };
    (tw as u32, th as u32)
}

/// The weight-map generator for a model: the bundled one for the demo, else
/// `<stem>.generator.safetensors` beside the weights file, checked against the classifier's hash.
/// Its name, or why there is none.
fn find_generator(source: &ModelSource, device: &Device) -> Result<(String, Generator), String> {
    match source {
        ModelSource::Demo => crate::models::demo::generator(device)
            .map(|g| ("bundled demo generator".to_string(), g))
            .map_err(|e| e.to_string()),
        ModelSource::File(p) => {
            let path = crate::models::generator::beside(p);
            if !path.is_file() {
                return Err(format!(
                    "no generator for this model: train one with `lantern train generator` (it is looked for as {})",
                    path.display()
                ));
            }
            generator_file(source, &path, device)
        }
    }
}

/// The generator file at `path`, checked against the weights of model `source`; its file name.
fn generator_file(
    source: &ModelSource,
    path: &std::path::Path,
    device: &Device,
) -> Result<(String, Generator), String> {
    let sha = match source {
        ModelSource::Demo => crate::digest::sha256_hex(crate::models::demo::WEIGHTS),
        ModelSource::File(p) => crate::digest::sha256_file(p).map_err(|e| format!("{}: {e}", p.display()))?,
    };
    let g = Generator::load_for(path, &sha, device).map_err(|e| e.to_string())?;
    Ok((path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned()), g))
}

impl State {
    fn send(&self, e: Event) {
        let _ = self.tx.send(e);
        (self.repaint)();
    }

    fn load(&mut self, load: LoadJob) {
        match load {
            LoadJob::Model { id, source, preprocess } => {
                let result = match &source {
                    ModelSource::Demo => {
                        crate::models::demo::network(&self.device).map(|n| (n, "demo classifier".to_string()))
                    }
                    ModelSource::File(p) => crate::models::load(p, None, &self.device).map(|n| {
                        (n, p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().to_string()))
                    }),
                };
                let result = result.map(|(mut net, name)| {
                    let asks_preprocess = net.graph().is_some_and(|g| !g.declares_preprocess);
                    if let Some(p) = preprocess {
                        net.preprocess = p;
                    }
                    let generator = find_generator(&source, &self.device);
                    let info = ModelInfo {
                        name,
                        arch: net.arch.clone(),
                        classes: net.classes(),
                        labels: (0..net.classes()).map(|c| net.labels.name(c)).collect(),
                        layers: net.layers.iter().map(|l| l.name.clone()).collect(),
                        default_layer: net.default_layer.clone(),
                        cam_layer: crate::explain::cam_layer(&net).map(String::from),
                        preprocess: net.preprocess.clone(),
                        output: net.output,
                        boost: net.boost(),
                        generator: generator.as_ref().map(|(name, _)| name.clone()).map_err(Clone::clone),
                        layer_tree: layer_tree(&net),
                        asks_preprocess,
                        unavailable: crate::explain::Method::ALL
                            .iter()
                            .filter_map(|&m| crate::explain::unavailable(&net, m).map(|why| (m, why)))
                            .collect(),
                    };
                    match generator {
                        Ok((_, g)) => self.generators.insert(id, Arc::new(g)),
                        Err(_) => self.generators.remove(&id),
                    };
                    self.models.insert(id, Arc::new(net));
                    self.sessions.retain(|((_, m), _)| *m != id);
                    info
                });
                self.send(Event::ModelLoaded { id, result: result.map_err(|e| e.to_string()) });
            }
            LoadJob::Image { id, source, thumbnail } => {
                let decoded = source.decode().map_err(|e| e.to_string());
                if thumbnail {
                    let small = decoded.map(|img| {
                        let (w, h) = thumbnail_size(img.width(), img.height(), 96);
                        image::imageops::thumbnail(&img, w, h)
                    });
                    self.send(Event::Thumbnail { id, result: small });
                } else {
                    let decoded = decoded.map(Arc::new);
                    if let Ok(img) = &decoded {
                        self.images.insert(id, Arc::clone(img));
                    }
                    self.send(Event::ImageLoaded { id, result: decoded });
                }
            }
            LoadJob::Mask { id, source } => {
                let result = source.load().map(Arc::new).map_err(|e| e.to_string());
                self.send(Event::MaskLoaded { id, result });
            }
            LoadJob::Generator { id, model, path } => {
                let result = generator_file(&model, &path, &self.device).map(|(name, g)| {
                    self.generators.insert(id, Arc::new(g));
                    // Cached sessions hold the generator they were made with.
                    self.sessions.retain(|((_, m), _)| *m != id);
                    name
                });
                self.send(Event::GeneratorLoaded { id, result });
            }
            LoadJob::Similarity { id, source } => {
                let open = match source.embedding {
                    pair_jobs::EmbeddingChoice::OpenModel(m) => self.models.get(&m).cloned(),
                    pair_jobs::EmbeddingChoice::File(_) => None,
                };
                let result = pair_jobs::load_models(&source, open.as_deref(), &self.device).map(|(models, info)| {
                    self.similarity.insert(id, Arc::new(models));
                    info
                });
                self.send(Event::SimilarityLoaded { id, result: result.map_err(|e| e.to_string()) });
            }
        }
    }

    /// A decoded image: the one the worker keeps for gallery image `id`, else decoded now.
    fn image(&self, id: u64, source: &ImageSource) -> crate::error::Result<Arc<RgbImage>> {
        match self.images.get(&id) {
            Some(img) => Ok(Arc::clone(img)),
            None => source.decode().map(Arc::new),
        }
    }

    /// Run a similarity job, reporting its progress.
    fn similar(&mut self, job: SimilarJob, cancel: &AtomicBool) {
        let (kind, token) = (job.kind(), job.token());
        let tx = self.tx.clone();
        let repaint = &self.repaint;
        let mut last = Instant::now();
        let mut forward = |p: Progress<'_>| {
            if p.done < p.total && last.elapsed() < Duration::from_millis(50) {
                return;
            }
            last = Instant::now();
            let _ = tx.send(Event::SimilarProgress { kind, token, done: p.done, total: p.total });
            repaint();
        };
        let mut control = Control::with_progress(cancel, &mut forward);
        match job {
            SimilarJob::Pair(j) => {
                let images = (self.image(j.query.0, &j.query.1), self.image(j.reference.0, &j.reference.1));
                let result = match (self.similarity.get(&j.models), images) {
                    (None, _) => Err("the similarity models are not loaded yet".to_string()),
                    (_, (Err(e), _) | (_, Err(e))) => Err(e.to_string()),
                    (Some(models), (Ok(q), Ok(r))) => {
                        pair_jobs::explain_pair(models, &q, &r, &j, &mut self.pair_maps, &mut control)
                            .map_err(|e| e.to_string())
                    }
                };
                self.send(Event::PairExplained { token, result });
            }
            SimilarJob::Neighbours(j) => {
                let result = match self.similarity.get(&j.models).cloned() {
                    None => Err("the similarity models are not loaded yet".to_string()),
                    Some(models) => {
                        let images = &self.images;
                        let read = |id: u64, s: &ImageSource| match images.get(&id) {
                            Some(img) => Ok(Arc::clone(img)),
                            None => s.decode().map(Arc::new),
                        };
                        let cache = self.embeddings.entry(j.models).or_default();
                        pair_jobs::find_neighbours(&models.embedding, &j, cache, &read, &mut control)
                            .map_err(|e| e.to_string())
                    }
                };
                self.send(Event::NeighboursFound { token, result });
            }
        }
    }

    fn explain(&mut self, r: ExplainRequest, cancel: &AtomicBool) {
        let start = Instant::now();
        let result = self.compute(&r, cancel);
        let result = result.map(|mut out| {
            out.milliseconds = start.elapsed().as_secs_f64() * 1000.0;
            out
        });
        self.send(Event::Explained { slot: r.slot, token: r.token, result });
    }

    fn compute(&mut self, r: &ExplainRequest, cancel: &AtomicBool) -> Result<ExplainOutput, String> {
        let geometry = {
            let img = self.images.get(&r.image).ok_or("the image is not loaded yet")?;
            let net = self.models.get(&r.model).ok_or("the model is not loaded yet")?;
            net.preprocess.geometry(img.width(), img.height())
        };
        let tx = self.tx.clone();
        let (slot, token) = (r.slot, r.token);
        let mut last = Instant::now();
        let mut on_progress = |p: Progress<'_>| {
            // At most ~20 updates a second: partial maps are copied to the UI thread.
            if p.done < p.total && last.elapsed() < Duration::from_millis(50) {
                return;
            }
            last = Instant::now();
            let _ = tx.send(Event::Progress {
                slot,
                token,
                done: p.done,
                total: p.total,
                partial: p.partial.cloned().map(Arc::new),
            });
        };
        let repaint = &self.repaint;
        let mut forward = |p: Progress<'_>| {
            on_progress(p);
            repaint();
        };
        let mut control = Control::with_progress(cancel, &mut forward);
        // Borrow juggling: the session needs &mut self, the callback borrows self.repaint.
        let sessions = &mut self.sessions;
        let models = &self.models;
        let generators = &self.generators;
        let images = &self.images;
        let key = (r.image, r.model);
        let pos = match sessions.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                let net = models.get(&r.model).ok_or("the model is not loaded yet")?;
                let img = images.get(&r.image).ok_or("the image is not loaded yet")?;
                if sessions.len() >= SESSIONS_KEPT {
                    sessions.pop_front();
                }
                let session = Session::new(Arc::clone(net), net.preprocess.tensor(img, &net.device()))
                    .with_generator(generators.get(&r.model).cloned());
                sessions.push_back((key, session));
                sessions.len() - 1
            }
        };
        let session = &mut sessions[pos].1;
        let logits = session.logits().to_vec();
        let class = r.target.resolve(&logits);
        let e =
            session.explain(r.method, class, r.layer.as_deref(), &r.params, &mut control).map_err(|e| e.to_string())?;
        let top = ranked(&session.network().output.probabilities(&logits), 10);
        let boxes = threshold_boxes(&e.map);
        Ok(ExplainOutput {
            map: Arc::new(e.map),
            boxes: Arc::new(boxes),
            top,
            class,
            method: r.method,
            layer: e.layer,
            milliseconds: 0.0,
            timing: e.timing,
            logits: Arc::new(logits),
            geometry,
            approximation: e.approximation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_job_is_answered_with_a_failure_for_its_waiter() {
        let event =
            guarded(Waiting::Explain(Slot::Main, 7), || panic!("the map was NaN")).expect("a panic is answered");
        match event {
            Event::Explained { slot: Slot::Main, token: 7, result: Err(e) } => {
                assert!(e.contains("the map was NaN"), "{e}")
            }
            _ => panic!("the explanation's waiter gets the failure"),
        }
        let event = guarded(Waiting::Mask(3), || panic!("{}", String::from("bad mask"))).expect("a panic is answered");
        assert!(matches!(event, Event::MaskLoaded { id: 3, result: Err(ref e) } if e.contains("bad mask")));
        assert!(guarded(Waiting::Model(1), || {}).is_none(), "a job that finishes answers for itself");
    }

    #[test]
    fn thumbnails_of_extreme_aspect_ratios_stay_inside_the_box_and_are_never_empty() {
        assert_eq!(thumbnail_size(10_000, 1, 96), (96, 1));
        assert_eq!(thumbnail_size(1, 10_000, 96), (1, 96));
        assert_eq!(thumbnail_size(200, 100, 96), (96, 48));
        assert_eq!(thumbnail_size(100, 200, 96), (48, 96));
        assert_eq!(thumbnail_size(0, 0, 96), (96, 96));
    }
}
