//! The one training loop every Lantern trainer runs.
//!
//! A trainer implements [`Task`]: the loss of a batch of item indices (a scalar to minimise
//! plus named terms to log) and a validation pass (named metrics). [`fit`] does the rest:
//!
//! - epochs of `len / batch` steps (an incomplete last batch is dropped), items in order or
//!   shuffled per epoch by a Fisher-Yates pass over [`Rng::for_item`]`(seed, epoch)`, so the
//!   order of every epoch is fixed by `(seed, epoch)` alone;
//! - backward pass and optimiser step at the learning rate of a [`Schedule`] (a task may give
//!   parameter groups a multiple of it, [`Task::learning_rates`]);
//! - after every epoch: validation (on `model.valid()`), the monitored score, best epoch and
//!   early stopping, a checkpoint and the CSV log; the checkpoint holds the model, the
//!   optimiser state and the position `(epoch, step)` with the running sums of the current
//!   epoch, and the task's own state ([`Task::state`], such as labels corrected while training),
//!   which is all the randomness the loop has, so a run resumed from it ends with the
//!   same weights and log as one never interrupted (random operations inside a model, such as
//!   dropout, draw from burn's process-wide generator and do not replay: a task that needs them
//!   exact draws from [`crate::seeded`] keyed by its [`StepAt`]);
//! - cancellation through [`Control`] between steps (and inside validation, if the task checks
//!   it): a checkpoint is written at the current step (when the run has a checkpoint folder) and
//!   `Err(Cancelled)` returned; the next run with the same configuration resumes there;
//! - a loss that is not finite ends the run with an error; the last checkpoint stays;
//! - progress through [`Control::report`] (steps done of all steps) and through a richer
//!   [`Event`] callback (loss terms per step, records per epoch, ETA) for bars and live curves.

use super::checkpoint;
use super::history::{EpochRecord, Named, exact, write_log};
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::seeded::{self, Rng};
use burn::module::Module;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use web_time::{Duration, Instant};

/// Where a step sits in the run (epochs and steps counted from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepAt {
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
}

impl StepAt {
    /// Steps taken before this one in the whole run.
    pub fn global(&self) -> usize {
        self.epoch * self.steps + self.step
    }

    /// Steps in the whole run.
    pub fn total(&self) -> usize {
        self.epochs * self.steps
    }

    /// `global / total`, in `[0, 1)`.
    pub fn fraction(&self) -> f64 {
        self.global() as f64 / self.total().max(1) as f64
    }
}

/// A batch's loss: `value` (a one-element tensor on the autodiff device) is minimised and
/// logged as `loss`; `terms` are further numbers to log (loss components, training accuracy).
pub struct Loss {
    pub value: Tensor<1>,
    pub terms: Named,
}

/// A network and its data as the loop sees them.
pub trait Task {
    type Model: Module;

    /// Items an epoch draws its batches from: `0..train_len()`.
    fn train_len(&self) -> usize;

    /// The loss of `model` (in training mode) on the items `items` at step `at`.
    fn loss(&mut self, model: &Self::Model, items: &[usize], at: StepAt) -> Result<Loss>;

    /// Named metrics of `model` (in inference mode: `valid()`) at the end of epoch `epoch`
    /// (from 0); long validations may call `control.check()`.
    fn validate(&mut self, model: &Self::Model, epoch: usize, control: &Control) -> Result<Named>;

    /// The learning rate of every parameter of `model` when the schedule gives `lr`: `lr` for
    /// all by default; a task may give parameter groups their own (a head at ten times the rate).
    fn learning_rates(&self, _model: &Self::Model, lr: f64) -> ModuleLearningRate {
        lr.into()
    }

    /// What training changed in the task itself (labels corrected along the way), saved with
    /// every checkpoint; `null` for tasks that change nothing.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Take back the [`Task::state`] of the checkpoint a run resumes from.
    fn restore(&mut self, _state: serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// Learning rate over the run, as a function of the fraction `t` of steps taken.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    Constant(f64),
    /// `lr * (1 + cos(pi t)) / 2` (Loshchilov & Hutter, "SGDR", ICLR 2017, without restarts).
    Cosine(f64),
}

impl Schedule {
    pub fn at(&self, t: f64) -> f64 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::Cosine(lr) => lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()),
        }
    }
}

/// Whether a larger or a smaller score is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Goal {
    Maximize,
    Minimize,
}

/// The number that picks the best epoch: a validation metric (or loss term) by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    pub metric: String,
    pub goal: Goal,
}

impl Monitor {
    fn better(&self, score: f64, than: f64) -> bool {
        match self.goal {
            Goal::Maximize => score > than,
            Goal::Minimize => score < than,
        }
    }
}

/// How to run the loop. Everything but the two paths is part of the run's identity: a
/// checkpoint is only resumed by a run with the same values (and the same `task` description).
#[derive(Debug, Clone, Serialize)]
pub struct FitConfig {
    pub epochs: usize,
    pub batch: usize,
    pub shuffle: bool,
    pub seed: u64,
    pub schedule: Schedule,
    /// The score that picks the best epoch (kept in memory and on disk).
    pub monitor: Option<Monitor>,
    /// Stop after this many epochs without a better score (needs `monitor`).
    pub patience: Option<usize>,
    /// The trainer's own settings (model shape, data), to refuse resuming another run.
    pub task: serde_json::Value,
    /// Folder of checkpoints; `None` trains without any.
    #[serde(skip)]
    pub checkpoints: Option<PathBuf>,
    /// CSV log, rewritten after every epoch; `None` for no log.
    #[serde(skip)]
    pub log: Option<PathBuf>,
}

/// What the loop tells its caller while it runs.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The run continues from a checkpoint at `at` (the next step to take).
    Resumed { at: StepAt },
    /// A step was taken: its learning rate and loss terms (`loss` first).
    Step { at: StepAt, lr: f64, terms: &'a [(String, f64)], eta: Option<Duration> },
    /// An epoch ended; `improved` when its score is the best so far.
    Epoch { record: &'a EpochRecord, improved: bool, eta: Option<Duration> },
}

/// The best epoch so far and its model.
#[derive(Debug, Clone)]
pub struct Best<M> {
    /// Counted from 1, like [`EpochRecord::epoch`].
    pub epoch: usize,
    pub score: f64,
    /// In inference mode (`valid()`): a copy that training no longer touches. (A plain
    /// `clone()` would share BatchNorm's running statistics, which burn updates in place.)
    pub model: M,
}

/// A finished run.
#[derive(Debug)]
pub struct Fitted<M> {
    /// The model after the last epoch run.
    pub model: M,
    pub history: Vec<EpochRecord>,
    /// The best epoch by the monitored score (`None` without a monitor).
    pub best: Option<Best<M>>,
    /// Whether early stopping ended the run before its last epoch.
    pub stopped_early: bool,
}

/// The best epoch as a checkpoint records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BestState {
    epoch: usize,
    #[serde(with = "exact")]
    score: f64,
    /// Folder name of the checkpoint taken at its end.
    checkpoint: String,
}

/// Everything besides model and optimiser that a resumed run needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoopState {
    /// The run's identity: [`FitConfig`] as JSON.
    config: serde_json::Value,
    /// The next step to take.
    epoch: usize,
    step: usize,
    /// Running sums of the current epoch's terms (value times batch size) and their weight.
    #[serde(with = "exact::named")]
    sums: Named,
    #[serde(with = "exact")]
    weight: f64,
    history: Vec<EpochRecord>,
    best: Option<BestState>,
    /// Epochs since the best one.
    since_best: usize,
    stopped_early: bool,
    /// [`Task::state`] when the checkpoint was taken.
    #[serde(default)]
    task: serde_json::Value,
}

/// Items of epoch `epoch`: `0..len` in order, or shuffled by `(seed, epoch)`.
pub fn epoch_order(len: usize, shuffle: bool, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle {
        let mut rng = Rng::for_item(seed ^ seeded::fnv1a("train.shuffle"), epoch as u64);
        for i in (1..len).rev() {
            order.swap(i, rng.below(i + 1));
        }
    }
    order
}

fn add_terms(sums: &mut Named, terms: &[(String, f64)], weight: f64) -> Result<()> {
    if sums.is_empty() {
        sums.extend(terms.iter().map(|(n, _)| (n.clone(), 0.0)));
    }
    if sums.len() != terms.len() || sums.iter().zip(terms).any(|(a, b)| a.0 != b.0) {
        let names = |v: &[(String, f64)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        return Err(LanternError::Internal(format!("loss terms changed from {:?} to {:?}", names(sums), names(terms))));
    }
    for (s, (_, v)) in sums.iter_mut().zip(terms) {
        s.1 += v * weight;
    }
    Ok(())
}

/// The run as JSON text read back, so it compares equal to a checkpoint's copy.
fn identity(config: &FitConfig) -> Result<serde_json::Value> {
    let text =
        serde_json::to_string(config).map_err(|e| LanternError::Internal(format!("training configuration: {e}")))?;
    serde_json::from_str(&text).map_err(|e| LanternError::Internal(format!("training configuration: {e}")))
}

/// The settings that differ between a checkpoint's configuration and this run's, as
/// `path: old, now new`.
fn differences(path: &str, old: &serde_json::Value, new: &serde_json::Value, out: &mut Vec<String>) {
    match (old, new) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let null = serde_json::Value::Null;
                let sub = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                differences(&sub, a.get(key).unwrap_or(&null), b.get(key).unwrap_or(&null), out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {a} there, {b} now")),
        _ => {}
    }
}

/// Train `model` with `optim` on `task`. With `config.checkpoints` set and a checkpoint of the
/// same configuration in it, the run continues from the newest one (a checkpoint of another
/// configuration is an error: remove the folder to start over).
pub fn fit<T: Task>(
    task: &mut T,
    model: T::Model,
    optim: ModuleOptimizer,
    config: &FitConfig,
    control: &mut Control,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Fitted<T::Model>> {
    let steps = task.train_len() / config.batch.max(1);
    if config.batch == 0 || steps == 0 || config.epochs == 0 {
        return Err(LanternError::BadArgument(format!(
            "training needs at least one epoch and one batch: {} items, batch {}, {} epochs",
            task.train_len(),
            config.batch,
            config.epochs
        )));
    }
    if config.patience.is_some() && config.monitor.is_none() {
        return Err(LanternError::BadArgument("early stopping needs a monitored metric".into()));
    }
    let mut run = Fitting::start(model, optim, config, identity(config)?, steps)?;
    if run.state.epoch > 0 || run.state.step > 0 {
        task.restore(run.state.task.clone())?;
        on_event(Event::Resumed { at: run.at(run.state.step) });
    }
    run.fit(task, control, on_event)?;
    Ok(Fitted { model: run.model, history: run.state.history, best: run.best, stopped_early: run.state.stopped_early })
}

/// One run in progress.
struct Fitting<'c, M> {
    model: M,
    optim: ModuleOptimizer,
    config: &'c FitConfig,
    state: LoopState,
    best: Option<Best<M>>,
    steps: usize,
    /// When this process started and how many steps it has taken, for the ETA.
    started: Instant,
    taken: usize,
}

impl<'c, M: Module> Fitting<'c, M> {
    fn start(
        model: M,
        optim: ModuleOptimizer,
        config: &'c FitConfig,
        identity: serde_json::Value,
        steps: usize,
    ) -> Result<Self> {
        let fresh = LoopState {
            config: identity,
            epoch: 0,
            step: 0,
            sums: Vec::new(),
            weight: 0.0,
            history: Vec::new(),
            best: None,
            since_best: 0,
            stopped_early: false,
            task: serde_json::Value::Null,
        };
        let mut run =
            Fitting { model, optim, config, state: fresh, best: None, steps, started: Instant::now(), taken: 0 };
        let Some(dir) = &config.checkpoints else { return Ok(run) };
        let Some((latest, state)) = checkpoint::list::<LoopState>(dir)?.pop() else { return Ok(run) };
        if state.config != run.state.config {
            let mut changed = Vec::new();
            differences("", &state.config, &run.state.config, &mut changed);
            return Err(LanternError::Mismatch(format!(
                "{} holds checkpoints of another training configuration ({}); remove it to start over",
                dir.display(),
                changed.join(", ")
            )));
        }
        run.model = checkpoint::load_model(&latest, run.model)?;
        run.optim = checkpoint::load_optimizer(&latest, run.optim)?;
        if let Some(b) = &state.best {
            let model = if dir.join(&b.checkpoint) == latest {
                run.model.valid()
            } else {
                checkpoint::load_model(&dir.join(&b.checkpoint), run.model.valid())?
            };
            run.best = Some(Best { epoch: b.epoch, score: b.score, model });
        }
        run.state = state;
        if let Some(log) = &config.log {
            write_log(log, &run.state.history)?;
        }
        Ok(run)
    }

    fn at(&self, step: usize) -> StepAt {
        StepAt { epoch: self.state.epoch, epochs: self.config.epochs, step, steps: self.steps }
    }

    fn eta(&self) -> Option<Duration> {
        let remaining = self.config.epochs * self.steps - self.at(self.state.step).global();
        (self.taken > 0).then(|| self.started.elapsed().mul_f64(remaining as f64 / self.taken as f64))
    }

    fn fit<T: Task<Model = M>>(
        &mut self,
        task: &mut T,
        control: &mut Control,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<()> {
        let total = self.config.epochs * self.steps;
        while self.state.epoch < self.config.epochs && !self.state.stopped_early {
            let order = epoch_order(task.train_len(), self.config.shuffle, self.config.seed, self.state.epoch);
            while self.state.step < self.steps {
                if let Err(e) = control.check() {
                    self.checkpoint(task)?;
                    return Err(e);
                }
                let at = self.at(self.state.step);
                let items = &order[at.step * self.config.batch..(at.step + 1) * self.config.batch];
                let lr = self.config.schedule.at(at.fraction());
                let terms = self.step(task, items, at, lr)?;
                add_terms(&mut self.state.sums, &terms, items.len() as f64)?;
                self.state.weight += items.len() as f64;
                self.state.step += 1;
                self.taken += 1;
                control.report(at.global() + 1, total, None);
                on_event(Event::Step { at, lr, terms: &terms, eta: self.eta() });
            }
            let metrics = match task.validate(&self.model.valid(), self.state.epoch, control) {
                Err(LanternError::Cancelled) => {
                    self.checkpoint(task)?;
                    return Err(LanternError::Cancelled);
                }
                other => other?,
            };
            let improved = self.end_epoch(task, metrics)?;
            let record = self.state.history.last().expect("an epoch was just recorded");
            on_event(Event::Epoch { record, improved, eta: self.eta() });
        }
        Ok(())
    }

    /// One optimisation step; the loss terms with `loss` first.
    fn step<T: Task<Model = M>>(&mut self, task: &mut T, items: &[usize], at: StepAt, lr: f64) -> Result<Named> {
        let loss = task.loss(&self.model, items, at)?;
        if loss.terms.iter().any(|(n, _)| n == "loss") {
            return Err(LanternError::Internal("a trainer's extra loss terms may not be named 'loss'".into()));
        }
        let value = f64::from(loss.value.clone().into_scalar::<f32>());
        if !value.is_finite() {
            return Err(LanternError::Diverged(format!(
                "the loss is {value} at epoch {} step {}",
                at.epoch + 1,
                at.step + 1
            )));
        }
        let grads = GradientsParams::from_grads(loss.value.backward(), &self.model);
        let rates = task.learning_rates(&self.model, lr);
        self.model = self.optim.step(rates, self.model.clone(), grads);
        let mut terms = vec![("loss".to_string(), value)];
        terms.extend(loss.terms);
        Ok(terms)
    }

    /// Record the finished epoch, update best and patience, checkpoint and log. Returns whether
    /// the epoch improved on the best score.
    fn end_epoch<T: Task<Model = M>>(&mut self, task: &T, metrics: Named) -> Result<bool> {
        let weight = self.state.weight.max(f64::MIN_POSITIVE);
        let terms: Named = std::mem::take(&mut self.state.sums).into_iter().map(|(n, s)| (n, s / weight)).collect();
        let epoch = self.state.epoch + 1;
        let mut record = EpochRecord { epoch, terms, metrics, score: None };
        let mut improved = false;
        if let Some(m) = &self.config.monitor {
            let score = record.get(&m.metric).ok_or_else(|| {
                LanternError::BadArgument(format!(
                    "the monitored metric '{}' is not among the epoch's numbers",
                    m.metric
                ))
            })?;
            record.score = Some(score);
            improved = self.best.as_ref().is_none_or(|b| m.better(score, b.score));
            if improved {
                self.best = Some(Best { epoch, score, model: self.model.valid() });
                self.state.best =
                    Some(BestState { epoch, score, checkpoint: checkpoint::name(epoch * self.steps, epoch) });
                self.state.since_best = 0;
            } else {
                self.state.since_best += 1;
            }
            if self.config.patience.is_some_and(|p| self.state.since_best >= p) && epoch < self.config.epochs {
                self.state.stopped_early = true;
            }
        }
        self.state.history.push(record);
        self.state.epoch += 1;
        self.state.step = 0;
        self.state.weight = 0.0;
        self.checkpoint(task)?;
        if let Some(log) = &self.config.log {
            write_log(log, &self.state.history)?;
        }
        Ok(improved)
    }

    /// Write a checkpoint at the current position (with the task's state) and drop all but it
    /// and the best.
    fn checkpoint<T: Task<Model = M>>(&mut self, task: &T) -> Result<()> {
        let Some(dir) = &self.config.checkpoints else { return Ok(()) };
        self.state.task = task.state();
        let name = checkpoint::name(self.at(self.state.step).global(), self.state.history.len());
        let latest = checkpoint::save(dir, &name, &self.model, &self.optim, &self.state)?;
        let best = self.state.best.as_ref().map(|b| dir.join(&b.checkpoint));
        let keep: Vec<&Path> = std::iter::once(latest.as_path()).chain(best.as_deref()).collect();
        checkpoint::prune(dir, &keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::network::host_values;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::AdamConfig;
    use burn::tensor::{Device, TensorData};
    use std::sync::atomic::{AtomicBool, Ordering};

    const ITEMS: usize = 24;

    /// Linear regression `y = x . (1, -2, 0.5) + 0.3` on 24 fixed points.
    struct Regression<'a> {
        device: Device,
        x: Vec<f32>,
        /// Validation scores to report instead of the measured error, epoch by epoch.
        scripted: Option<Vec<f64>>,
        /// Set this flag during the validation of this epoch (from 0).
        cancel_in_validation: Option<(usize, &'a AtomicBool)>,
    }

    impl<'a> Regression<'a> {
        fn new() -> Self {
            let x = seeded::uniform("fit.test.x", ITEMS * 3, 9).into_iter().map(|v| v as f32).collect();
            Self { device: Device::flex().autodiff(), x, scripted: None, cancel_in_validation: None }
        }

        fn data(&self, items: &[usize]) -> (Tensor<2>, Tensor<2>) {
            let x: Vec<f32> = items.iter().flat_map(|&i| self.x[i * 3..i * 3 + 3].to_vec()).collect();
            let y: Vec<f32> = x.chunks(3).map(|v| v[0] - 2.0 * v[1] + 0.5 * v[2] + 0.3).collect();
            let n = items.len();
            (
                Tensor::from_data(TensorData::new(x, [n, 3]), &self.device),
                Tensor::from_data(TensorData::new(y, [n, 1]), &self.device),
            )
        }

        fn model(&self, seed: u64) -> Linear {
            crate::models::init::seeded(&self.device, seed, || LinearConfig::new(3, 1).init(&self.device))
        }
    }

    impl Task for Regression<'_> {
        type Model = Linear;

        fn train_len(&self) -> usize {
            ITEMS
        }

        fn loss(&mut self, model: &Linear, items: &[usize], _at: StepAt) -> Result<Loss> {
            let (x, y) = self.data(items);
            let diff = model.forward(x) - y;
            let abs = f64::from(diff.clone().abs().mean().into_scalar::<f32>());
            Ok(Loss { value: diff.powi_scalar(2).mean(), terms: vec![("abs_error".into(), abs)] })
        }

        fn validate(&mut self, model: &Linear, epoch: usize, control: &Control) -> Result<Named> {
            if let Some((at, flag)) = self.cancel_in_validation
                && at == epoch
            {
                flag.store(true, Ordering::Relaxed);
                self.cancel_in_validation = None;
            }
            control.check()?;
            let all: Vec<usize> = (0..ITEMS).collect();
            let (x, y) = self.data(&all);
            let x = x.without_autodiff();
            let mse = f64::from((model.forward(x) - y.without_autodiff()).powi_scalar(2).mean().into_scalar::<f32>());
            let score = self.scripted.as_ref().map_or(mse, |s| s[epoch]);
            Ok(vec![("val_mse".into(), score)])
        }
    }

    fn config(dir: &Path, epochs: usize) -> FitConfig {
        FitConfig {
            epochs,
            batch: 4,
            shuffle: true,
            seed: 3,
            schedule: Schedule::Cosine(0.05),
            monitor: Some(Monitor { metric: "val_mse".into(), goal: Goal::Minimize }),
            patience: None,
            task: serde_json::json!({"model": "linear 3-1"}),
            checkpoints: Some(dir.join("checkpoints")),
            log: Some(dir.join("log.csv")),
        }
    }

    /// Fit from initial weights drawn with `init`, recording the steps taken in this call and
    /// where it resumed.
    fn run_from(
        init: u64,
        task: &mut Regression,
        config: &FitConfig,
        cancel: &AtomicBool,
        cancel_after: Option<usize>,
    ) -> (Result<Fitted<Linear>>, Vec<StepAt>, Option<StepAt>) {
        let mut steps = Vec::new();
        let mut resumed = None;
        let model = task.model(init);
        let mut control = Control::new(cancel);
        let fitted = fit(task, model, AdamConfig::new().init(), config, &mut control, &mut |e| match e {
            Event::Resumed { at } => resumed = Some(at),
            Event::Step { at, terms, .. } => {
                assert_eq!(terms[0].0, "loss");
                steps.push(at);
                if cancel_after == Some(at.global() + 1) {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            Event::Epoch { .. } => {}
        });
        (fitted, steps, resumed)
    }

    fn run(
        task: &mut Regression,
        config: &FitConfig,
        cancel: &AtomicBool,
        cancel_after: Option<usize>,
    ) -> (Result<Fitted<Linear>>, Vec<StepAt>, Option<StepAt>) {
        run_from(100, task, config, cancel, cancel_after)
    }

    fn weights(m: &Linear) -> Vec<f32> {
        let mut w = host_values(m.weight.val());
        w.extend(host_values(m.bias.as_ref().unwrap().val()));
        w
    }

    #[test]
    fn an_interrupted_run_resumes_to_the_same_weights_and_log() {
        let straight = tempfile::tempdir().unwrap();
        let never = AtomicBool::new(false);
        let (done, steps, _) = run(&mut Regression::new(), &config(straight.path(), 4), &never, None);
        let done = done.unwrap();
        assert_eq!(steps.len(), 4 * ITEMS / 4);
        assert!(
            done.history[3].get("val_mse").unwrap() < done.history[0].get("val_mse").unwrap(),
            "it learns: {:?}",
            done.history
        );

        let broken = tempfile::tempdir().unwrap();
        let cfg = config(broken.path(), 4);
        // Cancelled after 8 steps: in the middle of epoch 2 (6 steps per epoch).
        let cancel = AtomicBool::new(false);
        let (first, steps, _) = run(&mut Regression::new(), &cfg, &cancel, Some(8));
        assert!(matches!(first, Err(LanternError::Cancelled)), "{first:?}");
        assert_eq!(steps.len(), 8, "the loop stops between steps");
        assert!(cfg.checkpoints.as_ref().unwrap().join("step-00000008-epoch-0001").join("state.json").is_file());

        // Resumed, then cancelled inside the validation of epoch 3.
        cancel.store(false, Ordering::Relaxed);
        let mut task = Regression::new();
        task.cancel_in_validation = Some((2, &cancel));
        // Other initial weights: a resumed run must take the checkpoint's.
        let (second, steps, resumed) = run_from(200, &mut task, &cfg, &cancel, None);
        assert!(matches!(second, Err(LanternError::Cancelled)));
        assert_eq!(resumed.map(|a| (a.epoch, a.step)), Some((1, 2)));
        assert_eq!(steps.len(), 18 - 8);

        cancel.store(false, Ordering::Relaxed);
        let (third, steps, resumed) = run_from(300, &mut Regression::new(), &cfg, &cancel, None);
        let third = third.unwrap();
        assert_eq!(resumed.map(|a| (a.epoch, a.step)), Some((2, 6)), "validation is redone, no step is");
        assert_eq!(steps.len(), 6);

        let (a, b) = (weights(&done.model), weights(&third.model));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-6, "{a:?} vs {b:?}");
        }
        assert_eq!(done.history.len(), third.history.len());
        for (x, y) in done.history.iter().zip(&third.history) {
            assert_eq!(x.epoch, y.epoch);
            for ((n, u), (m, v)) in x.terms.iter().chain(&x.metrics).zip(y.terms.iter().chain(&y.metrics)) {
                assert_eq!(n, m);
                assert!((u - v).abs() <= 1e-6 * u.abs().max(1e-3), "epoch {} {n}: {u} vs {v}", x.epoch);
            }
        }
        let log = std::fs::read_to_string(broken.path().join("log.csv")).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines[0], "epoch,loss,abs_error,val_mse");
        assert_eq!(lines.len(), 5);
        assert!(lines[4].starts_with("4,"));
        let straight_log = std::fs::read_to_string(straight.path().join("log.csv")).unwrap();
        assert_eq!(straight_log.lines().count(), 5);
    }

    #[test]
    fn early_stopping_ends_the_run_and_keeps_the_best_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 10);
        cfg.patience = Some(2);
        let never = AtomicBool::new(false);
        let mut task = Regression::new();
        task.scripted = Some(vec![0.5, 0.3, 0.4, 0.35, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
        let (fitted, steps, _) = run(&mut task, &cfg, &never, None);
        let fitted = fitted.unwrap();
        assert!(fitted.stopped_early);
        assert_eq!(fitted.history.len(), 4, "epochs 3 and 4 do not beat epoch 2");
        assert_eq!(steps.len(), 4 * 6);
        let best = fitted.best.as_ref().unwrap();
        assert_eq!((best.epoch, best.score), (2, 0.3));
        let checkpoints = cfg.checkpoints.as_ref().unwrap();
        let mut kept: Vec<String> = std::fs::read_dir(checkpoints)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            ["step-00000012-epoch-0002", "step-00000024-epoch-0004"],
            "the best and the latest checkpoint"
        );
        let from_disk = checkpoint::load_model(&checkpoints.join(&kept[0]), task.model(1)).unwrap();
        assert_eq!(weights(&from_disk), weights(&best.model));
        assert_ne!(weights(&fitted.model), weights(&best.model));

        // A second run finds the stopped run and only hands back its result.
        let (again, steps, _) = run(&mut task, &cfg, &never, None);
        let again = again.unwrap();
        assert!(steps.is_empty() && again.stopped_early);
        assert_eq!(again.best.map(|b| weights(&b.model)), Some(weights(&best.model)));
    }

    #[test]
    fn another_configuration_does_not_resume_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let never = AtomicBool::new(false);
        run(&mut Regression::new(), &config(dir.path(), 1), &never, None).0.unwrap();
        let mut other = config(dir.path(), 1);
        other.batch = 6;
        let err = run(&mut Regression::new(), &other, &never, None).0.unwrap_err().to_string();
        assert!(err.contains("another training configuration (batch: 4 there, 6 now)"), "{err}");
        let mut no_monitor = config(dir.path(), 1);
        no_monitor.monitor = None;
        no_monitor.patience = Some(1);
        assert!(run(&mut Regression::new(), &no_monitor, &never, None).0.is_err());
    }

    #[test]
    fn each_epoch_has_its_own_fixed_order() {
        let a = epoch_order(50, true, 1, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(50, true, 1, 0));
        assert_ne!(a, epoch_order(50, true, 1, 1));
        assert_ne!(a, epoch_order(50, true, 2, 0));
        assert_eq!(epoch_order(5, false, 1, 3), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn cosine_schedule_decays_from_the_rate_to_zero() {
        let s = Schedule::Cosine(0.2);
        assert_eq!(s.at(0.0), 0.2);
        assert!((s.at(0.5) - 0.1).abs() < 1e-12);
        assert!(s.at(1.0).abs() < 1e-12);
        assert_eq!(Schedule::Constant(0.3).at(0.7), 0.3);
    }
}
