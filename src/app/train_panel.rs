//! The Train panel's state: its settings and its run of training a weight-map generator (seed
//! 000, [`crate::train::generator`]) for the open model, on the open dataset folder or on
//! procedural images drawn on the fly, as a background task ([`super::jobs::train`]). Pause stops
//! at the next step and keeps the checkpoint; Resume runs the same settings again, which
//! continues from it; Cancel stops and deletes it. When the run ends its generator is installed
//! for the model and the view switches to the Generator method. The window is
//! [`super::train_view`]; it only pushes commands, and the app calls the methods here.

use super::jobs::train::{Live, classifier_and_out};
use super::jobs::{AppTasks, TaskKind, TaskOutput};
use super::lane::JobError;
use super::model::ModelSource;
use crate::datasets::Format;
use crate::error::{LanternError, Result};
use crate::train::generator::{ClassTarget, GeneratorConfig, GeneratorData, GeneratorFiles, LossWeights, Objective};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

    /// Delete the run's checkpoints (after a cancel).
    fn delete_checkpoints(&self) -> Result<()> {
        match self.files().checkpoints.filter(|d| d.is_dir()) {
            Some(dir) => std::fs::remove_dir_all(&dir)
                .map_err(|e| LanternError::Output { path: dir.clone(), reason: format!("could not delete: {e}") }),
            None => Ok(()),
        }
    }
}

/// What the panel lets the user set.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// The panel's window is shown.
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
}

/// Where generators trained for the demo model go: eframe's storage folder. The web page, which
/// trains nothing and has no folders, has none.
fn generators_dir() -> PathBuf {
    #[cfg(not(target_arch = "wasm32"))]
    return eframe::storage_dir("lantern").unwrap_or_else(std::env::temp_dir).join("generators");
    #[cfg(target_arch = "wasm32")]
    PathBuf::new()
}

impl Default for TrainSettings {
    fn default() -> Self {
        let out_dir = generators_dir();
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
        }
    }
}

impl TrainSettings {
    /// The settings of a new run for the classifier file, on `dataset` when one is open.
    fn config(&self, dataset: Option<&Path>, classifier: PathBuf) -> GeneratorConfig {
        let data = match dataset.filter(|_| self.use_dataset) {
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

/// The panel's settings and its run.
#[derive(Default)]
pub struct TrainPanel {
    pub settings: TrainSettings,
    pub run: Option<TrainingRun>,
}

impl TrainPanel {
    /// Set up a new run for `model` (app id `model_id`) with the panel's settings.
    pub fn prepare(&mut self, model: ModelSource, model_id: u64, dataset: Option<&Path>) -> Result<()> {
        let (classifier, out) = classifier_and_out(&self.settings.out_dir, &model)?;
        let config = self.settings.config(dataset, classifier);
        self.run = Some(TrainingRun { config, out, model, model_id, live: Arc::default(), state: RunState::Running });
        Ok(())
    }

    /// Run (or continue) the prepared run as a task.
    pub fn spawn(&mut self, tasks: &mut AppTasks, repaint: impl Fn() + Send + 'static) -> Result<()> {
        let Some(run) = self.run.as_mut() else { return Ok(()) };
        run.state = RunState::Running;
        let (config, files, out, live) = (run.config.clone(), run.files(), run.out.clone(), Arc::clone(&run.live));
        let spawned = tasks.spawn(TaskKind::TrainGenerator, repaint, move |control| {
            super::jobs::train::train(&config, &files, &out, &live, control).map(TaskOutput::Trained)
        });
        if let Err(e) = &spawned {
            run.state = RunState::Failed(e.to_string());
        }
        spawned
    }

    /// Stop the run at its next step, keeping its checkpoint.
    pub fn pause(&mut self, tasks: &AppTasks) {
        if let Some(r) = self.run.as_mut() {
            r.state = RunState::Pausing;
        }
        tasks.cancel(TaskKind::TrainGenerator);
    }

    /// Stop the run and delete its checkpoint: now when it is paused, else once it has stopped.
    pub fn cancel(&mut self, tasks: &AppTasks) -> Result<()> {
        let Some(run) = self.run.as_mut() else { return Ok(()) };
        if run.state == RunState::Paused {
            let deleted = run.delete_checkpoints();
            self.run = None;
            return deleted;
        }
        run.state = RunState::Cancelling;
        tasks.cancel(TaskKind::TrainGenerator);
        Ok(())
    }

    /// The training task ended: the generator to install (model id, model, file) when it
    /// finished, else settle a pause or a cancel.
    pub fn finished(&mut self, result: &Result<TaskOutput, JobError>) -> Result<Option<(u64, ModelSource, PathBuf)>> {
        let Some(run) = self.run.as_mut() else { return Ok(None) };
        match result {
            Ok(TaskOutput::Trained(t)) => {
                run.state = RunState::Done(t.file.clone());
                return Ok(Some((run.model_id, run.model.clone(), t.file.clone())));
            }
            Ok(_) => {}
            Err(JobError::Cancelled) if run.state == RunState::Cancelling => {
                let deleted = run.delete_checkpoints();
                self.run = None;
                deleted?;
            }
            Err(JobError::Cancelled) => run.state = RunState::Paused,
            Err(JobError::Failed(e)) => run.state = RunState::Failed(e.to_string()),
        }
        Ok(None)
    }
}
