//! The desktop explorer (eframe + egui, rendered through wgpu).
//!
//! Widgets never run models: they change [`Settings`] and the selection, and once per frame
//! [`LanternApp::reconcile`] turns the difference between what each view shows and what it should
//! show into requests for the [`worker::Worker`]. Overlay appearance is shader input only.

mod canvas;
mod export;
pub mod gallery;
mod overlay;
mod panels;
pub mod settings;
mod toasts;
mod views;
pub mod worker;

use crate::device::ComputeDevice;
use crate::explain::{Method, Target};
use canvas::ViewTransform;
use gallery::Gallery;
use settings::Settings;
use std::path::PathBuf;
use std::sync::Arc;
use toasts::Toasts;
use worker::{Event, ExplainOutput, ExplainRequest, ModelInfo, ModelSource, Slot, Worker};

/// The methods the number keys select, in order.
pub const QUICK_METHODS: [Method; 9] = [
    Method::GradCam,
    Method::GradCamPlusPlus,
    Method::XGradCam,
    Method::LayerCam,
    Method::HiResCam,
    Method::EigenCam,
    Method::ScoreCam,
    Method::Saliency,
    Method::IntegratedGradients,
];

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
    pub compare: bool,
    pub presentation: bool,
    pub transform: ViewTransform,
    pub target: Target,
    /// Layer explained (`None`: the model's default).
    pub layer: Option<String>,
    pub toasts: Toasts,
    next_id: u64,
    next_token: u64,
    /// Hover readout: image pixel and map value.
    pub readout: Option<(u32, u32, Option<f32>)>,
    /// A running "save all".
    pub export: Option<export::ExportJob>,
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
                    crate::device::share_wgpu(rs.instance.clone(), rs.adapter.clone(), rs.device.clone(), rs.queue.clone(), info.backend)
                        .unwrap_or_else(|_| ComputeDevice::cpu())
                };
                (compute, renderer, true)
            }
            None => (ComputeDevice::cpu(), "egui (no wgpu renderer)".to_string(), false),
        };
        let ctx = cc.egui_ctx.clone();
        let worker = Worker::start(compute.device.clone(), move || ctx.request_repaint());
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
            compare: false,
            presentation: false,
            transform: ViewTransform::default(),
            target: Target::Top1,
            layer: None,
            toasts: Toasts::default(),
            next_id: 1,
            next_token: 1,
            readout: None,
            export: None,
            reported_first: false,
        };
        app.open_model(launch.model.map_or(ModelSource::Demo, ModelSource::File));
        if launch.paths.is_empty() {
            app.gallery.set_demo(&mut app.next_id);
        } else {
            app.open_paths(launch.paths);
        }
        app
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
        self.model = ModelState { id, source: Some(source.clone()), info: None, loading: true };
        self.layer = None;
        self.target = Target::Top1;
        self.worker.load_model(id, source);
    }

    /// Open image files and folders (a model file among them is opened as the model).
    pub fn open_paths(&mut self, paths: Vec<PathBuf>) {
        let mut images = Vec::new();
        for p in paths {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            if ["pth", "pt", "safetensors"].contains(&ext.as_str()) {
                self.open_model(ModelSource::File(p));
            } else if p.is_dir() {
                match crate::datasets::folder::images_in(&p) {
                    Ok(files) if !files.is_empty() => {
                        self.settings.remember(p.clone());
                        images.extend(files);
                    }
                    Ok(_) => self.toasts.error(0.0, format!("{}: no images in this folder", p.display())),
                    Err(e) => self.toasts.error(0.0, e.to_string()),
                }
            } else {
                self.settings.remember(p.clone());
                images.push(p);
            }
        }
        if !images.is_empty() {
            self.gallery.set_files(images, &mut self.next_id);
            self.transform.fit();
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
        if let Slot::Cell(i) = slot {
            match self.settings.compare_axis {
                settings::CompareAxis::Methods => method = *self.settings.compare_methods.get(i)?,
                settings::CompareAxis::Classes => {
                    let top = self.main.output.as_ref()?.top.get(i)?;
                    target = Target::Class(top.0);
                }
                settings::CompareAxis::Layers => layer = Some(compare_layers(info).get(i)?.clone()),
            }
        }
        Some(ExplainRequest { slot, token: 0, image: image.id, model: self.model.id, method, target, layer, params: self.settings.params.clone() })
    }

    fn view_mut(&mut self, slot: Slot) -> Option<&mut ViewState> {
        match slot {
            Slot::Main => Some(&mut self.main),
            Slot::Cell(i) => self.cells.get_mut(i),
        }
    }

    /// Send a request for every view whose wanted content differs from what it asked for.
    pub fn reconcile(&mut self) {
        let cells = if self.compare { self.compare_len() } else { 0 };
        self.cells.resize_with(cells, ViewState::default);
        let slots: Vec<Slot> = std::iter::once(Slot::Main).chain((0..cells).map(Slot::Cell)).collect();
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
            settings::CompareAxis::Classes => self.main.output.as_ref().map_or(0, |o| o.top.len().min(4)),
            settings::CompareAxis::Layers => self.model.info.as_ref().map_or(0, |i| compare_layers(i).len()),
        }
    }

    /// Apply the worker's events.
    pub fn handle_events(&mut self, now: f64) {
        for event in self.worker.poll() {
            match event {
                Event::ModelLoaded { id, result } if id == self.model.id => {
                    self.model.loading = false;
                    match result {
                        Ok(info) => self.model.info = Some(info),
                        Err(e) => {
                            self.toasts.error(now, e);
                            if self.model.source != Some(ModelSource::Demo) {
                                self.open_model(ModelSource::Demo);
                            }
                        }
                    }
                }
                Event::ModelLoaded { .. } => {}
                Event::ImageLoaded { id, result } => {
                    if let Err(e) = &result {
                        self.toasts.error(now, e.clone());
                    }
                    self.gallery.loaded(id, result);
                }
                Event::Thumbnail { id, result } => self.gallery.thumbnail(id, result),
                Event::Progress { slot, token, done, total, partial } => {
                    let mut key = self.next_token;
                    if let Some(v) = self.view_mut(slot).filter(|v| v.requested.as_ref().is_some_and(|r| r.token == token)) {
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
                    if let Some(v) = self.view_mut(slot).filter(|v| v.requested.as_ref().is_some_and(|r| r.token == token)) {
                        v.pending = false;
                        v.progress = None;
                        v.partial = None;
                        match result {
                            Ok(out) => {
                                if slot == Slot::Main {
                                    announce = Some(format!("{}, {:.0} ms", out.method.title(), out.milliseconds));
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
                        self.toasts.error(now, e);
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

    /// Report a finished "save all".
    fn poll_export(&mut self, now: f64) {
        let Some(job) = &self.export else { return };
        let s = job.status.lock().expect("export status lock").clone();
        if s.finished {
            let dir = job.dir.display().to_string();
            self.export = None;
            if s.errors.is_empty() {
                self.toasts.note(now, format!("Saved {} images to {dir}", s.done));
            } else {
                self.toasts.error(now, format!("Saved {} of {} images to {dir}; {}", s.done - s.errors.len().min(s.done), s.total, s.errors.join("; ")));
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
            self.toggle_presentation(ctx);
        }
        if pressed(Key::ArrowRight) || pressed(Key::PageDown) {
            self.step_image(1);
        }
        if pressed(Key::ArrowLeft) || pressed(Key::PageUp) {
            self.step_image(-1);
        }
        let digits = [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5, Key::Num6, Key::Num7, Key::Num8, Key::Num9];
        for (k, m) in digits.iter().zip(QUICK_METHODS) {
            if pressed(*k) {
                self.settings.method = m;
            }
        }
        if pressed(Key::F) {
            self.transform.fit();
        }
        if pressed(Key::Num0) {
            self.transform.actual_size(ctx.pixels_per_point());
        }
        if pressed(Key::C) {
            self.compare = !self.compare;
        }
    }
}

/// Layers offered in the compare grid: up to four, the default last.
fn compare_layers(info: &ModelInfo) -> Vec<String> {
    let distinct: Vec<&String> = info.layers.iter().filter(|l| !l.ends_with(char::is_alphabetic) || info.layers.len() < 8).collect();
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
        let now = ctx.input(|i| i.time);
        self.handle_events(now);
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.open_paths(dropped);
        }
        self.keys(ctx);
        self.poll_export(now);
        self.gallery.request_loads(&self.worker);
        self.reconcile();
        if self.main.running() || self.cells.iter().any(ViewState::running) || self.export.is_some() {
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
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.compare && !self.presentation {
                views::compare_grid(self, ui);
            } else {
                views::main_view(self, ui);
            }
        });
        let ctx = ui.ctx().clone();
        self.toasts.show(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
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
