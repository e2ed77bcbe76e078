//! "Why do these match?": one query-reference pair explained by an embedding model and,
//! optionally, an attribute model (Plummer et al., ECCV 2020): the cosine similarity, a saliency
//! map on each image ([`super::similarity`]), each image's attribute activation maps, and the
//! attribute values ranked for the query ([`super::attribute_rank`]).

use super::attribute_rank::{DEFAULT_WEIGHT, RankedAttribute, rank_attributes};
use super::pair_params::PairSettings;
use super::pair_registry::{PairMethod, query_map};
use crate::control::{Control, Progress};
use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use crate::models::attributes::{AttributeMaps, attribute_maps};
use crate::models::embedding::{cosine, embed};
use crate::models::{Network, OutputKind};
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// How to explain a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchSettings {
    pub method: PairMethod,
    pub pair: PairSettings,
    /// `w` of the attribute ranking (1: confidence only).
    pub weight: f32,
    /// Attribute values to keep, best first.
    pub top: usize,
}

impl Default for MatchSettings {
    fn default() -> Self {
        Self { method: PairMethod::Rise, pair: PairSettings::default(), weight: DEFAULT_WEIGHT, top: 3 }
    }
}

/// One pair explained.
#[derive(Debug, Clone)]
pub struct MatchExplanation {
    /// `cos(f(q), f(r))`.
    pub similarity: f32,
    pub method: PairMethod,
    /// Over the query (explaining its match with the reference) and over the reference, at the
    /// embedding model's input resolution.
    pub query_map: WeightMap,
    pub reference_map: WeightMap,
    /// The attribute model's maps and probabilities for each image, when one is given.
    pub query_attributes: Option<AttributeMaps>,
    pub reference_attributes: Option<AttributeMaps>,
    /// The best `top` attribute values for the query, by the ranking rule.
    pub attributes: Vec<RankedAttribute>,
}

/// Check the two models can explain a match together.
pub fn check_models(embedder: &Network, attributes: Option<&Network>) -> Result<()> {
    if embedder.output != OutputKind::Embedding {
        return Err(LanternError::Mismatch(format!("{} does not output an embedding", embedder.arch)));
    }
    if let Some(a) = attributes
        && !a.layers.iter().any(|l| l.name == crate::models::attributes::MAPS_LAYER)
    {
        return Err(LanternError::Mismatch(format!("{} is not an attribute model (no attribute maps)", a.arch)));
    }
    Ok(())
}

/// The models that explain a match: an embedding model and, optionally, an attribute model.
#[derive(Clone, Copy)]
pub struct MatchModels<'n> {
    pub embedder: &'n Network,
    pub attributes: Option<&'n Network>,
}

/// The last pair's two maps (query's, reference's) and the key they were made for: a caller that
/// explains the same pair again with only another ranking weight keeps them (the app).
pub type MapsCache<K> = Option<(K, Vec<WeightMap>)>;

/// Explain why `embedder` finds `query` and `reference` alike.
pub fn explain_match(
    embedder: &Network,
    attributes: Option<&Network>,
    query: &RgbImage,
    reference: &RgbImage,
    settings: &MatchSettings,
    control: &mut Control,
) -> Result<MatchExplanation> {
    let models = MatchModels { embedder, attributes };
    explain_match_cached(models, (query, reference), settings, (), &mut None, control)
}

/// [`explain_match`], the pair's maps taken from `cache` when it holds them for `key` (the
/// caller's name for the images and the map settings), else computed and kept there. Progress
/// counts both maps, the query's first.
pub fn explain_match_cached<K: PartialEq>(
    models: MatchModels<'_>,
    (query, reference): (&RgbImage, &RgbImage),
    settings: &MatchSettings,
    key: K,
    cache: &mut MapsCache<K>,
    control: &mut Control,
) -> Result<MatchExplanation> {
    let MatchModels { embedder, attributes } = models;
    check_models(embedder, attributes)?;
    let device = embedder.device();
    let q = embedder.preprocess.tensor(query, &device);
    let r = embedder.preprocess.tensor(reference, &device);
    let maps = match cache {
        Some((k, maps)) if *k == key => maps.clone(),
        _ => {
            let flag = control.cancel_flag();
            let mut maps = Vec::with_capacity(2);
            for (pass, (a, b)) in [(&q, &r), (&r, &q)].into_iter().enumerate() {
                let mut report = |p: Progress<'_>| control.report(pass * p.total + p.done, 2 * p.total, None);
                let mut inner = Control::with_progress(flag, &mut report);
                maps.push(query_map(embedder, settings.method, a, b, &settings.pair, &mut inner)?);
            }
            *cache = Some((key, maps.clone()));
            maps
        }
    };
    control.check()?;
    let e = embed(embedder, burn::tensor::Tensor::cat(vec![q, r], 0));
    let similarity = cosine(&e[0], &e[1]);
    let mut maps = maps.into_iter();
    let (query_map, reference_map) = (maps.next().expect("two maps"), maps.next().expect("two maps"));
    let (query_attributes, reference_attributes, ranked) = match attributes {
        Some(net) => {
            let device = net.device();
            let qa = attribute_maps(net, net.preprocess.tensor(query, &device))?;
            let ra = attribute_maps(net, net.preprocess.tensor(reference, &device))?;
            let mut ranked = rank_attributes(&qa, &query_map, &net.labels, settings.weight);
            ranked.truncate(settings.top);
            (Some(qa), Some(ra), ranked)
        }
        None => (None, None, Vec::new()),
    };
    Ok(MatchExplanation {
        similarity,
        method: settings.method,
        query_map,
        reference_map,
        query_attributes,
        reference_attributes,
        attributes: ranked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::attributes::AttributeCnn;
    use burn::tensor::Device;

    #[test]
    fn a_pair_gets_two_maps_a_similarity_and_ranked_attributes() {
        let device = Device::flex();
        let embedder = crate::models::embedding::penultimate(crate::models::demo::network(&device).unwrap());
        let train = Device::flex().autodiff();
        let model = crate::models::init::seeded(&train, 2, || AttributeCnn::new(&[4, 8], 5, &train));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attrs.safetensors");
        model.save(&path).unwrap();
        let mut attrs = crate::models::load(&path, None, &device).unwrap();
        attrs.labels = crate::models::Labels::from_names((0..5).map(|i| format!("group=v{i}")).collect());
        let a = crate::datasets::synth::generate(3, 0, 64).image;
        let b = crate::datasets::synth::generate(3, 1, 64).image;
        let settings = MatchSettings { method: PairMethod::GradCam, top: 2, ..MatchSettings::default() };
        let m = explain_match(&embedder, Some(&attrs), &a, &b, &settings, &mut Control::none()).unwrap();
        assert!(m.similarity > -1.0 && m.similarity <= 1.0 + 1e-6);
        assert_eq!((m.query_map.width, m.reference_map.height), (112, 112), "the embedder's input");
        assert_eq!(m.attributes.len(), 2);
        assert!(m.attributes[0].score >= m.attributes[1].score);
        assert_eq!(m.attributes[0].name, "group");
        assert_eq!(m.query_attributes.as_ref().unwrap().maps.len(), 5);
        // Swapping the pair swaps the maps.
        let swapped = explain_match(&embedder, None, &b, &a, &settings, &mut Control::none()).unwrap();
        assert_eq!(swapped.query_map.values, m.reference_map.values);
        assert!((swapped.similarity - m.similarity).abs() < 1e-5);
        assert!(swapped.attributes.is_empty());
        let classifier = crate::models::demo::network(&device).unwrap();
        assert!(explain_match(&classifier, None, &a, &b, &settings, &mut Control::none()).is_err());
        assert!(explain_match(&embedder, Some(&classifier), &a, &b, &settings, &mut Control::none()).is_err());
    }
}
