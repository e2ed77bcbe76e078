//! Training a weight-map generator (seed 000, [`crate::train::generator`]) for the open model, as
//! a background task that feeds the Train panel's curves as it goes.

use crate::app::model::ModelSource;
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::train::fit::Event;
use crate::train::generator::{self, GeneratorConfig, GeneratorFiles};
use crate::train::history::EpochRecord;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

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

/// A finished run: the generator file written, and what to tell the user.
#[derive(Debug)]
pub struct Trained {
    pub file: PathBuf,
    pub message: String,
}

/// The task: train, feeding `live`, and write the generator to `out`.
pub fn train(
    config: &GeneratorConfig,
    files: &GeneratorFiles,
    out: &Path,
    live: &Mutex<Live>,
    control: &mut Control,
) -> Result<Trained> {
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
    Ok(Trained { file: out.to_path_buf(), message })
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

/// The classifier file a run trains for and where its generator goes: beside a file model (as
/// `lantern train generator` does, so it is found again), or in `out_dir` for the demo,
/// whose weights are written there once.
pub fn classifier_and_out(out_dir: &Path, model: &ModelSource) -> Result<(PathBuf, PathBuf)> {
    match model {
        ModelSource::File(p) => Ok((p.clone(), fresh(crate::models::generator::beside(p)))),
        ModelSource::Given(file) => Err(LanternError::BadArgument(format!(
            "{}: a generator is trained for a model file on disk, and a model given to the web page has none",
            file.name
        ))),
        ModelSource::Demo => {
            std::fs::create_dir_all(out_dir).map_err(|e| LanternError::io(out_dir, e))?;
            let weights = out_dir.join("lantern_cnn.safetensors");
            if std::fs::read(&weights).ok().as_deref() != Some(crate::models::demo::WEIGHTS) {
                crate::files::write_atomic(&weights, |f| std::io::Write::write_all(f, crate::models::demo::WEIGHTS))?;
            }
            Ok((weights.clone(), fresh(crate::models::generator::beside(&weights))))
        }
    }
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
