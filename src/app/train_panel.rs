//! The Train panel: trains a weight-map generator (seed 000, [`crate::train::generator`]) for the
//! open model, on the open dataset folder or on procedural images drawn on the fly, as a named
//! background task. The panel plots the loss terms of every step and the validation metrics of
//! every epoch as they come. Pause stops at the next step and keeps the checkpoint; Resume runs
//! the same settings again, which continues from it; Cancel stops and deletes it. When the run
//! ends its generator is installed for the model and the view switches to the Generator method.

use super::LanternApp;
use super::model::ModelSource;
use super::tasks::{Finished, Outcome};
use crate::control::Control;
use crate::datasets::Format;
use crate::error::{LanternError, Result};
use crate::explain::Method;
use crate::train::fit::Event;
use crate::train::generator::{
    self, ClassTarget, GeneratorConfig, GeneratorData, GeneratorFiles, LossWeights, Objective,
};
use crate::train::history::EpochRecord;
use egui_plot::{Legend, Line, Plot, PlotPoints};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The task's name.
pub const TASK: &str = "train generator";

/// What the training thread has told the panel so far.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// The loss terms of each step taken, by global step (`loss` first).
    pub steps: Vec<(usize, Vec<(String, f64)>)>,
    pub epochs: Vec<EpochRecord>,
    /// Epoch (from 1), epochs, steps taken, steps in all.
    pub at: Option<(usize, usize, usize, usize)>,
    pub eta: Option<Duration>,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Running,
    /// Pause was pressed; the run stops at its next step.
    Pausing,
    /// Stopped with its checkpoint kept.
    Paused,
    /// Cancel was pressed; the checkpoint goes when the run has stopped.
    Cancelling,
    /// Finished: the generator file written.
    Done(PathBuf),
    Failed(String),
}

/// One training run of the panel.
pub struct TrainingRun {
    pub config: GeneratorConfig,
    /// The generator file the run writes; its checkpoints and log lie beside it.
    pub out: PathBuf,
    /// The model it trains for, and that model's id in the app.
    pub model: ModelSource,
    pub model_id: u64,
    pub live: Arc<Mutex<Live>>,
    pub state: RunState,
}

impl TrainingRun {
    fn files(&self) -> GeneratorFiles {
        GeneratorFiles {
            checkpoints: Some(self.out.with_extension("checkpoints")),
            log: Some(self.out.with_extension("log.csv")),
        }
    }

    pub fn live(&self) -> Live {
        self.live.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The panel's settings and its run.
pub struct TrainPanel {
    pub open: bool,
    /// Train on the open dataset folder (when one is open) rather than on procedural images.
    pub use_dataset: bool,
    pub objective: Objective,
    pub epochs: usize,
    pub batch: usize,
    /// Procedural images per epoch.
    pub count: usize,
    /// Validation images (procedural, or held out of the dataset).
    pub val_count: usize,
    pub learning_rate: f64,
    /// Folder for generators trained for the demo model (file models get theirs beside them).
    pub out_dir: PathBuf,
    pub run: Option<TrainingRun>,
}

impl Default for TrainPanel {
    fn default() -> Self {
        let out_dir = eframe::storage_dir("lantern").unwrap_or_else(std::env::temp_dir).join("generators");
        Self {
            open: false,
            use_dataset: true,
            objective: Objective::Classifier,
            epochs: 6,
            batch: 16,
            count: 1600,
            val_count: 200,
            learning_rate: 0.002,
            out_dir,
            run: None,
        }
    }
}

/// A file name that does not exist yet: `path`, else `stem-2.ext`, `stem-3.ext`, ...
fn fresh(path: PathBuf) -> PathBuf {
    if !path.exists() {
        return path;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, ext) = name.split_once('.').unwrap_or((&name, ""));
    (2..).map(|i| path.with_file_name(format!("{stem}-{i}.{ext}"))).find(|p| !p.exists()).unwrap_or(path)
}

impl TrainPanel {
    /// The settings of a new run for `app`'s model and data.
    fn config(&self, app_dataset: Option<&Path>, classifier: PathBuf) -> GeneratorConfig {
        let data = match app_dataset.filter(|_| self.use_dataset) {
            Some(dir) => {
                GeneratorData::Folder { dir: dir.to_path_buf(), format: Format::detect(dir), val_count: self.val_count }
            }
            None => GeneratorData::Synth {
                seed: 1,
                count: self.count,
                sizes: (80, 224),
                val_seed: 1_000_001,
                val_count: self.val_count,
            },
        };
        GeneratorConfig {
            classifier,
            arch: None,
            data,
            objective: self.objective,
            target: ClassTarget::Label,
            weights: LossWeights::default(),
            taps: None,
            widths: None,
            epochs: self.epochs,
            batch: self.batch,
            learning_rate: self.learning_rate,
            seed: 1,
            patience: None,
        }
    }
}

/// The classifier file a run trains for and where its generator goes: beside a file model (as
/// `lantern train generator` does, so it is found again), or in the panel's folder for the demo,
/// whose weights are written there once.
fn classifier_and_out(panel: &TrainPanel, model: &ModelSource) -> Result<(PathBuf, PathBuf)> {
    match model {
        ModelSource::File(p) => Ok((p.clone(), fresh(crate::models::generator::beside(p)))),
        ModelSource::Demo => {
            std::fs::create_dir_all(&panel.out_dir).map_err(|e| LanternError::io(&panel.out_dir, e))?;
            let weights = panel.out_dir.join("lantern_cnn.safetensors");
            if std::fs::read(&weights).ok().as_deref() != Some(crate::models::demo::WEIGHTS) {
                crate::files::write_atomic(&weights, |f| std::io::Write::write_all(f, crate::models::demo::WEIGHTS))?;
            }
            Ok((weights.clone(), fresh(crate::models::generator::beside(&weights))))
        }
    }
}

/// Start a new run with the panel's settings.
pub fn start(app: &mut LanternApp) {
    let Some(model) = app.model.source.clone() else {
        app.toasts.error("Open a model first.".to_string());
        return;
    };
    let (classifier, out) = match classifier_and_out(&app.train, &model) {
        Ok(x) => x,
        Err(e) => return app.toasts.error(e.to_string()),
    };
    let config = app.train.config(app.dataset_dir.as_deref(), classifier);
    app.train.run = Some(TrainingRun {
        config,
        out,
        model,
        model_id: app.model.id,
        live: Arc::default(),
        state: RunState::Running,
    });
    spawn(app);
}

/// Run (or continue) the panel's run as the task.
fn spawn(app: &mut LanternApp) {
    let Some(run) = app.train.run.as_mut() else { return };
    run.state = RunState::Running;
    let (config, files, out, live) = (run.config.clone(), run.files(), run.out.clone(), Arc::clone(&run.live));
    let repaint = app.repaint_handle();
    let spawned = app.tasks.spawn(TASK, repaint, move |control| train(&config, &files, &out, &live, control));
    if let Err(e) = spawned {
        app.toasts.error(e.to_string());
        if let Some(run) = app.train.run.as_mut() {
            run.state = RunState::Failed(e.to_string());
        }
    }
}

/// The task: train, feeding `live`, and write the generator to `out`.
fn train(
    config: &GeneratorConfig,
    files: &GeneratorFiles,
    out: &Path,
    live: &Mutex<Live>,
    control: &mut Control,
) -> Result<Finished> {
    let device = crate::device::choose(crate::device::DeviceChoice::Auto)?;
    let update = |f: &mut dyn FnMut(&mut Live)| {
        if let Ok(mut l) = live.lock() {
            f(&mut l);
        }
    };
    let mut progress = Control::new(control.cancel_flag());
    let mut total = 0;
    let trained = generator::train(config, files, &device.device, &mut progress, &mut |event| match event {
        Event::Resumed { at } => update(&mut |l| l.at = Some((at.epoch + 1, at.epochs, at.global(), at.total()))),
        Event::Step { at, terms, eta, .. } => {
            total = at.total();
            control.report(at.global() + 1, at.total(), None);
            update(&mut |l| {
                l.steps.push((at.global(), terms.to_vec()));
                l.at = Some((at.epoch + 1, at.epochs, at.global() + 1, at.total()));
                l.eta = eta;
            });
        }
        Event::Epoch { record, eta, .. } => update(&mut |l| {
            l.epochs.push(record.clone());
            l.eta = eta;
        }),
    })?;
    trained.save(out)?;
    let best = trained
        .fitted
        .best
        .as_ref()
        .map(|b| format!(", best epoch {} ({} {:.1})", b.epoch, trained.monitor, b.score))
        .unwrap_or_default();
    let message = format!("Trained a generator in {} steps{best}: {}", total, out.display());
    Ok(Finished { message, payload: Some(Box::new(GeneratorFile(out.to_path_buf()))) })
}

/// The payload of a finished run: the generator file written.
pub struct GeneratorFile(pub PathBuf);

/// The task ended: install its generator, or settle a pause or a cancel.
pub fn finished(app: &mut LanternApp, outcome: &Outcome, payload: Option<Box<dyn std::any::Any + Send>>) {
    let Some(run) = app.train.run.as_mut() else { return };
    match outcome {
        Outcome::Done(_) => {
            if let Some(Ok(file)) = payload.map(|p| p.downcast::<GeneratorFile>()) {
                run.state = RunState::Done(file.0.clone());
                if run.model_id == app.model.id {
                    app.worker.load_generator(run.model_id, run.model.clone(), file.0);
                }
            }
        }
        Outcome::Cancelled if run.state == RunState::Cancelling => {
            let checkpoints = run.files().checkpoints;
            app.train.run = None;
            if let Some(dir) = checkpoints.filter(|d| d.is_dir()) {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    app.toasts.error(format!("could not delete {}: {e}", dir.display()));
                }
            }
        }
        Outcome::Cancelled => run.state = RunState::Paused,
        Outcome::Failed(e) => run.state = RunState::Failed(e.clone()),
    }
}

/// The model's generator was installed (after a run, or refused): switch the view to it.
pub fn generator_installed(app: &mut LanternApp, result: std::result::Result<String, String>) {
    match result {
        Ok(name) => {
            if let Some(info) = app.model.info.as_mut() {
                info.generator = Ok(name.clone());
            }
            app.settings.method = Method::Generator;
            app.toasts.note(format!("Now explaining with the new generator {name}"));
        }
        Err(e) => app.toasts.error(format!("the trained generator: {e}")),
    }
}

fn cancel_task(app: &LanternApp) {
    if let Some(t) = app.tasks.running.iter().find(|t| t.name == TASK) {
        t.cancel();
    }
}

/// The panel, as a window.
pub fn window(app: &mut LanternApp, ctx: &egui::Context) {
    let mut open = app.train.open;
    egui::Window::new("Train generator").open(&mut open).default_size([460.0, 560.0]).show(ctx, |ui| panel(app, ui));
    app.train.open = open;
}

fn settings_ui(app: &mut LanternApp, ui: &mut egui::Ui) {
    let model = app.model.info.as_ref().map_or_else(|| "none".to_string(), |i| i.name.clone());
    ui.label(format!("For the open model: {model}"));
    let t = &mut app.train;
    match &app.dataset_dir {
        Some(dir) => {
            ui.radio_value(
                &mut t.use_dataset,
                true,
                format!("Open dataset: {} ({})", dir.display(), Format::detect(dir)),
            );
            ui.radio_value(&mut t.use_dataset, false, "Procedural images, drawn fresh every epoch");
        }
        None => {
            ui.label("Data: procedural images, drawn fresh every epoch (open a dataset folder to train on it)");
        }
    }
    egui::ComboBox::from_label("Objective").selected_text(t.objective.to_string()).show_ui(ui, |ui| {
        for o in [Objective::Classifier, Objective::Siamese, Objective::Both] {
            ui.selectable_value(&mut t.objective, o, o.to_string());
        }
    });
    ui.add(egui::Slider::new(&mut t.epochs, 1..=50).text("Epochs"));
    ui.add(egui::Slider::new(&mut t.batch, 2..=64).text("Batch"));
    if app.dataset_dir.is_none() || !t.use_dataset {
        ui.add(egui::Slider::new(&mut t.count, 8..=10_000).logarithmic(true).text("Images per epoch"));
    }
    ui.add(egui::Slider::new(&mut t.val_count, 2..=2_000).logarithmic(true).text("Validation images"));
    ui.add(egui::Slider::new(&mut t.learning_rate, 1e-4..=1e-1).logarithmic(true).text("Learning rate"));
}

fn curves_ui(ui: &mut egui::Ui, live: &Live) {
    let names: Vec<String> =
        live.steps.first().map(|(_, t)| t.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    Plot::new("lantern train loss").height(150.0).legend(Legend::default()).x_axis_label("step").show(ui, |plot| {
        for (i, name) in names.iter().enumerate() {
            let points: PlotPoints =
                live.steps.iter().filter_map(|(s, t)| t.get(i).map(|(_, v)| [*s as f64, *v])).collect();
            plot.line(Line::new(name.clone(), points));
        }
    });
    let metrics: Vec<String> =
        live.epochs.first().map(|r| r.metrics.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    Plot::new("lantern train validation").height(120.0).legend(Legend::default()).x_axis_label("epoch").show(
        ui,
        |plot| {
            for (i, name) in metrics.iter().enumerate() {
                let points: PlotPoints =
                    live.epochs.iter().filter_map(|r| r.metrics.get(i).map(|(_, v)| [r.epoch as f64, *v])).collect();
                plot.line(Line::new(name.clone(), points));
            }
        },
    );
}

fn panel(app: &mut LanternApp, ui: &mut egui::Ui) {
    let state = app.train.run.as_ref().map(|r| r.state.clone());
    let busy = matches!(state, Some(RunState::Running | RunState::Pausing | RunState::Cancelling));
    ui.add_enabled_ui(!busy && state != Some(RunState::Paused), |ui| settings_ui(app, ui));
    ui.separator();
    ui.horizontal(|ui| {
        if !busy && state != Some(RunState::Paused) && ui.button("Start training").clicked() {
            start(app);
        }
        if state == Some(RunState::Running) && ui.button("Pause").clicked() {
            if let Some(r) = app.train.run.as_mut() {
                r.state = RunState::Pausing;
            }
            cancel_task(app);
        }
        if state == Some(RunState::Paused) && ui.button("Resume").clicked() {
            spawn(app);
        }
        if matches!(state, Some(RunState::Running | RunState::Pausing | RunState::Paused))
            && ui.button("Cancel").clicked()
        {
            match state {
                Some(RunState::Paused) => {
                    if let Some(r) = app.train.run.as_mut() {
                        r.state = RunState::Cancelling;
                    }
                    finished(app, &Outcome::Cancelled, None);
                }
                _ => {
                    if let Some(r) = app.train.run.as_mut() {
                        r.state = RunState::Cancelling;
                    }
                    cancel_task(app);
                }
            }
        }
    });
    let Some(run) = app.train.run.as_ref() else { return };
    let live = run.live();
    let status = match &run.state {
        RunState::Running => "training".to_string(),
        RunState::Pausing => "pausing at the next step…".to_string(),
        RunState::Paused => "paused (the checkpoint is kept; Resume continues from it)".to_string(),
        RunState::Cancelling => "cancelling…".to_string(),
        RunState::Done(p) => format!("done: {}", p.display()),
        RunState::Failed(e) => format!("failed: {e}"),
    };
    ui.label(status);
    if let Some((epoch, epochs, done, total)) = live.at {
        let eta = live.eta.map(|d| format!(", about {} s left", d.as_secs())).unwrap_or_default();
        ui.add(
            egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                .text(format!("epoch {epoch}/{epochs}, step {done}/{total}{eta}")),
        );
    }
    if let Some(r) = live.epochs.last() {
        let numbers: Vec<String> = r.metrics.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
        ui.label(format!("epoch {}: {}", r.epoch, numbers.join(", ")));
    }
    curves_ui(ui, &live);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_names_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("m.generator.safetensors");
        assert_eq!(fresh(a.clone()), a);
        std::fs::write(&a, b"x").unwrap();
        assert_eq!(fresh(a.clone()), dir.path().join("m-2.generator.safetensors"));
    }
}
