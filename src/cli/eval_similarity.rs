//! `lantern eval-similarity`: the evidence for similarity explanations on a held-out split of the
//! procedural benchmark ([`crate::evaluation::similarity`]): how often each attribute ranking's
//! top-1 value is one the pair shares, and the deletion/insertion AUC of each pair-saliency method;
//! with `--outfits`, the same on the outfits benchmark, where what explains a match is known and
//! where it is ([`crate::evaluation::similarity_outfits`]).

use super::progress::progress_bar;
use super::similar::{load_attributes, load_embedder};
use crate::control::Control;
use crate::datasets::synth_outfits::MatchRule;
use crate::device::DeviceChoice;
use crate::error::{LanternError, Result};
use crate::evaluation::similarity::{HELD_OUT_SEED, SimilarityEvalConfig, evaluate, markdown};
use crate::evaluation::similarity_outfits::{self, evaluate_outfits};
use crate::explain::attribute_rank::DEFAULT_WEIGHT;
use crate::explain::pair_params::PairSettings;
use crate::explain::pair_registry::PairMethod;
use crate::files::{write_atomic, write_json};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct EvalSimilarityArgs {
    /// Embedding model (default: the bundled demo embedding model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Attribute model trained on the benchmark's attributes (default: the bundled demo one).
    #[arg(long)]
    pub attributes: Option<PathBuf>,
    /// Pairs of images sharing at least one attribute value.
    #[arg(long, default_value_t = 100)]
    pub pairs: usize,
    /// Seed of the held-out split.
    #[arg(long, default_value_t = HELD_OUT_SEED)]
    pub seed: u64,
    /// Side of the generated images in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Pair-saliency methods, comma-separated: rise, window, gradcam.
    #[arg(long, value_delimiter = ',', default_value = "rise,window,gradcam")]
    pub methods: Vec<PairMethod>,
    /// Random masks of similarity RISE.
    #[arg(long, default_value_t = PairSettings::default().masks)]
    pub masks: usize,
    /// `w` of the paper's ranking (confidence only, w = 1, and agreement only, w = 0, are always measured).
    #[arg(long, default_value_t = DEFAULT_WEIGHT)]
    pub weight: f32,
    /// Write everything measured (per-pair ground truth, mean curves) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the two tables as Markdown here (they are printed in any case).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Where to compute: auto, cpu, wgpu, or remote:<server> with --token-file.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Evaluate on the outfits benchmark with this match rule (top:colour+texture when the flag
    /// has no value), with models trained on it: --model and --attributes are then required.
    #[arg(long, num_args = 0..=1, default_missing_value = "top:colour+texture")]
    pub outfits: Option<MatchRule>,
}

pub fn run(args: &EvalSimilarityArgs) -> Result<()> {
    if args.pairs == 0 {
        return Err(LanternError::BadArgument("--pairs must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&args.weight) {
        return Err(LanternError::BadArgument(format!("--weight must be between 0 and 1, got {}", args.weight)));
    }
    if args.outfits.is_some() && (args.model.is_none() || args.attributes.is_none()) {
        return Err(LanternError::BadArgument(
            "--outfits needs --model and --attributes trained on outfits (the bundled ones are \
             assets/demo/lantern_outfits_embedding.safetensors and lantern_outfits_attributes.safetensors)"
                .into(),
        ));
    }
    let device = crate::device::choose(args.device)?;
    eprintln!("device: {}", device.description);
    let embedder = load_embedder(args.model.as_deref(), &device.device)?;
    let attributes = load_attributes(args.attributes.as_deref(), &device.device)?;
    let config = SimilarityEvalConfig {
        seed: args.seed,
        pairs: args.pairs,
        size: args.size,
        methods: args.methods.clone(),
        pair: PairSettings { masks: args.masks, ..PairSettings::default() },
        weight: args.weight,
    };
    let bar = progress_bar(args.pairs as u64, "{bar:30} {pos}/{len} pairs  {elapsed_precise}  eta {eta}");
    let mut on_pair = |done: usize, _| bar.set_position(done as u64);
    let (body, json) = match &args.outfits {
        Some(rule) => {
            let e =
                evaluate_outfits(&embedder.net, &attributes.net, &config, rule, &mut Control::none(), &mut on_pair)?;
            (similarity_outfits::markdown(&e), to_json(&e)?)
        }
        None => {
            let e = evaluate(&embedder.net, &attributes.net, &config, &mut Control::none(), &mut on_pair)?;
            (markdown(&e), to_json(&e)?)
        }
    };
    bar.finish_and_clear();
    let tables = format!(
        "Embedding model: {}; attribute model: {}; RISE masks: {}.\n\n{body}",
        embedder.name, attributes.name, args.masks
    );
    println!("{tables}");
    if let Some(path) = &args.json {
        write_json(path, &json)?;
    }
    if let Some(path) = &args.markdown {
        write_atomic(path, |f| f.write_all(tables.as_bytes()))?;
    }
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| LanternError::Internal(format!("the evidence as JSON: {e}")))
}
