//! The desktop explorer (eframe + egui, rendered through wgpu).
//!
//! Widgets never run models: they change [`Settings`] and the selection, and once per frame
//! [`LanternApp::reconcile`] turns the difference between what each view shows and what it should
//! show into requests for the [`worker::Worker`]. Overlay appearance is shader input only.

pub mod audit_mode;
mod canvas;
pub mod commands;
mod export;
pub mod gallery;
pub mod images;
mod labels_panel;
pub mod model;
mod overlay;
pub mod pair;
pub mod pair_jobs;
pub mod pair_view;
mod panels;
mod params_ui;
mod preprocess_prompt;
pub mod settings;
pub mod tasks;
pub mod theme;
mod toasts;
pub mod train_panel;
pub mod views;
pub mod worker;

use crate::device::ComputeDevice;
use crate::explain::{Method, Target};
use canvas::ViewTransform;
use commands::{Command, Commands};
use gallery::Gallery;
use model::{ModelInfo, ModelSource};
use settings::Settings;
use std::path::PathBuf;
use std::sync::Arc;
use tasks::{Outcome, Tasks};
use toasts::Toasts;
use worker::{Event, ExplainOutput, ExplainRequest, Slot, Worker};

/// What one view (the main canvas or a compare cell) shows and is waiting for.
#[derive(Default)]
pub struct ViewState {
    /// The request whose result is shown or awaited.
    pub requested: Option<ExplainRequest>,
    pub output: Option<ExplainOutput>,
    /// A partial map of a long method still running, with its progress.
    pub partial: Option<Arc<crate::map::WeightMap>>,
    pub progress: Option<(usize, usize)>,
    pub error: Option<String>,
    /// Changes whenever the map shown changes (keys the GPU upload).
    pub map_key: u64,
    /// A request was sent and its answer has not come back.
    pub pending: bool,
}

impl ViewState {
    pub fn running(&self) -> bool {
        self.pending
    }
}

/// The current model.
#[derive(Default)]
pub struct ModelState {
    pub id: u64,
    pub source: Option<ModelSource>,
    pub info: Option<ModelInfo>,
    pub loading: bool,
}

/// Most present labels listed (and compared) at once.
pub const MAX_LABELS: usize = 9;

/// The task that reads a dataset folder.
const OPEN_DATASET: &str = "open dataset";

/// How Lantern was started.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Images or folders to open instead of the demo images.
    pub paths: Vec<PathBuf>,
    /// A model file instead of the demo model.
    pub model: Option<PathBuf>,
}

pub struct LanternApp {
    pub settings: Settings,
    pub worker: Worker,
    pub compute: String,
    pub renderer: String,
    pub gpu: bool,
    pub model: ModelState,
    pub gallery: Gallery,
    pub main: ViewState,
    pub cells: Vec<ViewState>,
    /// The small maps of the present labels of a multi-label model.
    pub label_views: Vec<ViewState>,
    pub compare: bool,
    pub presentation: bool,
    pub transform: ViewTransform,
    pub target: Target,
    /// Layer explained (`None`: the model's default).
    pub layer: Option<String>,
    /// The text typed into the class search.
    pub class_filter: String,
    /// A layer to select once the model being loaded is ready (from the last session).
    pending_layer: Option<String>,
    /// An ONNX model that does not say how it reads images, and the answer being edited.
    pub preprocess_prompt: Option<(PathBuf, crate::imaging::Preprocess)>,
    pub toasts: Toasts,
    next_id: u64,
    next_token: u64,
    /// Hover readout: image pixel and map value.
    pub readout: Option<(u32, u32, Option<f32>)>,
    /// Named background tasks ("save all").
    pub tasks: Tasks,
    /// The open localisation audit, if any.
    pub audit: Option<audit_mode::AuditSession>,
    /// The dataset folder whose images are open, if any.
    pub dataset_dir: Option<PathBuf>,
    /// The Train panel (generator training).
    pub train: train_panel::TrainPanel,
    /// The Pair view and the Neighbours panel.
    pub similar: pair::SimilarState,
    /// What widgets asked for this frame.
    pub commands: Commands,
    /// Asks egui for a frame (from other threads).
    repaint: Arc<dyn Fn() + Send + Sync>,
    /// Whether the first explanation was announced (see `LANTERN_REPORT_FIRST`).
    reported_first: bool,
}

impl LanternApp {
    /// Build the app from eframe's creation context: pick the compute device (egui's own wgpu
    /// device when it is a hardware GPU, else burn's Flex CPU backend), install the overlay, load
    /// the persisted settings and start on the demo (or what `launch` names).
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> Self {
        let settings: Settings = cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY)).unwrap_or_default();
        let (compute, renderer, gpu) = match &cc.wgpu_render_state {
            Some(rs) => {
                overlay::OverlayRenderer::install(rs);
                let info = rs.adapter.get_info();
                let renderer = format!("wgpu {:?}: {}", info.backend, info.name);
                let compute = if info.device_type == eframe::wgpu::DeviceType::Cpu {
                    ComputeDevice::cpu()
                } else {
                    crate::device::share_wgpu(
                        rs.instance.clone(),
                        rs.adapter.clone(),
                        rs.device.clone(),
                        rs.queue.clone(),
                        info.backend,
                    )
                    .unwrap_or_else(|_| ComputeDevice::cpu())
                };
                (compute, renderer, true)
            }
            None => (ComputeDevice::cpu(), "egui (no wgpu renderer)".to_string(), false),
        };
        let ctx = cc.egui_ctx.clone();
        let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        let for_worker = Arc::clone(&repaint);
        let worker = Worker::start(compute.device.clone(), move || for_worker());
        let mut app = Self {
            settings,
            worker,
            compute: compute.description,
            renderer,
            gpu,
            model: ModelState::default(),
            gallery: Gallery::default(),
            main: ViewState::default(),
            cells: Vec::new(),
            label_views: Vec::new(),
            compare: false,
            presentation: false,
            transform: ViewTransform::default(),
            target: Target::Top1,
            layer: None,
            class_filter: String::new(),
            pending_layer: None,
            preprocess_prompt: None,
            toasts: Toasts::default(),
            next_id: 1,
            next_token: 1,
            readout: None,
            tasks: Tasks::default(),
            audit: None,
            dataset_dir: None,
            train: train_panel::TrainPanel::default(),
            similar: pair::SimilarState::default(),
            commands: Commands::default(),
            repaint,
            reported_first: false,
        };
        if launch.paths.is_empty() && launch.model.is_none() {
            let last = app.settings.last.clone();
            app.resume(&last);
        } else {
            app.open_model(launch.model.map_or(ModelSource::Demo, ModelSource::File));
            if launch.paths.is_empty() {
                app.gallery.set_demo(&mut app.next_id);
            } else {
                app.open_paths(launch.paths);
            }
        }
        app
    }

    /// Reopen what was open when the app last closed; what has gone missing falls back to the
    /// demo, with a message.
    pub fn resume(&mut self, last: &settings::Last) {
        match &last.model {
            Some(p) if p.is_file() => self.open_model(ModelSource::File(p.clone())),
            Some(p) => {
                self.toasts.error(format!("The last model, {}, is gone: opened the demo model.", p.display()));
                self.open_model(ModelSource::Demo);
            }
            None => self.open_model(ModelSource::Demo),
        }
        let (present, missing): (Vec<PathBuf>, Vec<PathBuf>) = last.paths.iter().cloned().partition(|p| p.exists());
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            self.toasts.error(format!("Gone since last time: {}", names.join(", ")));
        }
        if present.is_empty() {
            self.gallery.set_demo(&mut self.next_id);
            self.dataset_dir = None;
        } else {
            self.open_paths(present);
        }
        if self.gallery.len() == 0 {
            self.gallery.set_demo(&mut self.next_id);
            self.dataset_dir = None;
        }
        self.pending_layer = last.layer.clone();
    }

    /// A handle that asks for a frame, for background tasks.
    pub fn repaint_handle(&self) -> impl Fn() + Send + 'static {
        let repaint = Arc::clone(&self.repaint);
        move || repaint()
    }

    /// Apply what the widgets asked for this frame.
    pub fn apply_commands(&mut self, ctx: &egui::Context) {
        for command in self.commands.drain() {
            match command {
                Command::OpenPaths(paths) => self.open_paths(paths),
                Command::OpenModel(source) => self.open_model(source),
                Command::OpenDemo => {
                    self.open_model(ModelSource::Demo);
                    self.settings.last.paths.clear();
                    self.audit = None;
                    self.gallery.set_demo(&mut self.next_id);
                    self.dataset_dir = None;
                }
                Command::SelectMethod(m) => self.settings.method = m,
                Command::StepImage(delta) if self.audit.is_some() => audit_mode::step(self, delta),
                Command::StepImage(delta) => self.step_image(delta),
                Command::NewAudit { data, file } => audit_mode::create(self, data, file),
                Command::OpenAudit(path) => audit_mode::open(self, &path),
                Command::Verdict(kind) => audit_mode::record(self, kind),
                Command::NextUnaudited => audit_mode::next_unaudited(self),
                Command::SetAnnotator(name) => audit_mode::set_annotator(self, &name),
                Command::ExportView(dir) => export::export_current(self, &dir),
                Command::SaveAll(dir) => export::save_all(self, dir),
                Command::CancelMain => self.cancel(),
                Command::CancelTask(name) => {
                    self.tasks.running.iter().filter(|t| t.name == name).for_each(tasks::Task::cancel)
                }
                Command::TogglePresentation => self.toggle_presentation(ctx),
                Command::ToggleCompare => self.compare = !self.compare,
                Command::ToggleMap => self.settings.look.hidden = !self.settings.look.hidden,
                Command::FitView => self.transform.fit(),
                Command::ActualSize => self.transform.actual_size(ctx.pixels_per_point()),
                Command::ToggleNeighbours => self.similar.neighbours.open = !self.similar.neighbours.open,
                Command::OpenPair(reference) => pair::open_pair(self, reference),
                Command::ClosePair => self.similar.pair.open = false,
                Command::CancelPair => pair::cancel_pair(self),
                Command::CancelNeighbours => pair::cancel_neighbours(self),
            }
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn open_model(&mut self, source: ModelSource) {
        let id = self.fresh_id();
        if let ModelSource::File(p) = &source {
            self.settings.remember(p.clone());
        }
        self.settings.last.model = match &source {
            ModelSource::File(p) => Some(p.clone()),
            ModelSource::Demo => None,
        };
        self.model = ModelState { id, source: Some(source.clone()), info: None, loading: true };
        self.layer = None;
        self.target = Target::Top1;
        let remembered = match &source {
            ModelSource::File(p) => self.settings.preprocess_by_model.get(p).cloned(),
            ModelSource::Demo => None,
        };
        self.worker.load_model(id, source, remembered);
    }

    /// Open image files and folders (a model file among them is opened as the model).
    pub fn open_paths(&mut self, paths: Vec<PathBuf>) {
        let mut images = Vec::new();
        let mut opened = Vec::new();
        for p in paths {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            if ["pth", "pt", "safetensors", "onnx"].contains(&ext.as_str()) {
                self.open_model(ModelSource::File(p));
            } else if p.is_dir() && crate::datasets::Format::has_ground_truth_files(&p) {
                self.settings.remember(p.clone());
                self.open_dataset(p);
            } else if p.is_dir() {
                match crate::datasets::folder::images_in(&p) {
                    Ok(files) if !files.is_empty() => {
                        self.settings.remember(p.clone());
                        opened.push(p);
                        images.extend(files);
                    }
                    Ok(_) => self.toasts.error(format!("{}: no images in this folder", p.display())),
                    Err(e) => self.toasts.error(e.to_string()),
                }
            } else {
                self.settings.remember(p.clone());
                opened.push(p.clone());
                images.push(p);
            }
        }
        if !images.is_empty() {
            self.audit = None;
            self.settings.last.paths = opened;
            self.gallery.set_files(images, &mut self.next_id);
            self.dataset_dir = None;
            self.transform.fit();
        }
    }

    /// Read a dataset folder (its format detected) as a task; its images open with their ground
    /// truth when it is read.
    pub fn open_dataset(&mut self, dir: PathBuf) {
        let repaint = self.repaint_handle();
        let spawned = self.tasks.spawn(OPEN_DATASET, repaint, move |_control| {
            let format = crate::datasets::Format::detect(&dir);
            let dataset = crate::datasets::open(&dir, format)?;
            if dataset.samples.is_empty() {
                return Err(crate::error::LanternError::Invalid(format!(
                    "{}: the {format} dataset has no images",
                    dir.display()
                )));
            }
            let message = format!("{}: {} images with {format} ground truth", dir.display(), dataset.samples.len());
            Ok(tasks::Finished { message, payload: Some(Box::new((dir, dataset))) })
        });
        if let Err(e) = spawned {
            self.toasts.error(e.to_string());
        }
    }

    /// What `slot` should show now, if everything it needs is loaded.
    fn wanted(&self, slot: Slot) -> Option<ExplainRequest> {
        let info = self.model.info.as_ref()?;
        let image = self.gallery.current()?;
        if !image.loaded() {
            return None;
        }
        let mut method = self.settings.method;
        let mut target = self.target;
        let mut layer = self.layer.clone().or_else(|| Some(info.default_layer.clone()));
        match slot {
            Slot::Main => {}
            Slot::Cell(i) => match self.settings.compare_axis {
                settings::CompareAxis::Methods => method = *self.settings.compare_methods.get(i)?,
                settings::CompareAxis::Classes => target = Target::Class(*self.compared_classes().get(i)?),
                settings::CompareAxis::Layers => layer = Some(compare_layers(info).get(i)?.clone()),
            },
            Slot::Label(i) => target = Target::Class(self.present_labels().get(i)?.0),
        }
        Some(ExplainRequest {
            slot,
            token: 0,
            image: image.id,
            model: self.model.id,
            method,
            target,
            layer,
            params: self.settings.params.clone(),
        })
    }

    fn view_mut(&mut self, slot: Slot) -> Option<&mut ViewState> {
        match slot {
            Slot::Main => Some(&mut self.main),
            Slot::Cell(i) => self.cells.get_mut(i),
            Slot::Label(i) => self.label_views.get_mut(i),
        }
    }

    /// Whether the open model reads its outputs as independent labels.
    pub fn multilabel(&self) -> bool {
        self.model.info.as_ref().is_some_and(|i| i.output == crate::models::OutputKind::Sigmoid)
    }

    /// The labels a multi-label model finds present in the open image (probability at least
    /// the label threshold), most probable first, at most [`MAX_LABELS`]; empty for other models.
    pub fn present_labels(&self) -> Vec<(usize, f32)> {
        match &self.main.output {
            Some(o) if self.multilabel() => o
                .top
                .iter()
                .copied()
                .take_while(|&(_, p)| p >= self.settings.label_threshold)
                .take(MAX_LABELS)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The classes of the compare grid's class axis: every present label of a multi-label
    /// model, else the four most probable classes.
    pub fn compared_classes(&self) -> Vec<usize> {
        if self.multilabel() {
            return self.present_labels().into_iter().map(|(c, _)| c).collect();
        }
        self.main.output.as_ref().map_or_else(Vec::new, |o| o.top.iter().take(4).map(|t| t.0).collect())
    }

    /// Send a request for every view whose wanted content differs from what it asked for.
    pub fn reconcile(&mut self) {
        let cells = if self.compare { self.compare_len() } else { 0 };
        self.cells.resize_with(cells, ViewState::default);
        let labels = self.present_labels().len();
        self.label_views.resize_with(labels, ViewState::default);
        let slots: Vec<Slot> =
            std::iter::once(Slot::Main).chain((0..cells).map(Slot::Cell)).chain((0..labels).map(Slot::Label)).collect();
        // A view whose map belongs to another image or model shows nothing until its new map
        // comes (the new image may still be loading, so no request can be sent yet).
        let shown = (self.gallery.current().map(|i| i.id), self.model.id);
        for slot in &slots {
            let view = self.view_mut(*slot).expect("slot exists");
            if view.requested.as_ref().is_some_and(|r| (Some(r.image), r.model) != shown) {
                view.requested = None;
                view.output = None;
                view.partial = None;
                view.progress = None;
                view.pending = false;
                view.error = None;
            }
        }
        for slot in slots {
            let Some(mut want) = self.wanted(slot) else { continue };
            let current = self.view_mut(slot).and_then(|v| v.requested.clone());
            let same = current.as_ref().is_some_and(|c| ExplainRequest { token: 0, ..c.clone() } == want);
            if !same {
                self.next_token += 1;
                want.token = self.next_token;
                let view = self.view_mut(slot).expect("slot exists");
                view.requested = Some(want.clone());
                view.pending = true;
                view.progress = None;
                view.partial = None;
                view.error = None;
                self.worker.explain(want);
            }
        }
    }

    fn compare_len(&self) -> usize {
        match self.settings.compare_axis {
            settings::CompareAxis::Methods => self.settings.compare_methods.len(),
            settings::CompareAxis::Classes => self.compared_classes().len(),
            settings::CompareAxis::Layers => self.model.info.as_ref().map_or(0, |i| compare_layers(i).len()),
        }
    }

    /// Apply the worker's events.
    pub fn handle_events(&mut self) {
        for event in self.worker.poll() {
            let Some(event) = pair::handle(self, event) else { continue };
            match event {
                Event::ModelLoaded { id, result } if id == self.model.id => {
                    self.model.loading = false;
                    match result {
                        Ok(info) => {
                            // The layer of the last session, if this model has it.
                            if let Some(l) = self.pending_layer.take().filter(|l| info.layers.contains(l)) {
                                self.layer = Some(l);
                            }
                            if let Some(ModelSource::File(p)) = &self.model.source {
                                if info.asks_preprocess && !self.settings.preprocess_by_model.contains_key(p) {
                                    self.preprocess_prompt = Some((p.clone(), info.preprocess.clone()));
                                }
                            }
                            self.model.info = Some(info);
                        }
                        Err(e) => {
                            self.toasts.error(e);
                            if self.model.source != Some(ModelSource::Demo) {
                                self.open_model(ModelSource::Demo);
                            }
                        }
                    }
                }
                Event::ModelLoaded { .. } => {}
                Event::GeneratorLoaded { id, result } if id == self.model.id => {
                    train_panel::generator_installed(self, result)
                }
                Event::GeneratorLoaded { .. } => {}
                Event::ImageLoaded { id, result } => {
                    if let Err(e) = &result {
                        self.toasts.error(e.clone());
                    }
                    self.gallery.loaded(id, result);
                }
                Event::Thumbnail { id, result } => self.gallery.thumbnail(id, result),
                Event::MaskLoaded { id, result } => {
                    if let Err(e) = &result {
                        self.toasts.error(format!("ground-truth mask: {e}"));
                    }
                    self.gallery.mask_loaded(id, result);
                }
                Event::Progress { slot, token, done, total, partial } => {
                    let mut key = self.next_token;
                    if let Some(v) =
                        self.view_mut(slot).filter(|v| v.requested.as_ref().is_some_and(|r| r.token == token))
                    {
                        v.progress = Some((done, total));
                        if let Some(p) = partial {
                            key += 1;
                            v.partial = Some(p);
                            v.map_key = key;
                        }
                    }
                    self.next_token = key;
                }
                Event::Explained { slot, token, result } => {
                    let key = self.next_token + 1;
                    self.next_token = key;
                    let mut error = None;
                    let mut announce = None;
                    let mut remember = false;
                    if let Some(v) =
                        self.view_mut(slot).filter(|v| v.requested.as_ref().is_some_and(|r| r.token == token))
                    {
                        v.pending = false;
                        v.progress = None;
                        v.partial = None;
                        match result {
                            Ok(out) => {
                                if slot == Slot::Main {
                                    announce = Some(format!("{}, {:.0} ms", out.method.title(), out.milliseconds));
                                    remember = true;
                                }
                                v.output = Some(out);
                                v.error = None;
                                v.map_key = key;
                            }
                            Err(e) if e == "cancelled" => {}
                            Err(e) => {
                                v.error = Some(e.clone());
                                error = Some(e);
                            }
                        }
                    }
                    if let Some(e) = error {
                        self.toasts.error(e);
                    }
                    if remember && self.audit.is_some() {
                        audit_mode::remember_prediction(self);
                    }
                    // Scripts (tests/gui_smoke.sh) wait for this line.
                    if let Some(what) = announce
                        && !self.reported_first
                        && std::env::var_os("LANTERN_REPORT_FIRST").is_some()
                    {
                        println!("lantern: first explanation shown ({what})");
                        self.reported_first = true;
                    }
                }
                Event::SimilarityLoaded { .. }
                | Event::SimilarProgress { .. }
                | Event::PairExplained { .. }
                | Event::NeighboursFound { .. } => {}
            }
        }
    }

    /// Export what the main view shows (view PNG, map as .npy and 16-bit PNG, JSON) into `dir`.
    pub fn export_to(&mut self, dir: &std::path::Path) {
        export::export_current(self, dir);
    }

    /// Cancel the long method running in the main view.
    pub fn cancel(&mut self) {
        self.worker.cancel(Slot::Main);
        if self.main.pending {
            // Keep showing the last finished result. The request stays recorded, so it is not
            // sent again until something changes.
            self.main.pending = false;
            self.main.progress = None;
            self.main.partial = None;
            let title = self.main.requested.as_ref().map_or("", |r| r.method.title());
            self.main.error = Some(format!("{title} cancelled"));
        }
    }

    /// Report finished background tasks.
    fn poll_tasks(&mut self) {
        for (name, outcome, payload) in self.tasks.take_finished() {
            if name == train_panel::TASK {
                train_panel::finished(self, &outcome, payload);
                match outcome {
                    Outcome::Done(message) => self.toasts.note(message),
                    Outcome::Cancelled => {}
                    Outcome::Failed(e) => self.toasts.error(format!("{name}: {e}")),
                }
                continue;
            }
            if let Some(payload) = payload {
                match payload.downcast::<(PathBuf, crate::datasets::Dataset)>() {
                    Ok(opened) => {
                        let (dir, dataset) = *opened;
                        self.settings.last.paths = vec![dir.clone()];
                        self.dataset_dir = Some(dir);
                        self.audit = None;
                        self.gallery.set_dataset(dataset, &mut self.next_id);
                        self.transform.fit();
                    }
                    Err(other) => {
                        if let Ok(file) = other.downcast::<audit_mode::NewAuditFile>() {
                            audit_mode::open(self, &file.0);
                        }
                    }
                }
            }
            match outcome {
                Outcome::Done(message) => self.toasts.note(message),
                Outcome::Cancelled => self.toasts.note(format!("{name}: cancelled")),
                Outcome::Failed(e) => self.toasts.error(format!("{name}: {e}")),
            }
        }
    }

    /// Step through the images.
    pub fn step_image(&mut self, delta: isize) {
        if self.gallery.step(delta) {
            self.transform.fit();
        }
    }

    pub fn toggle_presentation(&mut self, ctx: &egui::Context) {
        self.presentation = !self.presentation;
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(self.presentation));
    }

    /// Keyboard shortcuts (ignored while a text field has focus).
    fn keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        use egui::Key;
        let pressed = |k: Key| ctx.input(|i| i.key_pressed(k));
        if pressed(Key::F11) || pressed(Key::P) || (self.presentation && pressed(Key::Escape)) {
            self.commands.push(Command::TogglePresentation);
        } else if self.similar.pair.open && pressed(Key::Escape) {
            self.commands.push(Command::ClosePair);
        }
        if pressed(Key::S) {
            self.commands.push(Command::ToggleNeighbours);
        }
        if pressed(Key::ArrowRight) || pressed(Key::PageDown) {
            self.commands.push(Command::StepImage(1));
        }
        if pressed(Key::ArrowLeft) || pressed(Key::PageUp) {
            self.commands.push(Command::StepImage(-1));
        }
        let digits =
            [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5, Key::Num6, Key::Num7, Key::Num8, Key::Num9];
        for (k, m) in digits.iter().zip(Method::quick()) {
            if pressed(*k) {
                self.commands.push(Command::SelectMethod(m));
            }
        }
        if self.audit.is_some() {
            for (key, kind) in [
                (Key::A, crate::audit::VerdictKind::Accept),
                (Key::R, crate::audit::VerdictKind::Reject),
                (Key::L, crate::audit::VerdictKind::Flag),
            ] {
                if pressed(key) {
                    self.commands.push(Command::Verdict(kind));
                }
            }
            if pressed(Key::N) {
                self.commands.push(Command::NextUnaudited);
            }
            if pressed(Key::B)
                && let Some(a) = self.audit.as_mut()
            {
                a.drawing = !a.drawing;
            }
        }
        if pressed(Key::F) {
            self.commands.push(Command::FitView);
        }
        if pressed(Key::Num0) {
            self.commands.push(Command::ActualSize);
        }
        if pressed(Key::C) {
            self.commands.push(Command::ToggleCompare);
        }
        if pressed(Key::M) {
            self.commands.push(Command::ToggleMap);
        }
    }
}

/// Layers offered in the compare grid: up to four, the default last.
fn compare_layers(info: &ModelInfo) -> Vec<String> {
    let distinct: Vec<&String> =
        info.layers.iter().filter(|l| !l.ends_with(char::is_alphabetic) || info.layers.len() < 8).collect();
    let n = distinct.len();
    let picks: Vec<String> = [n.saturating_sub(7), n.saturating_sub(5), n.saturating_sub(3), n.saturating_sub(1)]
        .iter()
        .filter_map(|&i| distinct.get(i).map(|s| s.to_string()))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for p in picks {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

impl eframe::App for LanternApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.handle_events();
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.commands.push(Command::OpenPaths(dropped));
        }
        self.keys(ctx);
        self.apply_commands(ctx);
        self.poll_tasks();
        self.gallery.request_loads(&self.worker);
        self.reconcile();
        pair::reconcile(self);
        if self.main.running()
            || self.cells.iter().chain(&self.label_views).any(ViewState::running)
            || !self.tasks.is_empty()
            || pair::running(self)
        {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        panels::apply_style(ui.ctx(), self.presentation);
        if !self.presentation {
            panels::menu_bar(self, ui, frame);
            panels::status_bar(self, ui);
            if self.settings.show_thumbnails && self.gallery.len() > 1 {
                panels::thumbnails(self, ui);
            }
            if self.settings.show_inspector {
                panels::inspector(self, ui);
            }
            if self.similar.neighbours.open {
                pair_view::neighbours_panel(self, ui);
            }
            let ctx = ui.ctx().clone();
            train_panel::window(self, &ctx);
            preprocess_prompt::window(self, &ctx);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.similar.pair.open && !self.presentation {
                pair_view::pair_view(self, ui, frame);
            } else if self.compare && !self.presentation {
                views::compare_grid(self, ui);
            } else {
                views::main_view(self, ui);
            }
        });
        let ctx = ui.ctx().clone();
        self.toasts.show(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.settings.last.layer = self.layer.clone();
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// Open the window and run until it is closed.
pub fn run(launch: Launch) -> eframe::Result {
    let mut setup = eframe::egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.device_descriptor = Arc::new(|adapter: &eframe::wgpu::Adapter| eframe::wgpu::DeviceDescriptor {
        label: Some("lantern"),
        required_features: adapter.features() - eframe::wgpu::Features::all_experimental_mask(),
        required_limits: adapter.limits(),
        ..Default::default()
    });
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Lantern")
            .with_app_id("lantern")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([640.0, 420.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    options.wgpu_options.wgpu_setup = setup.into();
    eframe::run_native("lantern", options, Box::new(move |cc| Ok(Box::new(LanternApp::new(cc, launch)))))
}
