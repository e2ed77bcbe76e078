//! Training checkpoints on disk: one folder per checkpoint,
//! `step-{global step:08}-epoch-{epochs finished:04}/` (the epoch count tells the checkpoint
//! taken when a cancel interrupts validation from the one taken after it), holding
//! `model.bpk` (the module's parameters with their ids, burnpack), `optimizer.bpk` (the
//! optimiser's per-parameter state, keyed by those ids) and `state.json` (the loop's position and
//! bookkeeping, see [`super::fit`]).
//!
//! A checkpoint is built in a `.step-{n}.partial/` sibling, every file synced, and renamed into
//! place, so a folder under its final name is always complete, even after SIGKILL. The newest
//! complete folder is the one to resume from; partial folders are ignored and swept away.

use crate::error::{LanternError, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "state.json";
const PREFIX: &str = "step-";
const PARTIAL: &str = ".partial";

/// The folder name of the checkpoint taken after `global_step` optimisation steps and
/// `epochs` finished epochs (validated and logged).
pub fn name(global_step: usize, epochs: usize) -> String {
    format!("{PREFIX}{global_step:08}-epoch-{epochs:04}")
}

/// `(global step, epochs)` of a checkpoint folder name.
fn position(name: &str) -> Option<(usize, usize)> {
    let (step, epochs) = name.strip_prefix(PREFIX)?.split_once("-epoch-")?;
    Some((step.parse().ok()?, epochs.parse().ok()?))
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> LanternError {
    LanternError::BadArgument(format!("{}: {what}", path.display()))
}

/// Flush a written file (or folder entry list) to the disk.
fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| LanternError::io(path, e))
}

/// Write checkpoint `name` into `dir` unless a complete one of that name is already there
/// (the loop's state at a given step is always the same, so it would hold the same bytes).
pub fn save<M: Module, S: Serialize>(
    dir: &Path,
    name: &str,
    model: &M,
    optim: &ModuleOptimizer,
    state: &S,
) -> Result<PathBuf> {
    let target = dir.join(name);
    if target.join(STATE).is_file() {
        return Ok(target);
    }
    std::fs::create_dir_all(dir).map_err(|e| LanternError::io(dir, e))?;
    let scratch = dir.join(format!(".{name}{PARTIAL}"));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(|e| LanternError::io(&scratch, e))?;
    }
    std::fs::create_dir(&scratch).map_err(|e| LanternError::io(&scratch, e))?;
    let model_path = scratch.join(MODEL);
    // `valid()` folds each running statistic's pending update (BatchNorm's last batch, which
    // burn applies only at the next read) into its value; the copy it returns has the same
    // parameter ids, and loading puts its plain tensors back on the training model's device.
    model.valid().into_record().save(&model_path).map_err(|e| invalid(&model_path, e))?;
    let optim_path = scratch.join(OPTIMIZER);
    optim.save(&optim_path).map_err(|e| invalid(&optim_path, e))?;
    let state_path = scratch.join(STATE);
    let json = serde_json::to_vec_pretty(state).map_err(|e| invalid(&state_path, e))?;
    std::fs::write(&state_path, json).map_err(|e| LanternError::io(&state_path, e))?;
    for f in [&model_path, &optim_path, &state_path, &scratch] {
        sync(f)?;
    }
    if target.exists() {
        // An incomplete folder under the final name (no state.json): not a checkpoint.
        std::fs::remove_dir_all(&target).map_err(|e| LanternError::io(&target, e))?;
    }
    std::fs::rename(&scratch, &target).map_err(|e| LanternError::io(&target, e))?;
    sync(dir)?;
    Ok(target)
}

/// The complete checkpoints in `dir`, oldest first, with their states; an absent folder has none.
pub fn list<S: DeserializeOwned>(dir: &Path) -> Result<Vec<(PathBuf, S)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LanternError::io(dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LanternError::io(dir, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(step) = position(&file_name) else { continue };
        let state_path = entry.path().join(STATE);
        let Ok(bytes) = std::fs::read(&state_path) else { continue };
        let state = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(&state_path, format!("not a Lantern training state ({e})")))?;
        found.push((step, entry.path(), state));
    }
    found.sort_by_key(|(position, _, _)| *position);
    Ok(found.into_iter().map(|(_, path, state)| (path, state)).collect())
}

/// The bytes of a checkpoint file, read whole: records loaded from a file path read their
/// tensors lazily, from a file a later [`prune`] may have removed.
fn read(file: &Path) -> Result<Bytes> {
    std::fs::read(file).map(Bytes::from_bytes_vec).map_err(|e| LanternError::io(file, e))
}

/// `model` with the parameters (and parameter ids) of checkpoint `path`.
pub fn load_model<M: Module>(path: &Path, model: M) -> Result<M> {
    let file = path.join(MODEL);
    let record = burn::store::ModuleRecord::from_bytes(read(&file)?).map_err(|e| invalid(&file, e))?;
    model.try_load_record(record).map_err(|e| invalid(&file, e))
}

/// `optim` with the state of checkpoint `path`.
pub fn load_optimizer(path: &Path, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
    let file = path.join(OPTIMIZER);
    optim.from_bytes(read(&file)?).map_err(|e| invalid(&file, e))
}

/// Remove every checkpoint and partial folder in `dir` but those in `keep`.
pub fn prune(dir: &Path, keep: &[&Path]) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| LanternError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LanternError::io(dir, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let ours = file_name.starts_with(PREFIX) || (file_name.starts_with('.') && file_name.ends_with(PARTIAL));
        let path = entry.path();
        if ours && path.is_dir() && !keep.iter().any(|k| *k == path) {
            std::fs::remove_dir_all(&path).map_err(|e| LanternError::io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::{Device, Tensor};

    #[test]
    fn a_checkpoint_restores_weights_ids_and_optimiser_state() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex().autodiff();
        let mut model: Linear = crate::models::init::seeded(&device, 5, || LinearConfig::new(3, 2).init(&device));
        let mut optim = AdamConfig::new().init();
        let x = Tensor::<2>::ones([4, 3], &device);
        let step = |model: Linear, optim: &mut ModuleOptimizer| {
            let grads = GradientsParams::from_grads(model.forward(x.clone()).sum().backward(), &model);
            optim.step(0.1, model, grads)
        };
        model = step(model, &mut optim);
        let path = save(dir.path(), &name(1, 0), &model, &optim, &serde_json::json!({"at": 1})).unwrap();
        assert_eq!(path, dir.path().join("step-00000001-epoch-0000"));

        let fresh: Linear = crate::models::init::seeded(&device, 6, || LinearConfig::new(3, 2).init(&device));
        let mut restored = load_model(&path, fresh).unwrap();
        let mut restored_optim = load_optimizer(&path, AdamConfig::new().init()).unwrap();
        // What was loaded no longer needs the files.
        prune(dir.path(), &[]).unwrap();
        restored = step(restored, &mut restored_optim);
        model = step(model, &mut optim);
        assert_eq!(
            model.weight.val().into_data(),
            restored.weight.val().into_data(),
            "same weights after one more step"
        );

        save(dir.path(), &name(1, 0), &model, &optim, &serde_json::json!({"at": 1})).unwrap();
        std::fs::create_dir(dir.path().join(".step-00000002-epoch-0000.partial")).unwrap();
        std::fs::create_dir(dir.path().join("step-00000003-epoch-0001")).unwrap();
        assert_eq!(position("step-00000003-epoch-0001"), Some((3, 1)));
        let found: Vec<(PathBuf, serde_json::Value)> = list(dir.path()).unwrap();
        assert_eq!(found.len(), 1, "only complete checkpoints are listed");
        assert_eq!(found[0].1["at"], 1);
        prune(dir.path(), &[]).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
