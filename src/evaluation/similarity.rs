//! `lantern eval-similarity`: the evidence for similarity explanations (Plummer et al., "Why do
//! These Match?", ECCV 2020) on a held-out split of the procedural benchmark, whose attributes
//! (colour, texture, size) are drawn independently of the shape, so what two images share is
//! known exactly ([`synth_attributes::shared`]).
//!
//! **Pairs.** Images `0, 1, ...` of the split's seed are read in order; each query is paired with
//! the first later image that shares at least one attribute value with it, and the next query is
//! the image after that reference ([`sample_pairs`]).
//!
//! **(a) Which attribute explains the match.** For each pair and each pair-saliency method, the
//! query's map against the reference ranks the attribute model's values by
//! [`rank_attributes`] with weight `w`; a pair is a hit when the top-1 value is one the two images
//! truly share. Rules compared: the paper's convex combination (`w` = the given weight, default
//! [`DEFAULT_WEIGHT`]), confidence only (`w = 1`, the same for every method) and agreement only
//! (`w = 0`); and, for scale, the expected hit rate of a uniformly random one of the query's three
//! true values, `mean |shared| / 3`.
//!
//! **(b) Deletion and insertion** of each method's query map, as the authors measure them
//! ([`crate::metrics::pair_faithfulness`]), with a uniformly random map as the floor.

use super::stats;
use crate::control::Control;
use crate::datasets::synth::{self, SynthSample};
use crate::datasets::synth_attributes::{self, indices, shared};
use crate::error::{LanternError, Result};
use crate::explain::attribute_rank::{DEFAULT_WEIGHT, rank_attributes};
use crate::explain::pair_params::PairSettings;
use crate::explain::pair_registry::{PairMethod, query_map};
use crate::map::WeightMap;
use crate::metrics::pair_faithfulness::{WHITE, pair_curves};
use crate::models::Network;
use crate::models::attributes::{AttributeMaps, attribute_maps};
use crate::models::embedding::embed;
use serde::{Deserialize, Serialize};

/// The split the CLI evaluates by default: neither the trainers' seed (1) nor their validation
/// seed (1000001).
pub const HELD_OUT_SEED: u64 = 3_000_001;

/// What to measure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimilarityEvalConfig {
    /// Seed of the held-out split.
    pub seed: u64,
    pub pairs: usize,
    /// Side of the generated images in pixels (the models resize them to their input).
    pub size: u32,
    pub methods: Vec<PairMethod>,
    pub pair: PairSettings,
    /// `w` of the paper's ranking.
    pub weight: f32,
}

impl Default for SimilarityEvalConfig {
    fn default() -> Self {
        Self {
            seed: HELD_OUT_SEED,
            pairs: 100,
            size: 64,
            methods: vec![PairMethod::Rise, PairMethod::SlidingWindow, PairMethod::GradCam],
            pair: PairSettings::default(),
            weight: DEFAULT_WEIGHT,
        }
    }
}

/// One evaluated pair: image indices of the split and the attribute values they share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPair {
    pub query: u64,
    pub reference: u64,
    pub shared: Vec<usize>,
}

/// The first `count` pairs of the split `seed` (see the module documentation), with their images.
pub fn sample_pairs(seed: u64, count: usize, size: u32) -> Vec<(EvalPair, SynthSample, SynthSample)> {
    let mut out = Vec::with_capacity(count);
    let mut next = 0u64;
    while out.len() < count {
        let q = synth::generate(seed, next, size);
        let mut j = next + 1;
        let r = loop {
            let r = synth::generate(seed, j, size);
            if !shared(&q.attributes, &r.attributes).is_empty() {
                break r;
            }
            j += 1;
        };
        let pair = EvalPair { query: next, reference: j, shared: shared(&q.attributes, &r.attributes) };
        out.push((pair, q, r));
        next = j + 1;
    }
    out
}

/// How often one ranking rule's top-1 (or top-k) values hold a right one: one the pair shares
/// here, one that explains the match on the outfits benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopOne {
    /// `paper`, `confidence` or `agreement`.
    pub rule: String,
    /// The saliency method whose map the rule read (`None` for confidence only).
    pub method: Option<PairMethod>,
    pub weight: f32,
    pub hits: usize,
    pub pairs: usize,
    /// Pairs this rule gets right and confidence only gets wrong, and the other way round.
    pub wins: usize,
    pub losses: usize,
}

impl TopOne {
    pub fn rate(&self) -> f64 {
        self.hits as f64 / self.pairs.max(1) as f64
    }

    /// The rate's Wilson 95 % interval ([`stats::wilson`]).
    pub fn interval(&self) -> (f64, f64) {
        stats::wilson(self.hits, self.pairs)
    }

    /// Two-sided sign test of the wins against the losses ([`stats::sign_test`]).
    pub fn sign_test(&self) -> f64 {
        stats::sign_test(self.wins, self.losses)
    }
}

/// The rows of one top-k table: confidence only (`confidence[pair]`), then the paper's rule and
/// agreement only for every method (`hits[method][rule][pair]`, rules as [`Measured::ranked`]),
/// each with its wins and losses against confidence only.
pub(super) fn tally(config: &SimilarityEvalConfig, confidence: &[bool], hits: &[[Vec<bool>; 2]]) -> Vec<TopOne> {
    let row = |rule: &str, method: Option<PairMethod>, weight: f32, got: &[bool]| TopOne {
        rule: rule.into(),
        method,
        weight,
        hits: got.iter().filter(|h| **h).count(),
        pairs: got.len(),
        wins: got.iter().zip(confidence).filter(|(a, b)| **a && !**b).count(),
        losses: got.iter().zip(confidence).filter(|(a, b)| !**a && **b).count(),
    };
    let mut rows = vec![row("confidence", None, 1.0, confidence)];
    for (k, (rule, weight)) in [("paper", config.weight), ("agreement", 0.0)].into_iter().enumerate() {
        for (m, &method) in config.methods.iter().enumerate() {
            rows.push(row(rule, Some(method), weight, &hits[m][k]));
        }
    }
    rows
}

/// Mean deletion and insertion AUC (x 100) of one method, with their standard errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairFaithfulness {
    /// A method's name, or `random` for the random-map floor.
    pub method: String,
    pub deletion: f64,
    pub deletion_se: f64,
    pub insertion: f64,
    pub insertion_se: f64,
    /// The mean normalised curves ([`crate::metrics::pair_faithfulness::STEPS`] points).
    pub deletion_curve: Vec<f64>,
    pub insertion_curve: Vec<f64>,
}

/// Everything `lantern eval-similarity` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimilarityEvidence {
    pub config: SimilarityEvalConfig,
    pub pairs: Vec<EvalPair>,
    /// Expected hit rate of a random one of the query's true values.
    pub chance: f64,
    /// The attribute model's accuracy on the queries, per group (colour, texture, size): its most
    /// probable value of the group is the true one.
    pub attribute_accuracy: [f64; 3],
    pub top1: Vec<TopOne>,
    pub faithfulness: Vec<PairFaithfulness>,
}

/// Running sums of one faithfulness row.
pub(super) struct CurveSums {
    method: String,
    deletion: Vec<f64>,
    insertion: Vec<f64>,
    del_curve: Vec<f64>,
    ins_curve: Vec<f64>,
}

impl CurveSums {
    /// One row per method of `config`, then the random map's.
    pub(super) fn rows(config: &SimilarityEvalConfig) -> Vec<Self> {
        config.methods.iter().map(|m| Self::new(m.to_string())).chain([Self::new("random".into())]).collect()
    }

    fn new(method: String) -> Self {
        Self { method, deletion: Vec::new(), insertion: Vec::new(), del_curve: Vec::new(), ins_curve: Vec::new() }
    }

    fn add(&mut self, curves: &crate::metrics::pair_faithfulness::PairCurves) {
        let (d, i) = curves.aucs();
        self.deletion.push(d);
        self.insertion.push(i);
        for (sum, curve) in [(&mut self.del_curve, &curves.deletion), (&mut self.ins_curve, &curves.insertion)] {
            let n = crate::metrics::pair_faithfulness::normalised(curve);
            sum.resize(n.len(), 0.0);
            sum.iter_mut().zip(n).for_each(|(s, v)| *s += f64::from(v));
        }
    }

    pub(super) fn finish(self) -> PairFaithfulness {
        let n = self.deletion.len().max(1) as f64;
        let (deletion, deletion_se) = mean_se(&self.deletion);
        let (insertion, insertion_se) = mean_se(&self.insertion);
        PairFaithfulness {
            method: self.method,
            deletion,
            deletion_se,
            insertion,
            insertion_se,
            deletion_curve: self.del_curve.iter().map(|s| s / n).collect(),
            insertion_curve: self.ins_curve.iter().map(|s| s / n).collect(),
        }
    }
}

/// Mean and standard error of the mean (sample standard deviation / sqrt n; 0 below 2 values).
pub fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, (var / n as f64).sqrt())
}

/// Check what both evaluations need: an embedding and an attribute model whose labels are the
/// benchmark's values (in [`synth_attributes::names`] order), a pair and a method, valid
/// settings.
pub(super) fn check(embedder: &Network, attributes: &Network, config: &SimilarityEvalConfig) -> Result<()> {
    crate::explain::matching::check_models(embedder, Some(attributes))?;
    if config.pairs == 0 || config.methods.is_empty() {
        return Err(LanternError::BadArgument("the evaluation needs at least one pair and one method".into()));
    }
    if attributes.labels.len() != synth_attributes::COUNT
        || (0..synth_attributes::COUNT).any(|i| attributes.labels.name(i) != synth_attributes::names()[i])
    {
        return Err(LanternError::Mismatch(
            "the attribute model's labels are not the procedural benchmark's attribute values".into(),
        ));
    }
    config.pair.validate()
}

/// What one pair gives, every method's query map and attribute rankings; its deletion and
/// insertion curves are added to the sums by [`measure_pair`].
pub(super) struct Measured {
    pub attributes: AttributeMaps,
    /// Value indices by confidence only (`w = 1`), best first.
    pub confidence: Vec<usize>,
    /// `ranked[method]`: value indices best first by the paper's rule (`w = config.weight`) and
    /// by agreement only (`w = 0`).
    pub ranked: Vec<[Vec<usize>; 2]>,
    /// Each method's query map, then the random map, at the model's input resolution.
    pub maps: Vec<WeightMap>,
}

impl Measured {
    /// The attribute model's most probable value of each group (the first on ties).
    pub fn best_per_group(&self) -> [usize; 3] {
        let p = &self.attributes.probabilities;
        synth_attributes::ranges()
            .map(|range| range.max_by(|&x, &y| p[x].total_cmp(&p[y]).then(y.cmp(&x))).expect("groups are not empty"))
    }
}

/// Measure pair number `p` (query image `query`, reference image `reference`): the attribute
/// maps of the query, each method's query map and its rankings, and the deletion and insertion
/// curves of each map and of a uniformly random one (seeded by the split's seed and `p`), added
/// to `sums` ([`CurveSums::rows`]).
pub(super) fn measure_pair(
    embedder: &Network,
    attributes: &Network,
    config: &SimilarityEvalConfig,
    (p, query, reference): (usize, &image::RgbImage, &image::RgbImage),
    sums: &mut [CurveSums],
    control: &mut Control,
) -> Result<Measured> {
    let device = embedder.device();
    let q = embedder.preprocess.tensor(query, &device);
    let r = embedder.preprocess.tensor(reference, &device);
    let reference = embed(embedder, r.clone()).remove(0);
    let maps = attribute_maps(attributes, attributes.preprocess.tensor(query, &attributes.device()))?;
    let order = |map: &WeightMap, weight: f32| -> Vec<usize> {
        rank_attributes(&maps, map, &attributes.labels, weight).into_iter().map(|a| a.index).collect()
    };
    let [_, _, h, w] = q.dims();
    let (mut confidence, mut ranked, mut query_maps) = (Vec::new(), Vec::new(), Vec::new());
    for (m, &method) in config.methods.iter().enumerate() {
        let map = query_map(embedder, method, &q, &r, &config.pair, control)?;
        if m == 0 {
            confidence = order(&map, 1.0);
        }
        ranked.push([order(&map, config.weight), order(&map, 0.0)]);
        sums[m].add(&pair_curves(embedder, &q, &map, &reference, WHITE, config.pair.batch, control)?);
        query_maps.push(map);
    }
    let noise = crate::seeded::uniform("eval-similarity.random-map", h * w, config.seed.wrapping_add(p as u64));
    let random = WeightMap::new(w, h, noise.into_iter().map(|v| v as f32).collect());
    let last = sums.len() - 1;
    sums[last].add(&pair_curves(embedder, &q, &random, &reference, WHITE, config.pair.batch, control)?);
    query_maps.push(random);
    Ok(Measured { attributes: maps, confidence, ranked, maps: query_maps })
}

/// Run the evidence of the module documentation with `embedder` (an embedding model) and
/// `attributes` (an attribute model whose labels are the benchmark's values, in
/// [`synth_attributes::names`] order). `on_pair(done, total)` after every pair; `control` cancels.
pub fn evaluate(
    embedder: &Network,
    attributes: &Network,
    config: &SimilarityEvalConfig,
    control: &mut Control,
    on_pair: &mut dyn FnMut(usize, usize),
) -> Result<SimilarityEvidence> {
    check(embedder, attributes, config)?;
    let pairs = sample_pairs(config.seed, config.pairs, config.size);
    let mut confidence_hits = vec![false; pairs.len()];
    // hits[method][rule][pair]
    let mut hits = vec![[vec![false; pairs.len()], vec![false; pairs.len()]]; config.methods.len()];
    let mut sums = CurveSums::rows(config);
    let mut right = [0usize; 3];
    let mut chance = 0.0;
    for (p, (pair, q_img, r_img)) in pairs.iter().enumerate() {
        let measured = measure_pair(embedder, attributes, config, (p, &q_img.image, &r_img.image), &mut sums, control)?;
        let truth = indices(&q_img.attributes);
        for (g, best) in measured.best_per_group().into_iter().enumerate() {
            right[g] += usize::from(best == truth[g]);
        }
        chance += pair.shared.len() as f64 / 3.0;
        confidence_hits[p] = pair.shared.contains(&measured.confidence[0]);
        for (m, ranked) in measured.ranked.iter().enumerate() {
            for (k, order) in ranked.iter().enumerate() {
                hits[m][k][p] = pair.shared.contains(&order[0]);
            }
        }
        on_pair(p + 1, pairs.len());
    }
    let n = pairs.len();
    Ok(SimilarityEvidence {
        config: config.clone(),
        pairs: pairs.into_iter().map(|(p, _, _)| p).collect(),
        chance: chance / n as f64,
        attribute_accuracy: right.map(|r| r as f64 / n as f64),
        top1: tally(config, &confidence_hits, &hits),
        faithfulness: sums.into_iter().map(CurveSums::finish).collect(),
    })
}

/// The two tables as Markdown.
pub fn markdown(e: &SimilarityEvidence) -> String {
    let mut s = format!(
        "Top-1 attribute shared by the pair ({} pairs of seed {}; attribute model accuracy on the queries: colour {:.1}%, texture {:.1}%, size {:.1}%)\n\n",
        e.pairs.len(),
        e.config.seed,
        100.0 * e.attribute_accuracy[0],
        100.0 * e.attribute_accuracy[1],
        100.0 * e.attribute_accuracy[2]
    );
    s += "| ranking | saliency | w | top-1 shared | vs confidence only (wins / losses, sign test p) |\n|---|---|---|---|---|\n";
    for t in &e.top1 {
        s += &format!("| {} | {:.1}% ({}/{}) | {} |\n", rule_cells(t), 100.0 * t.rate(), t.hits, t.pairs, versus(t));
    }
    s += &format!("| random true value of the query (expected) | - | - | {:.1}% | - |\n", 100.0 * e.chance);
    s + &faithfulness_table(&e.faithfulness)
}

/// The first three cells of a ranking row: the rule, the saliency method, `w`.
pub(super) fn rule_cells(t: &TopOne) -> String {
    let method = t.method.map_or("-".to_string(), |m| m.title().to_string());
    format!("{} | {method} | {}", t.rule, t.weight)
}

/// A row's comparison with confidence only: wins / losses and the sign test's p.
pub(super) fn versus(t: &TopOne) -> String {
    if t.method.is_some() { format!("{} / {}, p = {:.3}", t.wins, t.losses, t.sign_test()) } else { "-".into() }
}

/// The deletion / insertion table.
pub(super) fn faithfulness_table(rows: &[PairFaithfulness]) -> String {
    let mut s = "\nSimilarity deletion / insertion (AUC x 100 of the per-pair min-max normalised curves, mean +- standard error; deletion: lower is better, insertion: higher is better)\n\n".to_string();
    s += "| saliency | deletion | insertion |\n|---|---|---|\n";
    for f in rows {
        s += &format!(
            "| {} | {:.1} +- {:.1} | {:.1} +- {:.1} |\n",
            method_title(&f.method),
            f.deletion,
            f.deletion_se,
            f.insertion,
            f.insertion_se
        );
    }
    s
}

/// A method's title, or the name as given (`random`).
pub(super) fn method_title(name: &str) -> String {
    name.parse::<PairMethod>().map_or_else(|_| name.to_string(), |m| m.title().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_share_a_value_and_do_not_overlap() {
        let pairs = sample_pairs(5, 6, 32);
        assert_eq!(pairs.len(), 6);
        let mut last = None;
        for (p, q, r) in &pairs {
            assert!(!p.shared.is_empty());
            assert_eq!(p.shared, shared(&q.attributes, &r.attributes));
            assert!(p.reference > p.query && last.is_none_or(|l| p.query > l));
            // Every image between the query and its reference shares nothing with the query.
            for j in p.query + 1..p.reference {
                assert!(shared(&q.attributes, &synth::generate(5, j, 32).attributes).is_empty());
            }
            last = Some(p.reference);
        }
        assert_eq!(mean_se(&[1.0, 3.0]), (2.0, 1.0));
    }

    #[test]
    fn a_small_run_fills_both_tables() {
        let device = burn::tensor::Device::flex();
        let embedder = crate::models::demo::embedding(&device).unwrap();
        let attributes = crate::models::demo::attributes(&device).unwrap();
        let config = SimilarityEvalConfig {
            pairs: 3,
            methods: vec![PairMethod::GradCam, PairMethod::Rise],
            pair: PairSettings { masks: 40, ..PairSettings::default() },
            ..SimilarityEvalConfig::default()
        };
        let mut seen = Vec::new();
        let e = evaluate(&embedder, &attributes, &config, &mut Control::none(), &mut |d, t| seen.push((d, t))).unwrap();
        assert_eq!(seen.last(), Some(&(3, 3)));
        // Confidence only, then paper and agreement for each method.
        assert_eq!(e.top1.len(), 5);
        assert_eq!(
            (e.top1[0].rule.as_str(), e.top1[1].rule.as_str(), e.top1[4].rule.as_str()),
            ("confidence", "paper", "agreement")
        );
        assert!(e.top1.iter().all(|t| t.hits <= 3 && t.wins + t.losses <= 3));
        assert_eq!(e.faithfulness.iter().map(|f| f.method.as_str()).collect::<Vec<_>>(), ["gradcam", "rise", "random"]);
        for f in &e.faithfulness {
            assert!((0.0..=100.0).contains(&f.deletion) && (0.0..=100.0).contains(&f.insertion));
            assert_eq!(f.insertion_curve.len(), crate::metrics::pair_faithfulness::STEPS);
        }
        assert!(e.chance > 0.0 && e.chance <= 1.0);
        let md = markdown(&e);
        assert!(md.contains("| confidence | - | 1 |") && md.contains("Similarity RISE"), "{md}");
        let classifier = crate::models::demo::network(&device).unwrap();
        assert!(evaluate(&embedder, &classifier, &config, &mut Control::none(), &mut |_, _| {}).is_err());
    }
}
