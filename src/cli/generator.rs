//! `lantern train generator`: train a weight-map generator for a classifier.

use super::progress::{FitProgress, epoch_line};
use crate::control::Control;
use crate::datasets::Format;
use crate::error::{LanternError, Result};
use crate::train::generator::{
    self, ClassTarget, GeneratorConfig, GeneratorData, GeneratorFiles, LossWeights, Objective,
};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct TrainGeneratorArgs {
    /// The classifier to explain (its weights file); it stays frozen.
    #[arg(long)]
    pub classifier: PathBuf,
    /// The classifier's architecture, when the file's key layout should not decide it.
    #[arg(long)]
    pub arch: Option<String>,
    /// Generator file to write (default: <classifier stem>.generator.safetensors beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Dataset folder to train on (without it: procedural images drawn on the fly).
    #[arg(long, requires = "format")]
    pub data: Option<PathBuf>,
    /// Its format: folder, cub, voc, coco, synth or outfits.
    #[arg(long)]
    pub format: Option<Format>,
    /// classifier (CE on I*M, background suppression), siamese (two triplet losses) or both.
    #[arg(long, default_value = "classifier")]
    pub objective: Objective,
    /// The class the losses use: label or prediction (the classifier's top-1 on the image).
    #[arg(long, default_value = "label")]
    pub target: ClassTarget,
    /// Weight of the foreground cross-entropy (classifier objective).
    #[arg(long, default_value_t = LossWeights::default().ce)]
    pub ce: f64,
    /// Weight of the background suppression -log(1 - p(y | I*(1-M))) (classifier objective).
    #[arg(long, default_value_t = LossWeights::default().background)]
    pub background: f64,
    /// Weight of triplet loss 1: image, foreground, background (siamese objective).
    #[arg(long, default_value_t = LossWeights::default().triplet_image)]
    pub triplet_image: f64,
    /// Weight of triplet loss 2: foregrounds of one class against other classes (siamese objective).
    #[arg(long, default_value_t = LossWeights::default().triplet_class)]
    pub triplet_class: f64,
    /// Triplet margin on squared distances between unit embeddings.
    #[arg(long, default_value_t = LossWeights::default().margin)]
    pub margin: f64,
    /// Weight of the area prior mean(M).
    #[arg(long, default_value_t = LossWeights::default().area)]
    pub area: f64,
    /// Weight of the total variation of M (0: off).
    #[arg(long, default_value_t = LossWeights::default().tv)]
    pub tv: f64,
    /// Classifier layers the decoder reads, finest first, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub taps: Option<Vec<String>>,
    /// Decoder widths, one per tap, comma-separated (default: a quarter of each tap's channels).
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// Procedural training images per epoch (fresh every epoch; without --data).
    #[arg(long, default_value_t = 1600)]
    pub count: usize,
    /// Validation images: a procedural split of --val-seed, or held out of --data.
    #[arg(long, default_value_t = 200)]
    pub val_count: usize,
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 0.002)]
    pub lr: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1_000_001)]
    pub val_seed: u64,
    /// Range of procedural image sides (resized to the classifier's input).
    #[arg(long, default_value_t = 80)]
    pub min_size: u32,
    #[arg(long, default_value_t = 224)]
    pub max_size: u32,
    /// Stop after this many epochs without a better validation score.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Loss terms and validation metrics per epoch, as CSV (default: <out>.log.csv).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Checkpoint folder (default: <out>.checkpoints); a run with the same settings resumes there.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Folder for the PNG plots of the loss terms and validation metrics (default: <out>.plots).
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Where to compute: auto (a hardware GPU if present, else CPU), cpu, wgpu, or remote:<server>
    /// with --token-file (see `lantern serve`).
    #[arg(long, default_value = "auto")]
    pub device: crate::device::DeviceChoice,
}

impl TrainGeneratorArgs {
    fn config(&self) -> Result<GeneratorConfig> {
        let data = match (&self.data, self.format) {
            (Some(dir), Some(format)) => GeneratorData::Folder { dir: dir.clone(), format, val_count: self.val_count },
            (None, _) => GeneratorData::Synth {
                seed: self.seed,
                count: self.count,
                sizes: (self.min_size, self.max_size),
                val_seed: self.val_seed,
                val_count: self.val_count,
            },
            (Some(_), None) => return Err(LanternError::BadArgument("--data needs --format".into())),
        };
        let weights = LossWeights {
            ce: self.ce,
            background: self.background,
            triplet_image: self.triplet_image,
            triplet_class: self.triplet_class,
            margin: self.margin,
            area: self.area,
            tv: self.tv,
        };
        if [
            weights.ce,
            weights.background,
            weights.triplet_image,
            weights.triplet_class,
            weights.margin,
            weights.area,
            weights.tv,
        ]
        .iter()
        .any(|w| !w.is_finite() || *w < 0.0)
        {
            return Err(LanternError::BadArgument(
                "loss weights and the margin must be finite and not negative".into(),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(LanternError::BadArgument(format!("--lr must be positive, got {}", self.lr)));
        }
        if self.val_count == 0 {
            return Err(LanternError::BadArgument("--val-count must be at least 1".into()));
        }
        Ok(GeneratorConfig {
            classifier: self.classifier.clone(),
            arch: self.arch.clone(),
            data,
            objective: self.objective,
            target: self.target,
            weights,
            taps: self.taps.clone(),
            widths: self.widths.clone(),
            epochs: self.epochs,
            batch: self.batch,
            learning_rate: self.lr,
            seed: self.seed,
            patience: self.patience,
        })
    }
}

pub fn train(args: &TrainGeneratorArgs) -> Result<()> {
    let config = args.config()?;
    let out = args.out.clone().unwrap_or_else(|| crate::models::generator::beside(&args.classifier));
    let log = args.log.clone().unwrap_or_else(|| out.with_extension("log.csv"));
    let checkpoints = args.checkpoints.clone().unwrap_or_else(|| out.with_extension("checkpoints"));
    let plots = args.plots.clone().unwrap_or_else(|| out.with_extension("plots"));
    let files = GeneratorFiles { checkpoints: Some(checkpoints.clone()), log: Some(log.clone()) };
    let device = crate::device::choose(args.device)?;
    eprintln!("device: {}", device.description);
    let mut progress = FitProgress::new(&checkpoints, epoch_line);
    let trained =
        generator::train(&config, &files, &device.device, &mut Control::none(), &mut |event| progress.on(event))?;
    progress.finish();
    if trained.fitted.stopped_early {
        println!("stopped early: {} epochs without a better {}", args.patience.unwrap_or(0), trained.monitor);
    }
    if let Some(best) = &trained.fitted.best {
        println!("best epoch: {} ({} {:.2})", best.epoch, trained.monitor, best.score);
    }
    trained.save(&out)?;
    let written = generator::write_plots(&plots, &trained.fitted.history)?;
    println!("saved {} (log {}, {} plots in {})", out.display(), log.display(), written.len(), plots.display());
    Ok(())
}
