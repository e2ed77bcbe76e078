//! `lantern bench`: median time of an explanation from scratch (preprocess, forward, the method)
//! and of switching the target class with the activations cached. Prints JSON; the script
//! `benches/compare_pytorch.py` runs it beside the Python references on the same machine.

use super::ModelArgs;
use super::explain::ParamArgs;
use crate::error::{LanternError, Result};
use crate::explain::{Control, Method, Session};
use crate::imaging;
use crate::models::{self, Network, StateDict};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Image to explain.
    pub image: PathBuf,
    /// Weights file; without it, `--arch` with deterministic seeded weights.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long, default_value = "auto")]
    pub device: crate::device::DeviceChoice,
    #[arg(long)]
    pub layer: Option<String>,
    #[arg(long, default_value = "gradcam")]
    pub method: Method,
    /// Timed repetitions (after one untimed warm-up when more than one).
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Do not time a second class on the cached activations (for methods that take minutes).
    #[arg(long)]
    pub no_switch: bool,
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    arch: String,
    device: String,
    method: String,
    layer: String,
    repeat: usize,
    /// Median of: preprocessing, forward pass, the method for one class.
    explain_ms: f64,
    /// Median of: the method for another class with the activations cached (absent with
    /// `--no-switch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    switch_class_ms: Option<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn network(args: &BenchArgs, device: &burn::tensor::Device) -> Result<Network> {
    match (&args.model, &args.arch) {
        (Some(path), _) => {
            let m = ModelArgs {
                model: Some(path.clone()),
                arch: args.arch.clone(),
                labels: None,
                device: args.device,
                multilabel: false,
                tokens: None,
            };
            super::explain::load_network(&m, device)
        }
        (None, Some(arch)) => models::build(&StateDict::seeded(&models::layout(arch, 1000)?, 7), arch, device),
        (None, None) => Err(LanternError::BadArgument("give --model FILE or --arch NAME".into())),
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let device = crate::device::choose(args.device)?;
    let net = Arc::new(network(args, &device.device)?);
    let layer = args.layer.clone().unwrap_or_else(|| net.default_layer.clone());
    let params = args.params.params(&net.preprocess)?;
    let image = imaging::load_image(&args.image)?;
    let repeat = args.repeat.max(1);
    let classes = net.classes();
    let mut full = Vec::with_capacity(repeat);
    let mut switch = Vec::with_capacity(repeat);
    // One untimed warm-up run when there is more than one repetition.
    let warmup = usize::from(repeat > 1);
    for i in 0..repeat + warmup {
        let start = Instant::now();
        let mut session = Session::new(Arc::clone(&net), net.preprocess.tensor(&image, &device.device));
        session.explain(args.method, i % classes, Some(&layer), &params, &mut Control::none())?;
        let t_full = start.elapsed().as_secs_f64() * 1000.0;
        if i >= warmup {
            full.push(t_full);
        }
        if !args.no_switch {
            let start = Instant::now();
            session.explain(args.method, (i + 1) % classes, Some(&layer), &params, &mut Control::none())?;
            if i >= warmup {
                switch.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let report = BenchReport {
        arch: net.arch.clone(),
        device: device.description,
        method: args.method.name().into(),
        layer,
        repeat,
        explain_ms: median(full),
        switch_class_ms: (!switch.is_empty()).then(|| median(switch)),
    };
    println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
    Ok(())
}
