//! `lantern eval`: localisation and faithfulness metrics of explanation methods on a dataset.

use super::progress::progress_bar;
use crate::datasets::{self, Format};
use crate::error::{LanternError, Result};
use crate::evaluation::{self, ClassMap, EvalConfig, Protocol, plots, report};
use crate::explain::Method;
use crate::models::generator::Generator;
use crate::models::{self, Labels, Network};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
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
    #[arg(long, default_value = "auto")]
    pub device: crate::device::DeviceChoice,
    #[command(flatten)]
    pub params: super::explain::ParamArgs,
}

/// The network, its name in the report and the SHA-256 of its weights.
fn network(args: &EvalArgs, device: &burn::tensor::Device) -> Result<(Network, String, String)> {
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
    args: &EvalArgs,
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
    evaluation::check_numbers(args.interval, args.limit)?;
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
    };
    let total = args.limit.unwrap_or(usize::MAX).min(dataset.samples.len());
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
    let summary = report::summarize(&results, &names, &thresholds, header)?;
    report::write_all(&args.out, &results, &summary)?;
    let plots = plots::write_plots(&args.out.join("plots"), &summary)?;
    println!("{}", report::markdown(&summary));
    println!("wrote {} plots, per_image.csv and summary.md/json to {}", plots.len(), args.out.display());
    Ok(())
}
