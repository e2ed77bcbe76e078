//! The desktop explorer (eframe + egui, rendered through wgpu).
//!
//! Widgets never run models: they change [`Settings`] and the selection, and once per frame
//! [`LanternApp::reconcile`] turns the difference between what each view shows and what it should
//! show into requests for the [`worker::Worker`]. Overlay appearance is shader input only.

mod actions;
mod asking;
pub mod audit_mode;
mod canvas;
pub mod commands;
mod connect_window;
pub mod dialogs;
mod export;
pub mod gallery;
#[cfg(target_arch = "wasm32")]
mod given;
pub mod images;
pub mod jobs;
mod labels_panel;
pub mod lane;
pub mod live;
pub mod model;
#[cfg(target_arch = "wasm32")]
pub mod offload;
mod overlay;
pub mod pair;
pub mod pair_jobs;
pub mod pair_view;
mod panels;
mod params_ui;
pub mod path_prompt;
mod path_window;
mod preprocess_prompt;
pub mod remote;
pub mod settings;
pub mod state;
pub mod talk;
mod talk_bar;
pub mod tasks;
mod textures;
pub mod theme;
mod toasts;
pub mod train_panel;
mod train_view;
pub mod transform;
pub mod view_state;
pub mod views;
pub mod web_cuts;
pub mod worker;

use crate::device::ComputeDevice;
use crate::explain::{Method, Target};
use commands::{Command, Commands};
use gallery::Gallery;
use jobs::explain::ExplainRequest;
use jobs::{AppTasks, Event, TaskKind, TaskOutput};
use lane::{Finished, JobError};
use model::{ModelInfo, ModelSource, ModelState};
use settings::Settings;
pub use state::{AppState, MAX_LABELS, Machine};
use std::path::PathBuf;
use std::sync::Arc;
use toasts::Toasts;
use view_state::ViewState;
use worker::{LaneKey, Slot, Worker};

/// How Lantern was started.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Images or folders to open instead of the demo images.
    pub paths: Vec<PathBuf>,
    /// A model file instead of the demo model.
    pub model: Option<PathBuf>,
    /// An audit to open in audit mode (it names its own images and model).
    pub audit: Option<PathBuf>,
    /// A camera to show live (over the demo images, or what `paths` names).
    pub camera: Option<crate::camera::CameraChoice>,
    /// The method and parameters to start with, as `name=value` pairs (the web page's address;
    /// see [`Settings::apply_pairs`]).
    pub settings: Vec<(String, String)>,
}

/// The explorer. Its state changes only through its own methods: widgets push [`Command`]s,
/// applied once per frame, and the worker's and tasks' answers are applied as they come.
pub struct LanternApp {
    /// What the UI draws.
    state: AppState,
    worker: Worker<Event>,
    /// Background tasks ("save all", training, ...).
    tasks: AppTasks,
    /// What widgets asked for this frame.
    commands: Commands,
    /// The textures the panels make while drawing (see [`textures`]).
    textures: textures::Textures,
    next_id: u64,
    /// A layer to select once the model being loaded is ready (from the last session).
    pending_layer: Option<String>,
    /// Asks egui for a frame (from other threads).
    repaint: Arc<dyn Fn() + Send + Sync>,
    /// Whether the first explanation was announced (see `LANTERN_REPORT_FIRST`).
    reported_first: bool,
    /// The file dialog open, if one is.
    #[cfg(not(target_arch = "wasm32"))]
    dialogs: dialogs::Dialogs<path_prompt::PathRequest>,
    /// A dialog was found unable to show: paths are typed from then on.
    #[cfg(not(target_arch = "wasm32"))]
    no_dialogs: bool,
    /// The files given to the web page, being read.
    #[cfg(target_arch = "wasm32")]
    given: given::Given,
    /// The web page's title, as last set.
    #[cfg(target_arch = "wasm32")]
    page_title: String,
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
                    shared_gpu(rs)
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
            state: AppState::new(
                settings,
                Machine { local: compute.description.clone(), compute: compute.description, renderer, gpu },
            ),
            worker,
            tasks: AppTasks::default(),
            commands: Commands::default(),
            textures: textures::Textures::default(),
            next_id: 1,
            pending_layer: None,
            repaint,
            reported_first: false,
            #[cfg(not(target_arch = "wasm32"))]
            dialogs: dialogs::Dialogs::default(),
            #[cfg(not(target_arch = "wasm32"))]
            no_dialogs: false,
            #[cfg(target_arch = "wasm32")]
            given: given::Given::default(),
            #[cfg(target_arch = "wasm32")]
            page_title: String::new(),
        };
        for refused in app.state.settings.apply_pairs(&launch.settings) {
            app.state.toasts.error(refused);
        }
        if let Some(choice) = launch.camera {
            app.open_camera(choice);
        }
        if let Some(audit) = &launch.audit {
            actions::open(&mut app, audit);
        } else if launch.paths.is_empty() && launch.model.is_none() {
            let last = app.state.settings.last.clone();
            app.resume(&last);
        } else {
            app.open_model(launch.model.map_or(ModelSource::Demo, ModelSource::File));
            if launch.paths.is_empty() {
                app.state.gallery.set_demo(&mut app.next_id);
            } else {
                app.open_paths(launch.paths);
            }
        }
        app
    }

    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// The open model's id and source, and what is known of it once loaded.
    pub fn model(&self) -> &ModelState {
        &self.state.model
    }

    pub fn model_info(&self) -> Option<&ModelInfo> {
        self.state.model.info.as_ref()
    }

    pub fn gallery(&self) -> &Gallery {
        &self.state.gallery
    }

    /// The main view.
    pub fn main(&self) -> &ViewState {
        &self.state.main
    }

    /// The compare grid's cells.
    pub fn cells(&self) -> &[ViewState] {
        &self.state.cells
    }

    /// The small maps of a multi-label model's present labels.
    pub fn label_views(&self) -> &[ViewState] {
        &self.state.label_views
    }

    pub fn target(&self) -> Target {
        self.state.target
    }

    pub fn toasts(&self) -> &Toasts {
        &self.state.toasts
    }

    pub fn audit(&self) -> Option<&audit_mode::AuditSession> {
        self.state.audit.as_ref()
    }

    pub fn train(&self) -> &train_panel::TrainPanel {
        &self.state.train
    }

    pub fn similar(&self) -> &pair::SimilarState {
        &self.state.similar
    }

    pub fn tasks(&self) -> &AppTasks {
        &self.tasks
    }

    /// The open camera, in camera mode.
    pub fn camera(&self) -> Option<&live::LiveCamera> {
        self.state.camera.as_ref()
    }

    /// The question asked about an ONNX model that does not say how it reads images, with the
    /// answer being edited.
    pub fn preprocess_prompt(&self) -> Option<&(PathBuf, crate::imaging::Preprocess)> {
        self.state.preprocess_prompt.as_ref()
    }

    /// Whether frames are drawn by wgpu.
    pub fn gpu(&self) -> bool {
        self.state.machine.gpu
    }

    /// Everything the UI draws, read-only.
    pub fn ui_state(&self) -> &AppState {
        &self.state
    }

    /// Ask for `command`, applied with the widgets' at the next frame.
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Text that varies by machine (device names, timings, the pointer) fixed, for snapshots.
    pub fn steady_for_snapshots(&mut self) {
        self.state.readout = None;
        self.state.machine.compute = "CPU".into();
        self.state.machine.renderer = "wgpu".into();
        if let Some(o) = self.state.main.output_mut() {
            o.milliseconds = 10.0;
        }
    }

    /// Reopen what was open when the app last closed; what has gone missing falls back to the
    /// demo, with a message.
    pub fn resume(&mut self, last: &settings::Last) {
        match &last.model {
            Some(p) if p.is_file() => self.open_model(ModelSource::File(p.clone())),
            Some(p) => {
                self.state.toasts.error(format!("The last model, {}, is gone: opened the demo model.", p.display()));
                self.open_model(ModelSource::Demo);
            }
            None => self.open_model(ModelSource::Demo),
        }
        let (present, missing): (Vec<PathBuf>, Vec<PathBuf>) = last.paths.iter().cloned().partition(|p| p.exists());
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            self.state.toasts.error(format!("Gone since last time: {}", names.join(", ")));
        }
        if present.is_empty() {
            self.state.gallery.set_demo(&mut self.next_id);
            self.state.dataset_dir = None;
        } else {
            self.open_paths(present);
        }
        if self.state.gallery.is_empty() {
            self.state.gallery.set_demo(&mut self.next_id);
            self.state.dataset_dir = None;
        }
        self.pending_layer = last.layer.clone();
    }

    /// A handle that asks for a frame, for background tasks.
    fn repaint_handle(&self) -> impl Fn() + Send + 'static {
        let repaint = Arc::clone(&self.repaint);
        move || repaint()
    }

    /// Apply what the widgets asked for this frame.
    fn apply_commands(&mut self, ctx: &egui::Context) {
        for command in self.commands.drain() {
            self.apply(command, ctx);
        }
    }

    fn apply(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::AskPath(request) => asking::ask(self, request),
            Command::EditPathPrompt(text) => {
                if let Some(prompt) = self.state.path_prompt.as_mut() {
                    prompt.text = text;
                    prompt.refused = None;
                }
            }
            Command::AnswerPathPrompt => asking::answer_prompt(self, ctx),
            Command::ClosePathPrompt => self.state.path_prompt = None,
            Command::OpenPaths(paths) => self.open_paths(paths),
            Command::OpenGiven(files) => self.open_given(files),
            Command::OpenModel(source) => self.open_model(source),
            Command::OpenDemo => {
                self.open_model(ModelSource::Demo);
                self.state.settings.last.paths.clear();
                self.state.audit = None;
                self.state.gallery.set_demo(&mut self.next_id);
                self.state.dataset_dir = None;
            }
            Command::SelectMethod(m) => self.state.settings.method = m,
            Command::SetSettings(s) => self.state.settings = *s,
            Command::SetLook(look) => self.state.settings.look = look,
            Command::SetTransform(t) => self.state.transform = t,
            Command::SetPairTransform { side, transform } => {
                if let Some(t) = self.state.similar.pair.transforms.get_mut(side) {
                    *t = transform;
                }
            }
            Command::SetReadout(readout) => self.state.readout = readout,
            Command::SetClassFilter(text) => self.state.class_filter = text,
            Command::SetTarget(t) => self.state.target = t,
            Command::SetLayer(l) => self.state.layer = Some(l),
            Command::SelectImage(i) => {
                if self.state.gallery.select(i) {
                    self.state.transform.fit();
                }
            }
            Command::StepImage(delta) if self.state.audit.is_some() => actions::step(self, delta),
            Command::StepImage(delta) => self.step_image(delta),
            Command::NewAudit { data, file } => actions::create(self, data, file),
            Command::OpenAudit(path) => actions::open(self, &path),
            Command::Verdict(kind) => actions::record(self, kind),
            Command::NextUnaudited => actions::next_unaudited(self),
            Command::SetAnnotator(name) => actions::set_annotator(self, &name),
            Command::EditAudit(edit) => {
                if let Some(a) = self.state.audit.as_mut() {
                    a.edit = *edit;
                }
            }
            Command::ToggleDrawing => {
                if let Some(a) = self.state.audit.as_mut() {
                    a.edit.drawing = !a.edit.drawing;
                }
            }
            Command::ExportView(dir) => actions::export_current(self, &dir),
            Command::SaveAll(dir) => actions::save_all(self, dir),
            Command::ExportAnimation { sweep, file } => actions::export_animation(self, sweep, file),
            Command::CancelMain => self.cancel(),
            Command::CancelTask(kind) => self.tasks.cancel(kind),
            Command::TogglePresentation => self.toggle_presentation(ctx),
            Command::ToggleCompare => self.state.compare = !self.state.compare,
            Command::ShowCompare(on) => self.state.compare = on,
            Command::ToggleMap => self.state.settings.look.hidden = !self.state.settings.look.hidden,
            Command::FitView => self.state.transform.fit(),
            Command::ActualSize => self.state.transform.actual_size(ctx.pixels_per_point()),
            Command::ToggleNeighbours => self.state.similar.neighbours.open = !self.state.similar.neighbours.open,
            Command::OpenPair(reference) => self.state.similar.open_pair(reference),
            Command::ClosePair => self.state.similar.pair.open = false,
            Command::ShowPair(on) => self.state.similar.pair.open = on && self.state.similar.pair.reference.is_some(),
            Command::SetPairControls(c) => self.state.similar.pair.controls = c,
            Command::SetNeighboursShown(k) => self.state.similar.neighbours.k = k,
            Command::ChooseSimilarityModels(chosen) => self.state.similar.models.chosen = chosen,
            Command::CancelPair => self.state.similar.cancel_pair(&self.worker),
            Command::CancelNeighbours => self.state.similar.cancel_neighbours(&self.worker),
            Command::ShowTrain(open) => self.state.train.settings.open = open,
            Command::SetTrainSettings(t) => self.state.train.settings = *t,
            Command::StartTraining => self.start_training(),
            Command::PauseTraining => self.state.train.pause(&self.tasks),
            Command::ResumeTraining => self.run_training(),
            Command::CancelTraining => {
                if let Err(e) = self.state.train.cancel(&self.tasks) {
                    self.state.toasts.error(e.to_string());
                }
            }
            Command::EditPreprocessAnswer(p) => {
                if let Some((_, answer)) = self.state.preprocess_prompt.as_mut() {
                    *answer = p;
                }
            }
            Command::AnswerPreprocess => {
                if let Some((path, answer)) = self.state.preprocess_prompt.take() {
                    self.state.settings.preprocess_by_model.insert(path.clone(), answer);
                    self.open_model(ModelSource::File(path));
                }
            }
            Command::ShowConnect(on) => self.state.remote.form = on.then(|| self.state.settings.server.clone()),
            Command::EditConnect(choice) => {
                if self.state.remote.form.is_some() {
                    self.state.remote.form = Some(choice);
                }
            }
            Command::SetTokenFile(path) => {
                if let Some(form) = self.state.remote.form.as_mut() {
                    form.token_file = path;
                }
            }
            Command::Connect => self.connect(),
            Command::Disconnect => {
                self.worker.load(jobs::device::UseDevice(None), Event::DeviceChanged);
            }
            Command::OpenPlaylist(path) => self.open_playlist(&path),
            Command::StepPlaylist(delta) => {
                if self.state.talk.as_mut().is_some_and(|t| t.advance(delta)) {
                    self.show_step();
                }
            }
            Command::ClosePlaylist => self.state.talk = None,
            Command::OpenCamera(choice) => self.open_camera(choice),
            Command::FreezeCamera => self.freeze_camera(),
            Command::CloseCamera => self.close_camera(),
        }
    }

    /// Enter camera mode on `choice` (its capture thread opens it; a camera that cannot be
    /// opened is said by [`Self::feed_camera`]).
    fn open_camera(&mut self, choice: crate::camera::CameraChoice) {
        self.close_camera();
        let repaint = self.repaint_handle();
        self.state.camera = Some(live::LiveCamera::open(choice, repaint));
        self.state.transform.fit();
    }

    /// Leave camera mode; the frame being explained is cancelled.
    fn close_camera(&mut self) {
        if self.state.camera.take().is_some() {
            self.worker.cancel(LaneKey::Camera);
            self.state.transform.fit();
        }
    }

    /// Keep the frame on screen as an open image, shown and explained like any other, and leave
    /// camera mode.
    fn freeze_camera(&mut self) {
        let Some(frame) = self.state.camera.as_ref().and_then(|c| c.shown()).map(|s| s.frame.clone()) else {
            return self.state.toasts.error("No camera frame to keep yet.");
        };
        self.close_camera();
        let name = format!("camera-frame-{}.png", frame.index);
        self.state.toasts.note(format!("Kept {name} as an image"));
        self.state.audit = None;
        self.state.gallery.push(images::ImageSource::Captured { name, image: frame.image }, &mut self.next_id);
    }

    /// In camera mode: show the newest frame, and when the worker is free, send it the newest
    /// frame nobody explained. A camera that failed is said (in the window and on standard
    /// error) and camera mode ends.
    fn feed_camera(&mut self) {
        let Some(camera) = self.state.camera.as_mut() else { return };
        if let Some(reason) = camera.failed() {
            eprintln!("lantern: {reason}");
            self.state.toasts.error(reason);
            return self.close_camera();
        }
        camera.refresh();
        if camera.pending() {
            return;
        }
        let id = self.fresh_id();
        let Some(request) = self.request_for(id) else { return };
        let Some(camera) = self.state.camera.as_mut() else { return };
        let Some(frame) = camera.next_to_explain() else { return };
        let token = camera.request(frame.index);
        let job = jobs::camera::ExplainFrame { frame, request };
        self.worker.submit(LaneKey::Camera, token, job, move |result| Event::FrameExplained { token, result });
    }

    /// Open a talk's playlist: its model (when another is open), its images, its first step.
    fn open_playlist(&mut self, path: &std::path::Path) {
        let playlist = match crate::playlist::Playlist::read(path) {
            Ok(p) => p,
            Err(e) => return self.state.toasts.error(e.to_string()),
        };
        let model = playlist.model.clone().map_or(ModelSource::Demo, ModelSource::File);
        if self.state.model.source.as_ref() != Some(&model) {
            self.open_model(model);
        }
        self.state.audit = None;
        self.state.dataset_dir = None;
        self.state.gallery.set_files(playlist.images(), &mut self.next_id);
        self.state.settings.remember(path.to_path_buf());
        self.state.talk = Some(talk::Talk::new(playlist));
        self.show_step();
    }

    /// Show the playlist's current step: its image and method now, its layer and class once the
    /// model is loaded ([`Self::settle_step`]).
    fn show_step(&mut self) {
        let Some(talk) = &self.state.talk else { return };
        let step = talk.step().clone();
        let source = images::ImageSource::File(step.image);
        if let Some(i) = self.state.gallery.images.iter().position(|g| g.source == source)
            && self.state.gallery.select(i)
        {
            self.state.transform.fit();
        }
        self.state.settings.method = step.method;
        self.settle_step();
    }

    /// Apply the current step's layer and class once the model says which it has; a layer or
    /// class the model lacks is said, and its default used.
    fn settle_step(&mut self) {
        let Some(talk) = self.state.talk.as_mut().filter(|t| t.waiting_for_model) else { return };
        let Some(info) = self.state.model.info.as_ref().filter(|_| !self.state.model.loading) else { return };
        talk.waiting_for_model = false;
        let (n, step) = (talk.index + 1, talk.step());
        self.state.layer = match &step.layer {
            Some(l) if info.layers.contains(l) => Some(l.clone()),
            Some(l) => {
                self.state.toasts.error(format!("step {n}: the model has no layer {l}: its default is shown"));
                None
            }
            None => None,
        };
        self.state.target = match step.class.as_ref().map(|c| (c, c.resolve(&info.labels))) {
            Some((_, Some(class))) => Target::Class(class),
            Some((c, None)) => {
                self.state.toasts.error(format!("step {n}: the model has no {c}: its top class is shown"));
                Target::Top1
            }
            None => Target::Top1,
        };
    }

    /// Connect to the server the window names, as a task: the worker goes on computing locally
    /// until the server answers, then switches to it.
    fn connect(&mut self) {
        let Some(choice) = self.state.remote.form.take() else { return };
        #[cfg(target_arch = "wasm32")]
        self.state.toasts.error(format!("{}: {}", choice.address, web_cuts::NO_SERVERS));
        #[cfg(not(target_arch = "wasm32"))]
        {
            if self.state.remote.connecting().is_some() {
                return self.state.toasts.error("Already connecting to a server.");
            }
            self.state.settings.server = choice.clone();
            self.state.remote.link = remote::Link::Connecting(choice.address.trim().to_string());
            let repaint = self.repaint_handle();
            let spawned = self.tasks.spawn(TaskKind::Connect, repaint, move |control| {
                jobs::device::connect(&choice.address, &choice.token_file, control).map(TaskOutput::Connected)
            });
            if let Err(e) = spawned {
                self.state.remote.link = remote::Link::Local;
                self.state.toasts.error(e.to_string());
            }
        }
    }

    /// The worker computes on another device (`server`, or the local one): what was loaded on
    /// the old one is loaded again, keeping the layer and class; images and settings stay.
    fn device_changed(&mut self, server: Option<String>) {
        self.state.machine.compute = server.clone().unwrap_or_else(|| self.state.machine.local.clone());
        self.state.remote.changed(server);
        self.state.similar.forget_models();
        if let Some(source) = self.state.model.source.clone() {
            let (layer, target) = (self.state.layer.clone(), self.state.target);
            self.open_model(source);
            self.pending_layer = layer;
            self.state.target = target;
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn open_model(&mut self, source: ModelSource) {
        let id = self.fresh_id();
        if let ModelSource::File(p) = &source {
            self.state.settings.remember(p.clone());
        }
        self.state.settings.last.model = match &source {
            ModelSource::File(p) => Some(p.clone()),
            ModelSource::Demo | ModelSource::Given(_) => None,
        };
        self.state.model =
            ModelState { id, source: Some(source.clone()), info: None, loading: true, installed_generator: None };
        self.state.layer = None;
        self.state.target = Target::Top1;
        let remembered = match &source {
            ModelSource::File(p) => self.state.settings.preprocess_by_model.get(p).cloned(),
            ModelSource::Demo | ModelSource::Given(_) => None,
        };
        let job = jobs::model::LoadModel { id, source, preprocess: remembered };
        self.worker.load(job, move |result| Event::ModelLoaded { id, result });
    }
    /// The web page's title (its tab) says what the main view shows: the model, image and method,
    /// with the time it took (and "on WebGPU" when the compute worker computes there) or, while it
    /// computes, how far it has got (tests/web_smoke.sh reads it). The compute worker's device
    /// is taken into the machine's description here.
    #[cfg(target_arch = "wasm32")]
    fn show_in_page_title(&mut self) {
        // Where the compute worker computes, once it says (the explanations run there).
        let on_gpu = match self.worker.compute_device() {
            Some((device, gpu)) => {
                self.state.machine.compute = device;
                gpu
            }
            None => false,
        };
        let main = &self.state.main;
        let model = self.state.model.info.as_ref().map(|i| i.name.as_str()).unwrap_or_default();
        let image = self.state.gallery.current().map(|i| i.name()).unwrap_or_default();
        let shown = format!("Lantern · {model} · {image}");
        let title = match (main.requested(), main.progress(), main.output()) {
            (Some(r), Some((done, total)), _) if main.pending() && total > 0 => {
                format!("{shown}: {} {} %", r.method.title(), done * 100 / total)
            }
            (Some(r), _, _) if main.pending() => format!("{shown}: {}…", r.method.title()),
            (_, _, Some(out)) => {
                let on = if on_gpu { " on WebGPU" } else { "" };
                format!("{shown}: {} in {:.0} ms{on}", out.method.title(), out.milliseconds)
            }
            _ => "Lantern".to_string(),
        };
        if title != self.page_title
            && let Some(document) = web_sys::window().and_then(|w| w.document())
        {
            document.set_title(&title);
            self.page_title = title;
        }
    }

    /// Open the files given to the web page that were read since the last frame.
    #[cfg(target_arch = "wasm32")]
    fn poll_given(&mut self) {
        let (files, errors) = self.given.poll();
        errors.into_iter().for_each(|e| self.state.toasts.error(e));
        if !files.is_empty() {
            self.commands.push(Command::OpenGiven(files));
        }
    }

    /// Open files given to the web page: an ONNX or safetensors model as the model, images as the
    /// gallery.
    pub fn open_given(&mut self, files: Vec<images::FileBytes>) {
        let mut images = Vec::new();
        for file in files {
            let path = std::path::Path::new(&file.name);
            // A PyTorch checkpoint goes to the model too, for its loader's reason why it cannot open here.
            if crate::models::is_model_file(path) {
                self.open_model(ModelSource::Given(file));
            } else if crate::datasets::folder::is_image(path) {
                images.push(file);
            } else {
                self.state.toasts.error(format!(
                    "{}: the web page opens images, ONNX and safetensors models only (no playlists, datasets or \
                     audits)",
                    file.name
                ));
            }
        }
        if !images.is_empty() {
            self.state.audit = None;
            self.state.gallery.set(images.into_iter().map(images::ImageSource::Given).collect(), &mut self.next_id);
            self.state.dataset_dir = None;
            self.state.transform.fit();
        }
    }

    /// Open image files and folders (a model file among them is opened as the model, a `.toml`
    /// file as a talk's playlist).
    pub fn open_paths(&mut self, paths: Vec<PathBuf>) {
        let mut images = Vec::new();
        let mut opened = Vec::new();
        for p in paths {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            if crate::models::is_model_file(&p) {
                self.open_model(ModelSource::File(p));
            } else if ext == "toml" {
                self.open_playlist(&p);
            } else if p.is_dir() && crate::datasets::Format::has_ground_truth_files(&p) {
                self.state.settings.remember(p.clone());
                self.open_dataset(p);
            } else if p.is_dir() {
                match crate::datasets::folder::images_in(&p) {
                    Ok(files) if !files.is_empty() => {
                        self.state.settings.remember(p.clone());
                        opened.push(p);
                        images.extend(files);
                    }
                    Ok(_) => self.state.toasts.error(format!("{}: no images in this folder", p.display())),
                    Err(e) => self.state.toasts.error(e.to_string()),
                }
            } else {
                self.state.settings.remember(p.clone());
                opened.push(p.clone());
                images.push(p);
            }
        }
        if !images.is_empty() {
            self.state.audit = None;
            self.state.settings.last.paths = opened;
            self.state.gallery.set_files(images, &mut self.next_id);
            self.state.dataset_dir = None;
            self.state.transform.fit();
        }
    }

    /// Read a dataset folder (its format detected) as a task; its images open with their ground
    /// truth when it is read.
    fn open_dataset(&mut self, dir: PathBuf) {
        let repaint = self.repaint_handle();
        let spawned = self.tasks.spawn(TaskKind::OpenDataset, repaint, move |_control| {
            jobs::dataset::open(dir).map(TaskOutput::DatasetOpened)
        });
        if let Err(e) = spawned {
            self.state.toasts.error(e.to_string());
        }
    }

    /// The main view's explanation of image `image` with the chosen method, class, layer and
    /// parameters, once the model is loaded.
    fn request_for(&self, image: u64) -> Option<ExplainRequest> {
        let info = self.state.model.info.as_ref()?;
        Some(ExplainRequest {
            image,
            model: self.state.model.id,
            method: self.state.settings.method,
            target: self.state.target,
            layer: self.state.layer.clone().or_else(|| Some(info.default_layer.clone())),
            params: self.state.settings.params.clone(),
        })
    }

    /// What `slot` should show now, if everything it needs is loaded.
    fn wanted(&self, slot: Slot) -> Option<ExplainRequest> {
        let image = self.state.gallery.current()?;
        if !image.loaded() {
            return None;
        }
        let mut want = self.request_for(image.id)?;
        match slot {
            Slot::Main => {}
            Slot::Cell(i) => match self.state.settings.compare_axis {
                settings::CompareAxis::Methods => want.method = *self.state.settings.compare_methods.get(i)?,
                settings::CompareAxis::Classes => want.target = Target::Class(*self.compared_classes().get(i)?),
                settings::CompareAxis::Layers => {
                    let info = self.state.model.info.as_ref()?;
                    want.layer = Some(state::compare_layers(info).get(i)?.clone());
                }
            },
            Slot::Label(i) => want.target = Target::Class(self.present_labels().get(i)?.0),
        }
        Some(want)
    }

    fn view_mut(&mut self, slot: Slot) -> Option<&mut ViewState> {
        match slot {
            Slot::Main => Some(&mut self.state.main),
            Slot::Cell(i) => self.state.cells.get_mut(i),
            Slot::Label(i) => self.state.label_views.get_mut(i),
        }
    }

    /// Whether the open model reads its outputs as independent labels.
    pub fn multilabel(&self) -> bool {
        self.state.multilabel()
    }

    /// The labels a multi-label model finds present in the open image (see
    /// [`AppState::present_labels`]).
    pub fn present_labels(&self) -> Vec<(usize, f32)> {
        self.state.present_labels()
    }

    fn compared_classes(&self) -> Vec<usize> {
        self.state.compared_classes()
    }

    fn compare_len(&self) -> usize {
        self.state.compare_len()
    }
}

impl LanternApp {
    /// Send a request for every view whose wanted content differs from what it asked for.
    fn reconcile(&mut self) {
        let cells = if self.state.compare { self.compare_len() } else { 0 };
        self.state.cells.resize_with(cells, ViewState::default);
        let labels = self.present_labels().len();
        self.state.label_views.resize_with(labels, ViewState::default);
        let slots: Vec<Slot> =
            std::iter::once(Slot::Main).chain((0..cells).map(Slot::Cell)).chain((0..labels).map(Slot::Label)).collect();
        // A view whose map belongs to another image or model shows nothing until its new map
        // comes (the new image may still be loading, so no request can be sent yet).
        let shown = (self.state.gallery.current().map(|i| i.id), self.state.model.id);
        for slot in &slots {
            let view = self.view_mut(*slot).expect("slot exists");
            if view.requested().is_some_and(|r| (Some(r.image), r.model) != shown) {
                view.clear();
            }
        }
        for slot in slots {
            let Some(want) = self.wanted(slot) else { continue };
            let view = self.view_mut(slot).expect("slot exists");
            if view.differs(&want) {
                let token = view.request(want.clone());
                self.worker.submit(LaneKey::View(slot), token, want, move |result| Event::Explained {
                    slot,
                    token,
                    result,
                });
            }
        }
    }

    /// Apply the worker's events.
    fn handle_events(&mut self) {
        for event in self.worker.poll() {
            match event {
                Event::ModelLoaded { id, result } if id == self.state.model.id => self.model_loaded(result),
                Event::ModelLoaded { .. } => {}
                Event::GeneratorLoaded { id, result } if id == self.state.model.id => self.generator_installed(result),
                Event::GeneratorLoaded { .. } => {}
                Event::ImageLoaded { id, result } => {
                    if let Err(e) = &result {
                        self.state.toasts.error(e.to_string());
                    }
                    self.state.gallery.loaded(id, result);
                }
                Event::Thumbnail { id, result } => self.state.gallery.thumbnail(id, result),
                Event::MaskLoaded { id, result } => {
                    if let Err(e) = &result {
                        self.state.toasts.error(format!("ground-truth mask: {e}"));
                    }
                    self.state.gallery.mask_loaded(id, result);
                }
                Event::Progress(p) => match p.lane {
                    LaneKey::View(slot) => {
                        if let Some(v) = self.view_mut(slot) {
                            v.advance(p.token, p.done, p.total, p.partial);
                        }
                    }
                    LaneKey::Pair | LaneKey::Neighbours => self.state.similar.advance(p.lane, p.token, p.done, p.total),
                    LaneKey::Camera => {}
                },
                Event::Explained { slot, token, result } => self.explained(slot, token, result),
                Event::FrameExplained { token, result } => {
                    if let Some(camera) = self.state.camera.as_mut()
                        && let Finished::Failed(e) = camera.finish(token, result)
                    {
                        self.state.toasts.error(e);
                    }
                }
                Event::SimilarityLoaded { id, result } => {
                    self.state.similar.models_loaded(id, result, &mut self.state.toasts)
                }
                Event::PairExplained { token, result } => {
                    self.state.similar.pair_explained(token, result, &mut self.state.toasts)
                }
                Event::NeighboursFound { token, result } => {
                    self.state.similar.neighbours_found(token, result, &mut self.state.toasts)
                }
                Event::DeviceChanged(Ok(server)) => {
                    let message = match &server {
                        Some(s) => format!("Computing on {s}"),
                        None => format!("Computing on this machine ({})", self.state.machine.local),
                    };
                    self.state.toasts.note(message);
                    self.device_changed(server);
                }
                Event::DeviceChanged(Err(e)) => self.state.toasts.error(format!("switching the device: {e}")),
                Event::DeviceChecked => self.state.remote.checked(),
                Event::DeviceLost(lost) => {
                    self.state.toasts.error(format!(
                        "Lost {} ({}): back on this machine ({}).",
                        lost.server, lost.reason, self.state.machine.local
                    ));
                    self.device_changed(None);
                }
            }
        }
    }

    fn model_loaded(&mut self, result: Result<ModelInfo, JobError>) {
        self.state.model.loading = false;
        match result {
            Ok(info) => {
                // The layer of the last session, if this model has it.
                if let Some(l) = self.pending_layer.take().filter(|l| info.layers.contains(l)) {
                    self.state.layer = Some(l);
                }
                if let Some(ModelSource::File(p)) = &self.state.model.source
                    && info.asks_preprocess
                    && !self.state.settings.preprocess_by_model.contains_key(p)
                {
                    self.state.preprocess_prompt = Some((p.clone(), info.preprocess.clone()));
                }
                self.state.model.info = Some(info);
            }
            Err(e) => {
                self.state.toasts.error(e.to_string());
                if self.state.model.source != Some(ModelSource::Demo) {
                    self.open_model(ModelSource::Demo);
                }
            }
        }
    }

    /// The model's generator was installed (after a run, or refused): switch the view to it.
    fn generator_installed(&mut self, result: Result<String, JobError>) {
        match result {
            Ok(name) => {
                if let Some(info) = self.state.model.info.as_mut() {
                    info.generator = Ok(name.clone());
                }
                self.state.settings.method = Method::Generator;
                self.state.toasts.note(format!("Now explaining with the new generator {name}"));
            }
            Err(e) => {
                self.state.model.installed_generator = None;
                self.state.toasts.error(format!("the trained generator: {e}"));
            }
        }
    }

    fn explained(&mut self, slot: Slot, token: lane::Token, result: Result<jobs::explain::ExplainOutput, JobError>) {
        let Some(view) = self.view_mut(slot) else { return };
        match view.finish(token, result) {
            Finished::Done if slot == Slot::Main => {
                if self.state.audit.is_some() {
                    actions::remember_prediction(self);
                }
                // Scripts (tests/gui_smoke.sh) wait for this line.
                if !self.reported_first
                    && std::env::var_os("LANTERN_REPORT_FIRST").is_some()
                    && let Some(out) = self.state.main.output()
                {
                    println!("lantern: first explanation shown ({}, {:.0} ms)", out.method.title(), out.milliseconds);
                    self.reported_first = true;
                }
            }
            Finished::Failed(e) => self.state.toasts.error(e),
            Finished::Done | Finished::Cancelled | Finished::Stale => {}
        }
    }

    /// Export what the main view shows (view PNG, map as .npy and 16-bit PNG, JSON) into `dir`.
    pub fn export_to(&mut self, dir: &std::path::Path) {
        actions::export_current(self, dir);
    }

    /// Cancel the long method running in the main view: it keeps showing the last finished
    /// result, and the request stays recorded, so it is not sent again until something changes.
    pub fn cancel(&mut self) {
        self.worker.cancel(LaneKey::View(Slot::Main));
        self.state.main.cancel();
    }

    /// Apply the finished background tasks' results.
    fn poll_tasks(&mut self) {
        for (kind, result) in self.tasks.take_finished() {
            if kind == TaskKind::TrainGenerator {
                self.training_finished(&result);
            }
            if kind == TaskKind::Connect && result.is_err() {
                self.state.remote.link = remote::Link::Local;
            }
            match result {
                Ok(output) => {
                    self.state.toasts.note(output.message().to_string());
                    match output {
                        TaskOutput::DatasetOpened(opened) => {
                            self.state.settings.last.paths = vec![opened.dir.clone()];
                            self.state.dataset_dir = Some(opened.dir);
                            self.state.audit = None;
                            self.state.gallery.set_dataset(opened.dataset, &mut self.next_id);
                            self.state.transform.fit();
                        }
                        TaskOutput::AuditCreated(created) => actions::open(self, &created.file),
                        TaskOutput::Connected(connected) => {
                            let job = jobs::device::UseDevice(Some(connected.compute));
                            self.worker.load(job, Event::DeviceChanged);
                        }
                        TaskOutput::Saved(_) | TaskOutput::Trained(_) => {}
                    }
                }
                Err(JobError::Cancelled) if kind == TaskKind::TrainGenerator => {}
                Err(JobError::Cancelled) => self.state.toasts.note(format!("{kind}: cancelled")),
                Err(JobError::Failed(e)) => self.state.toasts.error(format!("{kind}: {e}")),
            }
        }
    }

    /// Start a new training run with the Train panel's settings, for the open model.
    fn start_training(&mut self) {
        let Some(model) = self.state.model.source.clone() else {
            return self.state.toasts.error("Open a model first.");
        };
        match self.state.train.prepare(model, self.state.model.id, self.state.dataset_dir.as_deref()) {
            Ok(()) => self.run_training(),
            Err(e) => self.state.toasts.error(e.to_string()),
        }
    }

    /// Run (or continue) the Train panel's run as a task.
    fn run_training(&mut self) {
        let repaint = self.repaint_handle();
        if let Err(e) = self.state.train.spawn(&mut self.tasks, repaint) {
            self.state.toasts.error(e.to_string());
        }
    }

    /// The training task ended: install its generator, or settle a pause or a cancel.
    fn training_finished(&mut self, result: &Result<TaskOutput, JobError>) {
        match self.state.train.finished(result) {
            Ok(Some((id, model, file))) if id == self.state.model.id => {
                self.state.model.installed_generator = Some(file.clone());
                let job = jobs::model::InstallGenerator { id, model, path: file };
                self.worker.load(job, move |result| Event::GeneratorLoaded { id, result });
            }
            Ok(_) => {}
            Err(e) => self.state.toasts.error(e.to_string()),
        }
    }

    /// Step through the images.
    fn step_image(&mut self, delta: isize) {
        if self.state.gallery.step(delta) {
            self.state.transform.fit();
        }
    }

    fn toggle_presentation(&mut self, ctx: &egui::Context) {
        self.state.presentation = !self.state.presentation;
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(self.state.presentation));
    }
    /// Keyboard shortcuts (ignored while a text field has focus).
    fn keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        use egui::Key;
        let pressed = |k: Key| ctx.input(|i| i.key_pressed(k));
        if pressed(Key::F11) || pressed(Key::P) || (self.state.presentation && pressed(Key::Escape)) {
            self.commands.push(Command::TogglePresentation);
        } else if self.state.camera.is_some() && pressed(Key::Escape) {
            self.commands.push(Command::CloseCamera);
        } else if self.state.similar.pair.open && pressed(Key::Escape) {
            self.commands.push(Command::ClosePair);
        }
        if self.state.camera.is_some() && pressed(Key::Space) {
            self.commands.push(Command::FreezeCamera);
        }
        if pressed(Key::S) {
            self.commands.push(Command::ToggleNeighbours);
        }
        // With a playlist open, the arrows (and a presenter's Page Up / Page Down) step the talk.
        let (forward, back) = match self.state.talk {
            Some(_) => (Command::StepPlaylist(1), Command::StepPlaylist(-1)),
            None => (Command::StepImage(1), Command::StepImage(-1)),
        };
        if pressed(Key::ArrowRight) || pressed(Key::PageDown) {
            self.commands.push(forward);
        }
        if pressed(Key::ArrowLeft) || pressed(Key::PageUp) {
            self.commands.push(back);
        }
        let digits =
            [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5, Key::Num6, Key::Num7, Key::Num8, Key::Num9];
        for (k, m) in digits.iter().zip(Method::quick()) {
            if pressed(*k) {
                self.commands.push(Command::SelectMethod(m));
            }
        }
        if self.state.audit.is_some() {
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
            if pressed(Key::B) {
                self.commands.push(Command::ToggleDrawing);
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

impl eframe::App for LanternApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.handle_events();
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        if !dropped.is_empty() {
            // Files dropped on the window come with their paths; on a web page, only with their
            // contents, read in the background.
            #[cfg(not(target_arch = "wasm32"))]
            self.commands.push(Command::OpenPaths(dropped.iter().map(|f| f.path().to_path_buf()).collect()));
            #[cfg(target_arch = "wasm32")]
            self.given.read_dropped(dropped, self.repaint_handle());
        }
        #[cfg(target_arch = "wasm32")]
        {
            self.poll_given();
            self.show_in_page_title();
        }
        self.keys(ctx);
        self.apply_commands(ctx);
        #[cfg(not(target_arch = "wasm32"))]
        asking::poll(self, ctx);
        self.poll_tasks();
        self.settle_step();
        self.state.gallery.request_loads(&self.worker);
        if let Some(reference) = self.state.similar.pair.reference.filter(|_| self.state.similar.pair.open) {
            self.state.gallery.request_mask_of(reference, &self.worker);
        }
        // In camera mode the worker explains frames; the views wait until it ends.
        if self.state.camera.is_some() {
            self.feed_camera();
        } else {
            self.reconcile();
        }
        self.state.similar.reconcile(&self.state.model, &self.state.gallery, &self.worker, &mut self.next_id);
        if self.state.remote.check_due() {
            self.worker.load(jobs::device::CheckDevice, |_| Event::DeviceChecked);
        }
        if self.state.remote.remote().is_some() {
            ctx.request_repaint_after(remote::CHECK_EVERY);
        }
        if self.state.main.pending()
            || self.state.cells.iter().chain(&self.state.label_views).any(ViewState::pending)
            || !self.tasks.is_empty()
            || self.state.similar.running()
        {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        panels::apply_style(ui.ctx(), self.state.presentation);
        let ctx = ui.ctx().clone();
        if !self.state.presentation {
            let menu = panels::MenuState::of(&self.state);
            panels::menu_bar(&self.state.settings, menu, &mut self.commands, ui);
            // What the menu chose (a window opened) shows in this frame.
            self.apply_commands(&ctx);
        }
        let (state, commands, textures) = (&self.state, &mut self.commands, &mut self.textures);
        textures.keep_images(state.gallery.len(), || state.gallery.images.iter().map(|i| i.id));
        if !state.presentation {
            let connecting = state.remote.connecting();
            let camera = state.camera.as_ref().map(live::LiveCamera::rates);
            let status =
                panels::Status { connecting, readout: state.readout, error: state.toasts.last_error(), camera };
            panels::status_bar(&state.machine, &state.model, status, ui);
            if state.settings.show_thumbnails && state.gallery.len() > 1 {
                panels::thumbnails(&state.gallery, textures, commands, ui);
            }
            if state.settings.show_inspector {
                panels::inspector(state, &self.tasks, textures, commands, ui);
            }
            if state.similar.neighbours.open {
                pair_view::neighbours_panel(&state.similar, &state.gallery, textures, commands, ui);
            }
            let model = state.model.info.as_ref().map(|i| i.name.as_str());
            train_view::window(&state.train, model, state.dataset_dir.as_deref(), commands, &ctx);
            preprocess_prompt::window(state.preprocess_prompt.as_ref(), commands, &ctx);
            connect_window::window(&state.remote, commands, &ctx);
            path_window::window(state.path_prompt.as_ref(), commands, &ctx);
        }
        talk_bar::talk_bar(state.talk.as_ref(), commands, ui);
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(camera) = &state.camera {
                views::camera_view(state, camera, textures, commands, ui);
            } else if state.similar.pair.open && !state.presentation {
                pair_view::pair_view(state, textures, commands, ui);
            } else if state.compare && !state.presentation {
                views::compare_grid(state, textures, commands, ui);
            } else {
                views::main_view(state, textures, commands, ui);
            }
        });
        self.state.toasts.show(&ctx);
        // What the widgets asked for is applied at once, so the next frame shows it.
        self.apply_commands(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.state.settings.last.layer = self.state.layer.clone();
        eframe::set_value(storage, eframe::APP_KEY, &self.state.settings);
    }
}

/// Open the window and run until it is closed.
#[cfg(not(target_arch = "wasm32"))]
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

/// burn on egui's GPU device, so models and overlays share it (the CPU if burn cannot take it).
#[cfg(not(target_arch = "wasm32"))]
fn shared_gpu(rs: &eframe::egui_wgpu::RenderState) -> ComputeDevice {
    let info = rs.adapter.get_info();
    crate::device::share_wgpu(
        rs.instance.clone(),
        rs.adapter.clone(),
        rs.device.clone(),
        rs.queue.clone(),
        info.backend,
    )
    .unwrap_or_else(|_| ComputeDevice::cpu())
}

/// The web page's own thread computes on the CPU: it cannot wait for a GPU read (its compute
/// worker, which runs the explanations, can: see `crate::device::choose_in_worker`).
#[cfg(target_arch = "wasm32")]
fn shared_gpu(_: &eframe::egui_wgpu::RenderState) -> ComputeDevice {
    ComputeDevice::cpu()
}
