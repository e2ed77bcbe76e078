//! `lantern train embedding` and `lantern train attributes`: the similarity models of
//! `lantern similar`, trained on the procedural benchmark with the shared loop.

use super::progress::{FitProgress, epoch_line};
use crate::control::Control;
use crate::datasets::synth_attributes;
use crate::datasets::synth_outfits::MatchRule;
use crate::error::{LanternError, Result};
use crate::files::write_atomic;
use crate::train::attributes::{self, AttributeConfig};
use crate::train::embedding::{self, EmbeddingConfig, RunFiles};
use crate::train::fit::{Event, Fitted};
use crate::train::scenes::Scenes;
use burn::module::Module;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Settings both trainers share.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Weights file to write (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// Where to train: cpu, wgpu, auto or remote:<server> (see `lantern serve`).
    #[arg(long, default_value = "cpu")]
    pub device: crate::device::DeviceChoice,
    /// Trunk block widths, comma-separated (a 2x2 max-pool between blocks).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,64")]
    pub widths: Vec<usize>,
    /// Training images per epoch (fresh images every epoch).
    #[arg(long, default_value_t = 3000)]
    pub count: usize,
    #[arg(long, default_value_t = 500)]
    pub val_count: usize,
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 0.003)]
    pub lr: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1_000_001)]
    pub val_seed: u64,
    /// Range of generated image sides (resized to the model's 64x64 input).
    #[arg(long, default_value_t = 64)]
    pub min_size: u32,
    #[arg(long, default_value_t = 128)]
    pub max_size: u32,
    /// Per-epoch log as CSV (default: <out>.log.csv).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Checkpoint folder (default: <out>.checkpoints); a run with the same settings resumes.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Stop after this many epochs without a better validation score, and write the best epoch.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Train on the outfits benchmark with this match rule (slots, then groups: top:colour+texture,
    /// the default when the flag has no value) instead of the single-object one.
    #[arg(long, num_args = 0..=1, default_missing_value = "top:colour+texture")]
    pub outfits: Option<MatchRule>,
}

impl CommonArgs {
    fn scenes(&self) -> Scenes {
        self.outfits.clone().map_or(Scenes::Objects, Scenes::Outfits)
    }
}

#[derive(Debug, clap::Args)]
pub struct TrainEmbeddingArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Embedding dimension.
    #[arg(long, default_value_t = 32)]
    pub dim: usize,
    /// Triplet margin per shared property (shape, colour, texture, size).
    #[arg(long, default_value_t = 0.1)]
    pub margin: f64,
}

#[derive(Debug, clap::Args)]
pub struct TrainAttributesArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The embedding model whose similarity saliency the attribute maps are pulled toward.
    #[arg(long)]
    pub embedding: PathBuf,
    /// Weight of the saliency-agreement term (0: attribute classification alone).
    #[arg(long, default_value_t = 0.5)]
    pub saliency_weight: f64,
}

fn files(c: &CommonArgs) -> (RunFiles, PathBuf, PathBuf) {
    let log = c.log.clone().unwrap_or_else(|| c.out.with_extension("log.csv"));
    let checkpoints = c.checkpoints.clone().unwrap_or_else(|| c.out.with_extension("checkpoints"));
    (RunFiles { checkpoints: Some(checkpoints.clone()), log: Some(log.clone()) }, log, checkpoints)
}

/// Train with a progress bar; every epoch's numbers are printed. Returns the model to save:
/// the best epoch's with `--patience`, else the last.
fn run<M: Module>(
    c: &CommonArgs,
    train: impl FnOnce(&RunFiles, &mut dyn FnMut(Event<'_>)) -> Result<Fitted<M>>,
) -> Result<(M, PathBuf)> {
    let (files, log, checkpoints) = files(c);
    let mut progress = FitProgress::new(&checkpoints, epoch_line);
    let fitted = train(&files, &mut |event| progress.on(event))?;
    progress.finish();
    if fitted.stopped_early {
        println!("stopped early: {} epochs without a better validation score", c.patience.unwrap_or(0));
    }
    let model = match (c.patience, fitted.best) {
        (Some(_), Some(best)) => {
            println!("best epoch: {} (score {:.4})", best.epoch, best.score);
            best.model
        }
        _ => fitted.model,
    };
    Ok((model, log))
}

fn device(c: &CommonArgs) -> Result<burn::tensor::Device> {
    let device = crate::device::choose(c.device)?;
    eprintln!("device: {}", device.description);
    Ok(device.device)
}

/// `lantern train embedding`.
pub fn train_embedding(args: &TrainEmbeddingArgs) -> Result<()> {
    let c = &args.common;
    let config = EmbeddingConfig {
        widths: c.widths.clone(),
        dim: args.dim,
        sizes: (c.min_size, c.max_size),
        train_count: c.count,
        val_count: c.val_count,
        epochs: c.epochs,
        batch: c.batch,
        learning_rate: c.lr,
        margin: args.margin,
        seed: c.seed,
        val_seed: c.val_seed,
        patience: c.patience,
        scenes: c.scenes(),
    };
    let device = device(c)?;
    let (model, log) =
        run(c, |files, on_event| embedding::train(&config, files, &device, &mut Control::none(), on_event))?;
    model.save(&c.out)?;
    println!("saved {} (log {})", c.out.display(), log.display());
    Ok(())
}

/// `<out>.labels.txt`: the attribute values' names, one per line.
fn write_labels(out: &Path) -> Result<PathBuf> {
    let path = out.with_extension("labels.txt");
    let text = synth_attributes::names().join("\n") + "\n";
    write_atomic(&path, |f| f.write_all(text.as_bytes()))?;
    Ok(path)
}

/// `lantern train attributes`.
pub fn train_attributes(args: &TrainAttributesArgs) -> Result<()> {
    let c = &args.common;
    let device = device(c)?;
    let embedder = crate::models::embedding::penultimate(crate::models::load(&args.embedding, None, &device)?);
    let digest = crate::digest::sha256_file(&args.embedding).map_err(|e| LanternError::io(&args.embedding, e))?;
    let config = AttributeConfig {
        widths: c.widths.clone(),
        sizes: (c.min_size, c.max_size),
        train_count: c.count,
        val_count: c.val_count,
        epochs: c.epochs,
        batch: c.batch,
        learning_rate: c.lr,
        saliency_weight: args.saliency_weight,
        seed: c.seed,
        val_seed: c.val_seed,
        patience: c.patience,
        embedding_digest: digest,
        scenes: c.scenes(),
    };
    let (model, log) = run(c, |files, on_event| {
        attributes::train(&config, &embedder, files, &device, &mut Control::none(), on_event)
    })?;
    model.save(&c.out)?;
    let labels = write_labels(&c.out)?;
    println!("saved {} with {} (log {})", c.out.display(), labels.display(), log.display());
    Ok(())
}
