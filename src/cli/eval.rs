//! `lantern eval`: localisation and faithfulness metrics of explanation methods on a dataset;
//! `lantern eval --shard I/N` for a part of it and `lantern eval merge` to combine the parts.

use super::progress::progress_bar;
use crate::datasets::{self, Format};
use crate::error::{LanternError, Result};
use crate::evaluation::{self, ClassMap, EvalConfig, Protocol, Shard, report, shard};
use crate::explain::Method;
use crate::models::generator::Generator;
use crate::models::{self, Labels, Network};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// `lantern eval [OPTIONS]` runs an evaluation; `lantern eval merge` combines sharded ones.
/// (Written out rather than derived: clap's derive cannot make a flattened `Option` of flags
/// that themselves flatten others, which the run's flags do.)
#[derive(Debug)]
pub enum EvalArgs {
    Run(Box<EvalRunArgs>),
    Command(EvalCommand),
}

impl clap::FromArgMatches for EvalArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> std::result::Result<Self, clap::Error> {
        if matches.subcommand_name().is_some() {
            <EvalCommand as clap::FromArgMatches>::from_arg_matches(matches).map(Self::Command)
        } else {
            EvalRunArgs::from_arg_matches(matches).map(|a| Self::Run(Box::new(a)))
        }
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> std::result::Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for EvalArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = <EvalRunArgs as clap::Args>::augment_args(cmd);
        <EvalCommand as clap::Subcommand>::augment_subcommands(cmd)
            .args_conflicts_with_subcommands(true)
            .subcommand_negates_reqs(true)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Combine the shard folders of a sharded evaluation into one report.
    ///
    /// The folders of `lantern eval --shard I/N` (one per shard) become one report: summary.json,
    /// summary.md, per_image.csv and plots as one process over the whole dataset writes them, and
    /// its state.jsonl and settings.json. Refuses, naming them, folders of different settings and
    /// duplicate, missing or unfinished shards.
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Folder for the merged report (and the merged state.jsonl and settings.json).
    pub out: PathBuf,
    /// The shard folders, every shard of the evaluation once, in any order.
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// Leave the timings out of the report, as `lantern eval --no-timing`.
    #[arg(long)]
    pub no_timing: bool,
}

/// The evaluation's own flags.
#[derive(Debug, clap::Args)]
pub struct EvalRunArgs {
    #[command(flatten)]
    pub dataset: super::DatasetArgs,
    /// Weights file (default: the bundled demo classifier).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long)]
    pub arch: Option<String>,
    /// Methods, comma-separated (default: the eight CAM-family methods).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<Method>,
    /// Layer the CAM-family methods explain (default: the model's).
    #[arg(long)]
    pub layer: Option<String>,
    /// Weight-map generator for the `generator` method (default: `<model
    /// stem>.generator.safetensors` beside --model, or the bundled demo generator).
    #[arg(long)]
    pub generator: Option<PathBuf>,
    /// Folder for state.jsonl, settings.json, per_image.csv, summary.md/json and plots/.
    #[arg(long)]
    pub out: PathBuf,
    /// Evaluate at most this many images (at least 1).
    #[arg(long)]
    pub limit: Option<usize>,
    /// CAM threshold step of the box and pixel metrics (0.001 to below 1).
    #[arg(long, default_value_t = 0.01)]
    pub interval: f64,
    /// Also run the deletion and insertion games (slower: one model pass per image row).
    #[arg(long)]
    pub faithfulness: bool,
    /// How images and ground truth are framed: wsol (wsolevaluation's: resize to the model's
    /// input side, no crop; the default with ground truth) or crop (the model's resize and center
    /// crop; the default for the folder format).
    #[arg(long)]
    pub protocol: Option<Protocol>,
    /// Dataset class to model class, one 'DATASET_CLASS MODEL_INDEX' line each; needed when the
    /// dataset's classes are not the model's.
    #[arg(long)]
    pub class_map: Option<PathBuf>,
    /// Discard the results of an earlier run in --out instead of resuming it.
    #[arg(long)]
    pub fresh: bool,
    /// Evaluate only the I-th of N parts of the dataset (0 <= I < N; after --limit), split by a
    /// hash of the image ids: disjoint, within one image of each other in size, the same on
    /// every machine. Each shard needs its own --out; `lantern eval merge` combines them.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Leave the timings out of summary.json, summary.md (ms/image) and per_image.csv, so that
    /// the report depends on the results alone: reruns, resumed runs and merged shards then
    /// write it byte for byte the same.
    #[arg(long)]
    pub no_timing: bool,
    #[arg(long, default_value = "auto")]
    pub device: crate::device::DeviceChoice,
    #[command(flatten)]
    pub params: super::explain::ParamArgs,
}

/// The network, its name in the report and the SHA-256 of its weights.
fn network(args: &EvalRunArgs, device: &burn::tensor::Device) -> Result<(Network, String, String)> {
    match &args.model {
        Some(path) => Ok((
            models::load(path, args.arch.as_deref(), device)?,
            path.display().to_string(),
            crate::digest::sha256_file(path).map_err(|e| crate::error::LanternError::io(path, e))?,
        )),
        None => Ok((
            models::demo::network(device)?,
            "bundled demo classifier".to_string(),
            crate::digest::sha256_hex(models::demo::WEIGHTS),
        )),
    }
}

/// The generator the `generator` method runs with (when `needed` or named), and the SHA-256 of
/// its file.
fn generator(
    args: &EvalRunArgs,
    needed: bool,
    model_sha256: &str,
    device: &burn::tensor::Device,
) -> Result<Option<(std::sync::Arc<Generator>, String)>> {
    let (bytes, name) = match (&args.generator, &args.model) {
        (None, _) if !needed => return Ok(None),
        (Some(path), _) => (std::fs::read(path).map_err(|e| LanternError::io(path, e))?, path.clone()),
        (None, Some(model)) => {
            let path = crate::models::generator::beside(model);
            if !path.is_file() {
                return Err(LanternError::MethodNotApplicable {
                    method: "Generator".into(),
                    reason: crate::explain::generator::NO_GENERATOR.into(),
                });
            }
            (std::fs::read(&path).map_err(|e| LanternError::io(&path, e))?, path)
        }
        (None, None) => (models::demo::GENERATOR.to_vec(), PathBuf::from("bundled demo generator")),
    };
    let sha256 = crate::digest::sha256_hex(&bytes);
    let g = Generator::from_bytes(bytes, &name, device)?;
    g.check_classifier(model_sha256, &name)?;
    Ok(Some((std::sync::Arc::new(g), sha256)))
}

pub fn run(args: &EvalArgs) -> Result<()> {
    match args {
        EvalArgs::Command(EvalCommand::Merge(m)) => merge(m),
        EvalArgs::Run(run) => evaluate(run),
    }
}

fn merge(args: &MergeArgs) -> Result<()> {
    let merged = shard::merge(&args.out, &args.shards, !args.no_timing)?;
    println!("{}", report::markdown(&merged.summary));
    println!(
        "merged {} shards: wrote {} plots, per_image.csv and summary.md/json to {}",
        args.shards.len(),
        merged.plots.len(),
        args.out.display()
    );
    Ok(())
}

fn evaluate(args: &EvalRunArgs) -> Result<()> {
    evaluation::check_numbers(args.interval, args.limit)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let device = crate::device::choose(args.device)?;
    eprintln!("device: {}", device.description);
    let (mut net, model_name, model_sha256) = network(args, &device.device)?;
    let dataset = datasets::open(&args.dataset.data, args.dataset.format)?;
    if dataset.samples.is_empty() {
        return Err(LanternError::BadArgument(format!("{}: no images found", args.dataset.data.display())));
    }
    let class_map =
        args.class_map.as_deref().map(|p| ClassMap::read(p, &dataset.classes, net.classes())).transpose()?;
    if net.labels.is_empty() && dataset.classes.len() == net.classes() {
        net.labels = Labels::from_names(dataset.classes.clone());
    }
    let methods = if args.methods.is_empty() { Method::cam_family().collect() } else { args.methods.clone() };
    let layer = args.layer.clone().unwrap_or_else(|| net.default_layer.clone());
    crate::explain::find_layer(&net, &layer)?;
    let params = args.params.params(&net.preprocess)?;
    let protocol =
        args.protocol.unwrap_or(if args.dataset.format == Format::Folder { Protocol::Crop } else { Protocol::Wsol });
    let folder = std::fs::canonicalize(&args.dataset.data).unwrap_or_else(|_| args.dataset.data.clone());
    let config = EvalConfig {
        methods: methods.clone(),
        layer: Some(layer.clone()),
        interval: args.interval,
        faithfulness: args.faithfulness,
        limit: args.limit,
        params,
        protocol,
        class_map,
        model_sha256: model_sha256.clone(),
        dataset: format!("{}:{}", args.dataset.format, folder.display()),
        fresh: args.fresh,
        generator: generator(args, methods.contains(&Method::Generator), &model_sha256, &device.device)?,
        shard,
    };
    let limited: Vec<&datasets::Sample> = dataset.samples.iter().take(args.limit.unwrap_or(usize::MAX)).collect();
    let part = shard.map(|s| evaluation::shard_samples(s, &limited));
    if let (Some(s), Some(part)) = (shard, &part) {
        eprintln!("shard {s}: {} of the {} images", part.len(), limited.len());
    }
    let total = part.as_ref().map_or(limited.len(), Vec::len);
    let bar = progress_bar(total as u64, "{bar:30} {pos}/{len} images  {elapsed_precise} (eta {eta})  {msg}");
    let cancel = AtomicBool::new(false);
    let net = std::sync::Arc::new(net);
    let run = evaluation::run(&net, &dataset, &config, &args.out, &cancel, |done, _, id| {
        bar.set_position(done as u64);
        bar.set_message(id.to_string());
    });
    bar.finish_and_clear();
    let results = run?;
    let names: Vec<String> = methods.iter().map(|m| m.name().to_string()).collect();
    let thresholds = crate::metrics::wsol::cam_thresholds(args.interval);
    let header = report::Header {
        dataset: args.dataset.data.display().to_string(),
        model: model_name,
        model_sha256,
        layer,
        protocol,
        protocol_description: protocol.describe(&net.preprocess),
    };
    if let (Some(s), Some(part)) = (shard, part) {
        let manifest = shard::Manifest {
            shard: s,
            settings: shard_key(&args.out)?,
            methods: names.clone(),
            dataset_images: limited.len(),
            images: part.into_iter().map(|(i, sample)| (i, sample.id.clone())).collect(),
            header: header.clone(),
        };
        if results.is_empty() {
            // More shards than images: this one has none, which the merge accepts.
            shard::write_manifest(&args.out, &manifest)?;
            println!("shard {s} has no images (the dataset has {}); nothing to evaluate", limited.len());
            return Ok(());
        }
        let (summary, plots) = report::write_report(&args.out, &results, &names, &thresholds, header, !args.no_timing)?;
        shard::write_manifest(&args.out, &manifest)?;
        println!("{}", report::markdown(&summary));
        println!(
            "shard {s}: wrote {} plots, per_image.csv and summary.md/json to {}; merge every shard's folder with `lantern eval merge`",
            plots.len(),
            args.out.display()
        );
        return Ok(());
    }
    let (summary, plots) = report::write_report(&args.out, &results, &names, &thresholds, header, !args.no_timing)?;
    println!("{}", report::markdown(&summary));
    println!("wrote {} plots, per_image.csv and summary.md/json to {}", plots.len(), args.out.display());
    Ok(())
}

/// The settings key of the evaluation in `out` (from the `settings.json` the run just wrote).
fn shard_key(out: &std::path::Path) -> Result<String> {
    let path = out.join("settings.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LanternError::io(&path, e))?;
    let settings: evaluation::RunSettings =
        serde_json::from_str(&text).map_err(|e| LanternError::Internal(format!("{}: {e}", path.display())))?;
    Ok(settings.key())
}
