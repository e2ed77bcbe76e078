//! What a pair method declares about itself ([`PairMethodSpec`]) and how it is run
//! ([`PairFn`] on a [`PairRun`]): the pair-saliency methods' counterpart of [`super::method`].
//! Each method's spec sits beside its code in [`super::similarity`]; [`super::pair_registry`]
//! lists them, and `lantern similar`, `lantern eval-similarity` and the app's Pair view read
//! that list.

use super::pair_params::PairSettings;
use super::params::ParamSpec;
use crate::control::Control;
use crate::error::Result;
use crate::map::WeightMap;
use crate::models::Network;
use burn::tensor::Tensor;

/// What a pair method gets: the embedding model, the preprocessed query (`[1, 3, H, W]`), the
/// embeddings it is compared with (the reference's, or its masked versions'), the settings and
/// the control.
pub struct PairRun<'s, 'c> {
    pub net: &'s Network,
    pub query: &'s Tensor<4>,
    pub references: &'s [Vec<f32>],
    pub settings: &'s PairSettings,
    pub control: &'s mut Control<'c>,
}

/// A pair method's entry point: the map over the query that explains its match.
pub type PairFn = fn(&mut PairRun<'_, '_>) -> Result<WeightMap>;

/// Everything a pair method declares about itself.
pub struct PairMethodSpec {
    /// Command-line name, e.g. `rise`.
    pub name: &'static str,
    /// Display name, e.g. `Similarity RISE`.
    pub title: &'static str,
    /// Other spellings the command line accepts (after lower-casing and dropping `-`, `_`, spaces).
    pub aliases: &'static [&'static str],
    /// The formula, in one line.
    pub formula: &'static str,
    /// Runs many model passes in batches: reports progress, can be cancelled.
    pub long: bool,
    /// The parameters it reads besides the common ones (the batch size is implied for long
    /// methods).
    pub params: &'static [ParamSpec<PairSettings>],
    pub entry: PairFn,
}
