//! `lantern train multilabel`: a multi-label classifier trained with single positive labels
//! (AN, LL-R, LL-Ct or LL-Cp, with or without BoostLU), then measured on fully labelled test
//! images: mAP and per-label MaxBoxAccV2 of its CAMs, written beside the weights.

use super::progress::{FitProgress, progress_bar};
use crate::control::Control;
use crate::datasets::synth::SHAPES;
use crate::error::{LanternError, Result};
use crate::evaluation::multilabel::{self, MultiLabelReport};
use crate::files::write_json;
use crate::train::classifier::TrainFiles;
use crate::train::multilabel::{self as trainer, MultiLabelConfig};
use crate::train::partial_labels::Scheme;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct TrainMultilabelArgs {
    /// Weights file to write (.safetensors); the test report goes to <out>.report.json and the
    /// label names to <out>.labels.txt.
    #[arg(long)]
    pub out: PathBuf,
    /// How unobserved labels are treated: an, ll-r, ll-ct or ll-cp.
    #[arg(long, default_value = "an")]
    pub scheme: Scheme,
    /// Boost the class activation maps with BoostLU (in training and inference).
    #[arg(long)]
    pub boostlu: bool,
    /// BoostLU's alpha (with --boostlu).
    #[arg(long, default_value_t = 5.0)]
    pub alpha: f32,
    /// Block widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,96")]
    pub widths: Vec<usize>,
    /// Image side and model input, pixels.
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Images for training and validation together.
    #[arg(long, default_value_t = 4000)]
    pub images: usize,
    /// Share of the images held out, fully labelled, to pick the best epoch.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    #[arg(long, default_value_t = 24)]
    pub epochs: usize,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// The backbone's learning rate (Adam).
    #[arg(long, default_value_t = 0.001)]
    pub lr: f64,
    /// The head's learning rate over the backbone's.
    #[arg(long, default_value_t = 10.0)]
    pub head_lr_factor: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seed and size of the fully labelled test split.
    #[arg(long, default_value_t = 2_000_001)]
    pub test_seed: u64,
    #[arg(long, default_value_t = 1000)]
    pub test_count: usize,
    /// Loss and validation mAP per epoch, as CSV (default: <out>.log.csv).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Checkpoint folder (default: <out>.checkpoints); a run with the same settings resumes.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Where to train: cpu, wgpu, auto or remote:<server> (see `lantern serve`).
    #[arg(long, default_value = "cpu")]
    pub device: crate::device::DeviceChoice,
}

impl TrainMultilabelArgs {
    fn config(&self) -> MultiLabelConfig {
        MultiLabelConfig {
            widths: self.widths.clone(),
            size: self.size,
            images: self.images,
            val_fraction: self.val_fraction,
            epochs: self.epochs,
            batch: self.batch,
            learning_rate: self.lr,
            head_lr_factor: self.head_lr_factor,
            scheme: self.scheme,
            alpha: if self.boostlu { self.alpha } else { 1.0 },
            seed: self.seed,
        }
    }
}

pub fn run(args: &TrainMultilabelArgs) -> Result<()> {
    let config = args.config();
    config.validate()?;
    if args.test_count == 0 {
        return Err(LanternError::BadArgument("--test-count must be at least 1".into()));
    }
    let log_path = args.log.clone().unwrap_or_else(|| args.out.with_extension("log.csv"));
    let checkpoints = args.checkpoints.clone().unwrap_or_else(|| args.out.with_extension("checkpoints"));
    let files = TrainFiles { checkpoints: Some(checkpoints.clone()), log: Some(log_path.clone()) };
    let device = crate::device::choose(args.device)?;
    let boost = if config.alpha == 1.0 { String::new() } else { format!(" + BoostLU (alpha {})", config.alpha) };
    eprintln!("device: {}; {}{boost}", device.description, config.scheme.title());
    let mut progress = FitProgress::new(&checkpoints, |record, _| {
        let get = |name| record.get(name).unwrap_or(f64::NAN);
        format!(
            "epoch {}: loss {:.4}  modified {:.2}/batch  val mAP {:.2}",
            record.epoch,
            get("loss"),
            get("modified"),
            get("val_map") * 100.0
        )
    });
    let fitted =
        trainer::train(&config, &files, &device.device, &mut Control::none(), &mut |event| progress.on(event))?;
    progress.finish();
    let best = fitted.best.as_ref().ok_or_else(|| LanternError::Internal("training recorded no epoch".into()))?;
    println!("best epoch: {} (val mAP {:.2})", best.epoch, best.score * 100.0);
    best.model.save_as(&args.out, &config.run_as())?;
    let labels = args.out.with_extension("labels.txt");
    crate::files::write_atomic(&labels, |f| std::io::Write::write_all(f, (SHAPES.join("\n") + "\n").as_bytes()))?;

    let net = crate::models::load(&args.out, None, &device.device)?;
    let bar = progress_bar(args.test_count as u64, "{bar:30} {pos}/{len} test images  {elapsed_precise}");
    let never = std::sync::atomic::AtomicBool::new(false);
    let mut on_progress = |p: crate::control::Progress<'_>| bar.set_position(p.done as u64);
    let mut control = Control::with_progress(&never, &mut on_progress);
    let report = multilabel::evaluate(&net, args.test_seed, args.test_count, &mut control)?;
    bar.finish_and_clear();
    print_report(&report);
    let report_path = args.out.with_extension("report.json");
    write_json(
        &report_path,
        &serde_json::json!({ "config": config, "best_epoch": best.epoch, "val_map": best.score * 100.0, "test": report }),
    )?;
    println!("saved {} (log {}, report {})", args.out.display(), log_path.display(), report_path.display());
    Ok(())
}

fn print_report(r: &MultiLabelReport) {
    println!("test ({} images): mAP {:.2}  mean MaxBoxAccV2 {:.2}", r.images, r.map, r.max_box_acc_v2);
    for l in &r.labels {
        println!("  {:<10} AP {:6.2}  MaxBoxAccV2 {:6.2}  ({} images)", l.label, l.ap, l.max_box_acc_v2, l.images);
    }
}
