//! `lantern bench`: median time of an explanation from scratch (forward to the layer, head
//! backward, map) and of switching the target class with cached activations. Prints JSON; the
//! script `benches/compare_pytorch.py` runs it beside pytorch-grad-cam.

use super::ModelArgs;
use crate::error::Result;
use crate::explain::{self, Method};
use crate::imaging;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Image to explain.
    pub image: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long)]
    pub layer: Option<String>,
    #[arg(long, default_value = "gradcam")]
    pub method: Method,
    /// Timed repetitions (after one warm-up).
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    arch: String,
    device: String,
    method: String,
    layer: String,
    repeat: usize,
    /// Median of: forward to the layer and logits, then the method for one class.
    explain_ms: f64,
    /// Median of: the method for another class from the cached activations.
    switch_class_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let device = crate::device::choose(args.model.device)?;
    let net = super::explain::load_network(&args.model, &device.device)?;
    let layer = args.layer.clone().unwrap_or_else(|| net.default_layer.clone());
    let image = imaging::load_image(&args.image)?;
    let repeat = args.repeat.max(1);
    let classes = net.classes();
    let mut full = Vec::with_capacity(repeat);
    let mut switch = Vec::with_capacity(repeat);
    for i in 0..=repeat {
        let start = Instant::now();
        let x = net.preprocess.tensor(&image, &device.device);
        let acts = explain::activations(&net, x, &layer)?;
        explain::explain(&net, &acts, args.method, i % classes)?;
        let t_full = start.elapsed().as_secs_f64() * 1000.0;
        let start = Instant::now();
        explain::explain(&net, &acts, args.method, (i + 1) % classes)?;
        let t_switch = start.elapsed().as_secs_f64() * 1000.0;
        if i > 0 {
            full.push(t_full);
            switch.push(t_switch);
        }
    }
    let report = BenchReport {
        arch: net.arch.clone(),
        device: device.description,
        method: args.method.name().into(),
        layer,
        repeat,
        explain_ms: median(full),
        switch_class_ms: median(switch),
    };
    println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
    Ok(())
}
