//! The one list of pair-saliency methods, in the registry's shape: adding one is its
//! [`PairMethodSpec`] beside its code (with a [`super::params::ParamSpec`] per parameter of its
//! own, over [`PairSettings`]) plus one line here (the registry's `registry!` macro); the [`PairMethod`] enum, its names, the
//! commands' flags and the Pair view's controls follow. [`query_map`] runs a method.

use super::pair_method::{PairMethodSpec, PairRun};
use super::pair_params::{BATCH, COMMON, PairSettings};
use super::params::{ParamSet, ParamSpec};
use super::registry::{by_spelling, each_flag_once, registry};
use super::similarity::reference_embeddings;
use crate::control::Control;
use crate::error::Result;
use crate::map::WeightMap;
use crate::models::Network;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

registry! {
    /// A pair-saliency method: a handle on its [`PairMethodSpec`].
    PairMethod: PairMethodSpec {
        Rise => similarity::SIMILARITY_RISE,
        SlidingWindow => similarity::SLIDING_WINDOW,
        GradCam => similarity::SIMILARITY_GRADCAM,
    }
}

impl PairMethod {
    /// Command-line name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Display name.
    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// The parameters this method reads: the batch size first for long methods, then its own,
    /// then the common ones.
    pub fn params(self) -> Vec<ParamSpec<PairSettings>> {
        let s = self.spec();
        let batch = s.long.then_some(BATCH);
        batch.into_iter().chain(s.params.iter().copied()).chain(COMMON).collect()
    }
}

/// Every parameter of every pair method, each once (by flag): the batch size and the common ones
/// first, then in method order. `lantern similar`'s flags are these.
pub fn all_pair_params() -> Vec<ParamSpec<PairSettings>> {
    let first = [BATCH].into_iter().chain(COMMON).collect();
    each_flag_once(first, PairMethod::ALL.iter().map(|m| m.spec().params))
}

impl ParamSet for PairSettings {
    fn all() -> Vec<ParamSpec<PairSettings>> {
        all_pair_params()
    }
}

impl fmt::Display for PairMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PairMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        by_spelling(PairMethod::ALL, s, |m| (m.spec().name, m.spec().title, m.spec().aliases)).ok_or_else(|| {
            format!("unknown pair saliency method '{s}' (choose {})", crate::names::one_of(PairMethod::ALL))
        })
    }
}

/// The map over the query `q` that explains its similarity to `r` (both preprocessed,
/// `[1, 3, H, W]`), by `method`.
pub fn query_map(
    net: &Network,
    method: PairMethod,
    q: &Tensor<4>,
    r: &Tensor<4>,
    settings: &PairSettings,
    control: &mut Control,
) -> Result<WeightMap> {
    settings.validate()?;
    let references = reference_embeddings(net, r, settings)?;
    (method.spec().entry)(&mut PairRun { net, query: q, references: &references, settings, control })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_several_spellings_and_parameters_come_from_the_specs() {
        for &m in PairMethod::ALL {
            assert_eq!(m.name().parse::<PairMethod>(), Ok(m));
            assert_eq!(m.title().parse::<PairMethod>(), Ok(m), "{}", m.title());
        }
        for (typed, m) in [
            ("window", PairMethod::SlidingWindow),
            ("slide", PairMethod::SlidingWindow),
            ("grad-cam", PairMethod::GradCam),
        ] {
            assert_eq!(typed.parse::<PairMethod>(), Ok(m));
        }
        let err = "lime".parse::<PairMethod>().unwrap_err();
        assert!(err.contains("rise, sliding-window or gradcam"), "{err}");
        let flags = |m: PairMethod| m.params().iter().map(|p| p.flag).collect::<Vec<_>>();
        assert_eq!(flags(PairMethod::Rise), ["batch", "masks", "cells", "keep", "seed", "reference-masks"]);
        assert_eq!(flags(PairMethod::GradCam), ["seed", "reference-masks"]);
        let all: Vec<&str> = all_pair_params().iter().map(|p| p.flag).collect();
        assert_eq!(all, ["batch", "seed", "reference-masks", "masks", "cells", "keep"]);
    }

    #[test]
    fn a_classifier_is_refused_as_the_embedding_model() {
        let device = burn::tensor::Device::flex();
        let classifier = crate::models::demo::network(&device).unwrap();
        let r = classifier.preprocess.tensor(&crate::datasets::synth::generate(3, 0, 64).image, &device);
        let err = query_map(&classifier, PairMethod::GradCam, &r, &r, &PairSettings::default(), &mut Control::none())
            .unwrap_err();
        assert!(err.to_string().contains("not an embedding model"), "{err}");
    }
}
