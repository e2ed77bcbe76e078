//! `lantern synth` (write the procedural benchmark) and `lantern train classifier`.

use crate::datasets::synth_folder;
use crate::error::{LanternError, Result};
use crate::train::classifier::{self, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

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
}

pub fn synth(args: &SynthArgs) -> Result<()> {
    let bar = progress_bar(args.count as u64, "{bar:30} {pos}/{len} images  {elapsed_precise}");
    let a = synth_folder::write(&args.out, args.count, args.seed, args.size, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    println!("wrote {} images of {} classes to {}", a.images.len(), a.classes.len(), args.out.display());
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Train the demo CNN (GAP + linear head) on the procedural benchmark.
    Classifier(TrainClassifierArgs),
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
}

pub fn train(command: &TrainCommand) -> Result<()> {
    let TrainCommand::Classifier(args) = command;
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
    };
    let device = crate::device::ComputeDevice::cpu();
    eprintln!("device: {}", device.description);
    let log_path = args.log.clone().unwrap_or_else(|| args.out.with_extension("log.csv"));
    let mut log = std::fs::File::create(&log_path).map_err(|e| LanternError::io(&log_path, e))?;
    writeln!(log, "epoch,loss,train_accuracy,val_accuracy").map_err(|e| LanternError::io(&log_path, e))?;
    let steps = (args.count / args.batch.max(1)) as u64;
    let bar = progress_bar(steps * args.epochs as u64, "{bar:30} {pos}/{len} steps  {elapsed_precise}  {msg}");
    let stop = AtomicBool::new(false);
    let mut io_error = None;
    let model = classifier::train(
        &config,
        &device.device,
        &stop,
        |epoch, _, _, loss| {
            bar.inc(1);
            bar.set_message(format!("epoch {} loss {loss:.3}", epoch + 1));
        },
        |e, model| {
            bar.suspend(|| {
                println!("epoch {}: loss {:.4}  train {:.1}%  val {:.1}%", e.epoch + 1, e.loss, e.train_accuracy * 100.0, e.val_accuracy * 100.0)
            });
            if let Err(err) = writeln!(log, "{},{},{},{}", e.epoch + 1, e.loss, e.train_accuracy, e.val_accuracy) {
                io_error.get_or_insert(err);
            }
            // Every epoch's weights are saved, so an interrupted run keeps its progress.
            model.save(&args.out)
        },
    )?;
    bar.finish_and_clear();
    if let Some(e) = io_error {
        return Err(LanternError::io(&log_path, e));
    }
    model.save(&args.out)?;
    println!("saved {} (log {})", args.out.display(), log_path.display());
    Ok(())
}

fn progress_bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).expect("valid progress template"));
    bar
}
