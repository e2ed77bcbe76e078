//! `lantern synth` (write the procedural benchmark) and `lantern train classifier` (the
//! generator's trainer is in [`super::generator`]).

use super::progress::{FitProgress, progress_bar};
use crate::control::Control;
use crate::datasets::{synth_folder, synth_multi, synth_outfits};
use crate::error::Result;
use crate::train::classifier::{self, TrainConfig, TrainFiles};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Folder to write (images/<class>/, masks/, classes.txt, annotations.json).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Image side in pixels (64 to 224 is typical).
    #[arg(long, default_value_t = 112)]
    pub size: u32,
    /// Write the multi-label variant: 1 to 4 objects per image, each with its mask and box,
    /// and one observed positive label per image (multilabel.json).
    #[arg(long, conflicts_with = "outfits")]
    pub multilabel: bool,
    /// Write the outfits variant: 2 to 4 items (top, bottom, shoes, bag) in the image's
    /// quadrants, each with its own attributes and mask (outfits.json).
    #[arg(long)]
    pub outfits: bool,
}

pub fn synth(args: &SynthArgs) -> Result<()> {
    let bar = progress_bar(args.count as u64, "{bar:30} {pos}/{len} images  {elapsed_precise}");
    if args.multilabel {
        let a = synth_multi::write(&args.out, args.count, args.seed, args.size, |done| bar.set_position(done as u64))?;
        bar.finish_and_clear();
        println!(
            "wrote {} multi-label images of {} classes to {}",
            a.images.len(),
            a.classes.len(),
            args.out.display()
        );
        return Ok(());
    }
    if args.outfits {
        let a =
            synth_outfits::write(&args.out, args.count, args.seed, args.size, |done| bar.set_position(done as u64))?;
        bar.finish_and_clear();
        let items: usize = a.images.iter().map(|i| i.items.len()).sum();
        println!("wrote {} outfits ({items} items) to {}", a.images.len(), args.out.display());
        return Ok(());
    }
    let a = synth_folder::write(&args.out, args.count, args.seed, args.size, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    println!("wrote {} images of {} classes to {}", a.images.len(), a.classes.len(), args.out.display());
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Train the demo CNN (GAP + linear head) on the procedural benchmark.
    Classifier(TrainClassifierArgs),
    /// Train a weight-map generator (seed paper 000) for a frozen classifier.
    Generator(super::generator::TrainGeneratorArgs),
    /// Train an embedding network (triplet loss on shape and attribute agreement).
    Embedding(super::train_similarity::TrainEmbeddingArgs),
    /// Train an attribute predictor (one map per attribute value) guided by an embedding's saliency.
    Attributes(super::train_similarity::TrainAttributesArgs),
    /// Train a multi-label classifier with single positive labels (AN, LL-R, LL-Ct, LL-Cp; optionally BoostLU), then test it.
    Multilabel(super::train_multilabel::TrainMultilabelArgs),
}

#[derive(Debug, clap::Args)]
pub struct TrainClassifierArgs {
    /// Weights file to write (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// Block widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "24,48,96,160")]
    pub widths: Vec<usize>,
    /// Training images per epoch (fresh images every epoch).
    #[arg(long, default_value_t = 6000)]
    pub count: usize,
    #[arg(long, default_value_t = 600)]
    pub val_count: usize,
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 0.002)]
    pub lr: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1_000_001)]
    pub val_seed: u64,
    /// Range of generated image sides (images are resized to the model's 112x112 input).
    #[arg(long, default_value_t = 80)]
    pub min_size: u32,
    #[arg(long, default_value_t = 224)]
    pub max_size: u32,
    /// Loss and accuracy per epoch, as CSV (default: <out>.log.csv).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Checkpoint folder (default: <out>.checkpoints); a run with the same settings resumes
    /// from the newest checkpoint in it.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Stop after this many epochs without a better validation accuracy, and write the best
    /// epoch's weights (without it, the last epoch's).
    #[arg(long)]
    pub patience: Option<usize>,
}

pub fn train(command: &TrainCommand) -> Result<()> {
    let args = match command {
        TrainCommand::Classifier(args) => args,
        TrainCommand::Generator(args) => return super::generator::train(args),
        TrainCommand::Embedding(args) => return super::train_similarity::train_embedding(args),
        TrainCommand::Attributes(args) => return super::train_similarity::train_attributes(args),
        TrainCommand::Multilabel(args) => return super::train_multilabel::run(args),
    };
    let config = TrainConfig {
        widths: args.widths.clone(),
        sizes: (args.min_size, args.max_size),
        train_count: args.count,
        val_count: args.val_count,
        epochs: args.epochs,
        batch: args.batch,
        learning_rate: args.lr,
        seed: args.seed,
        val_seed: args.val_seed,
        patience: args.patience,
    };
    let log_path = args.log.clone().unwrap_or_else(|| args.out.with_extension("log.csv"));
    let checkpoints = args.checkpoints.clone().unwrap_or_else(|| args.out.with_extension("checkpoints"));
    let files = TrainFiles { checkpoints: Some(checkpoints.clone()), log: Some(log_path.clone()) };
    let device = crate::device::ComputeDevice::cpu();
    eprintln!("device: {}", device.description);
    let mut progress = FitProgress::new(&checkpoints, |record, _| {
        let get = |name| record.get(name).unwrap_or(f64::NAN);
        format!(
            "epoch {}: loss {:.4}  train {:.1}%  val {:.1}%",
            record.epoch,
            get("loss"),
            get("train_accuracy") * 100.0,
            get("val_accuracy") * 100.0
        )
    });
    let fitted =
        classifier::train(&config, &files, &device.device, &mut Control::none(), &mut |event| progress.on(event))?;
    progress.finish();
    if fitted.stopped_early {
        println!("stopped early: {} epochs without a better validation accuracy", args.patience.unwrap_or(0));
    }
    let model = match (args.patience, &fitted.best) {
        (Some(_), Some(best)) => {
            println!("best epoch: {} (val {:.1}%)", best.epoch, best.score * 100.0);
            &best.model
        }
        _ => &fitted.model,
    };
    model.save(&args.out)?;
    println!("saved {} (log {})", args.out.display(), log_path.display());
    Ok(())
}
