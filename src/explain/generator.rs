//! The trained weight-map generator of seed paper 000 ("Learning a Weight Map for
//! Weakly-Supervised Localization") as an explanation method: one pass of the classifier's
//! features through the generator's decoder gives `M(I)` in `[0, 1]` at the input resolution
//! (see [`crate::models::generator`]). The map is kept as the generator outputs it, without
//! min-max normalisation, so the foreground `I·M` and background `I·(1−M)` views show exactly
//! what the generator keeps and removes. It does not depend on the objective: the generator was
//! trained to localise the object the classifier recognises. It needs a generator trained for the
//! session's classifier ([`super::Session::with_generator`]).

use super::method::{Entry, Family, LayerUse, MethodSpec, Output, Run};
use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use crate::models::network::host_values;

pub const GENERATOR: MethodSpec = MethodSpec::new(
    "generator",
    "Generator",
    "M = sigmoid(U-Net decoder on f's features), trained so f(I*M) keeps the class",
    "seed paper 000: Learning a Weight Map for Weakly-Supervised Localization (2023)",
    Family::Learned,
    LayerUse::None,
    false,
    Entry::Input(run_generator),
);

/// Why the method cannot run without a generator.
pub const NO_GENERATOR: &str = "no weight-map generator is loaded for this model (train one with `lantern train generator`; the CLI takes --generator FILE and looks for <model>.generator.safetensors beside the model)";

fn run_generator(run: &mut Run<'_, '_>) -> Result<Output> {
    let start = std::time::Instant::now();
    let session = &*run.session;
    let generator = session.generator().ok_or_else(|| LanternError::MethodNotApplicable { method: GENERATOR.title.into(), reason: NO_GENERATOR.into() })?;
    let x = session.input();
    let [_, _, h, w] = x.dims();
    let maps = generator.forward(session.network(), x.clone())?;
    let map = WeightMap::new(w, h, host_values(maps));
    Ok(Output { map, attribution: None, forward_ms: start.elapsed().as_secs_f64() * 1000.0 })
}
