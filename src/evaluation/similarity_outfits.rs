//! `lantern eval-similarity --outfits`: the evidence of [`super::similarity`] on the outfits
//! benchmark ([`synth_outfits`]), where the attribute that explains a match is known and sits in
//! a known place. The embedding model is one trained on a match rule (`lantern train embedding
//! --outfits RULE`), the attribute model one trained on outfits (an outfit shows the values any
//! of its items wears).
//!
//! **Pairs.** Outfits `0, 1, ...` of the split's seed are read in order; each query is paired with
//! the first later outfit that *matches* it under the rule ([`MatchRule::matches`]), and the next
//! query is the outfit after that reference ([`sample_outfit_pairs`]). The values that explain the
//! match are the query's values of the rule's groups on the rule's items
//! ([`MatchRule::explaining`]: for `top:colour+texture`, the top's colour and texture); the pair
//! may share other values by chance, on other items, which do not explain it.
//!
//! **(a) Which attribute explains the match.** For every pair and pair-saliency method, the
//! rankings of [`super::similarity`] (the paper's `w`, confidence only, agreement only); a pair is
//! a top-1 hit when the first value explains the match, a top-3 hit when one of the first three
//! does. Rates carry Wilson 95 % intervals, and each rule is compared with confidence only by an
//! exact two-sided sign test on the pairs where exactly one of them is right
//! ([`super::stats`]). For scale, the expected rates of a uniformly random ranking of the values
//! the query shows: `k / n` for top-1 and `1 - C(n - k, 3) / C(n, 3)` for top-3, `k` explaining
//! values among `n`.
//!
//! **(b) Where the saliency is.** Each method's query map against the mask of the rule's items
//! in the query (their union): relevance mass (the share of the map's positive mass on the items;
//! Arras et al., CLEVR-XAI, 2022) and the pointing game (a hit when the map's maximum is on them,
//! no tolerance; Zhang et al., ECCV 2016), with a uniformly random map as the floor (its mass is
//! about the items' share of the image).
//!
//! **(c) Deletion and insertion** of each map, as in [`super::similarity`].

use super::similarity::{
    CurveSums, PairFaithfulness, SimilarityEvalConfig, TopOne, check, faithfulness_table, mean_se, measure_pair,
    method_title, rule_cells, tally, versus,
};
use super::stats;
use crate::control::Control;
use crate::datasets::synth_outfits::{self, MatchRule, Outfit};
use crate::error::{LanternError, Result};
use crate::map::Interpolation;
use crate::metrics::wsol::{pointing_game, relevance_mass};
use crate::models::Network;
use serde::{Deserialize, Serialize};

/// Outfits searched for a query's match before the rule is called too rare.
pub const MAX_SEARCH: u64 = 20_000;

/// One evaluated pair: outfit indices of the split, the values that explain the match and the
/// values the two outfits share anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutfitPair {
    pub query: u64,
    pub reference: u64,
    pub explaining: Vec<usize>,
    pub shared: Vec<usize>,
}

/// The first `count` matching pairs of the split `seed` under `rule` (see the module
/// documentation), with their outfits.
pub fn sample_outfit_pairs(
    seed: u64,
    count: usize,
    size: u32,
    rule: &MatchRule,
) -> Result<Vec<(OutfitPair, Outfit, Outfit)>> {
    let mut out = Vec::with_capacity(count);
    let mut next = 0u64;
    while out.len() < count {
        let q = synth_outfits::generate(seed, next, size);
        let (qw, mut j) = (q.wearing(), next + 1);
        let r = loop {
            if j > next + MAX_SEARCH {
                return Err(LanternError::BadArgument(format!(
                    "no outfit among the {MAX_SEARCH} after outfit {next} matches it under {rule}: the rule is too strict"
                )));
            }
            let r = synth_outfits::generate(seed, j, size);
            if rule.matches(&qw, &r.wearing()) {
                break r;
            }
            j += 1;
        };
        let theirs = synth_outfits::values(&r.wearing());
        let shared = synth_outfits::values(&qw).into_iter().filter(|v| theirs.contains(v)).collect();
        out.push((OutfitPair { query: next, reference: j, explaining: rule.explaining(&qw), shared }, q, r));
        next = j + 1;
    }
    Ok(out)
}

/// Where one method's query maps are: their mass and maximum on the explaining items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemLocalisation {
    /// A method's name, or `random`.
    pub method: String,
    /// Mean relevance mass on the items, and its standard error.
    pub mass: f64,
    pub mass_se: f64,
    /// Pairs whose map's maximum is on the items.
    pub pointing: usize,
    pub pairs: usize,
}

/// Everything `lantern eval-similarity --outfits` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutfitEvidence {
    pub config: SimilarityEvalConfig,
    pub rule: MatchRule,
    pub pairs: Vec<OutfitPair>,
    /// Expected top-1 and top-3 rates of a random ranking of the query's values.
    pub chance: [f64; 2],
    /// Per group (colour, texture, size): the attribute model's most probable value is one the
    /// query wears.
    pub attribute_accuracy: [f64; 3],
    pub top1: Vec<TopOne>,
    pub top3: Vec<TopOne>,
    /// Mean share of the image covered by the explaining items.
    pub item_area: f64,
    /// One row per method, then the random map's.
    pub localisation: Vec<ItemLocalisation>,
    pub faithfulness: Vec<PairFaithfulness>,
}

/// Probability that a uniformly random order of `n` values puts one of `k` right ones among its
/// first `top`: `1 - C(n - k, top) / C(n, top)`.
pub fn random_top_k(n: usize, k: usize, top: usize) -> f64 {
    let miss: f64 = (0..top.min(n)).map(|i| n.saturating_sub(k + i) as f64 / (n - i) as f64).product();
    1.0 - miss
}

/// Run the evidence of the module documentation (models as [`super::similarity::evaluate`]).
/// `on_pair(done, total)` after every pair; `control` cancels.
pub fn evaluate_outfits(
    embedder: &Network,
    attributes: &Network,
    config: &SimilarityEvalConfig,
    rule: &MatchRule,
    control: &mut Control,
    on_pair: &mut dyn FnMut(usize, usize),
) -> Result<OutfitEvidence> {
    check(embedder, attributes, config)?;
    let pairs = sample_outfit_pairs(config.seed, config.pairs, config.size, rule)?;
    let n = pairs.len();
    let (mut confidence1, mut confidence3) = (vec![false; n], vec![false; n]);
    let mut hits1 = vec![[vec![false; n], vec![false; n]]; config.methods.len()];
    let mut hits3 = hits1.clone();
    let mut sums = CurveSums::rows(config);
    let mut masses = vec![Vec::with_capacity(n); config.methods.len() + 1];
    let mut pointing = vec![0usize; config.methods.len() + 1];
    let (mut right, mut chance, mut area) = ([0usize; 3], [0.0f64; 2], 0.0f64);
    for (p, (pair, q, r)) in pairs.iter().enumerate() {
        let measured = measure_pair(embedder, attributes, config, (p, &q.image, &r.image), &mut sums, control)?;
        let values = synth_outfits::values(&q.wearing());
        for (g, best) in measured.best_per_group().into_iter().enumerate() {
            right[g] += usize::from(values.contains(&best));
        }
        let explains = |order: &[usize], top: usize| order.iter().take(top).any(|v| pair.explaining.contains(v));
        let k = pair.explaining.len();
        chance[0] += random_top_k(values.len(), k, 1);
        chance[1] += random_top_k(values.len(), k, 3);
        confidence1[p] = explains(&measured.confidence, 1);
        confidence3[p] = explains(&measured.confidence, 3);
        for (m, ranked) in measured.ranked.iter().enumerate() {
            for (rule_index, order) in ranked.iter().enumerate() {
                hits1[m][rule_index][p] = explains(order, 1);
                hits3[m][rule_index][p] = explains(order, 3);
            }
        }
        let mask: Vec<bool> = {
            let items: Vec<_> = rule.slots.iter().filter_map(|&s| q.item(s)).collect();
            (0..(q.image.width() * q.image.height()) as usize)
                .map(|i| items.iter().any(|item| item.mask.as_raw()[i] > 0))
                .collect()
        };
        area += mask.iter().filter(|m| **m).count() as f64 / mask.len() as f64;
        for (m, map) in measured.maps.iter().enumerate() {
            let map = if (map.width, map.height) == (q.image.width() as usize, q.image.height() as usize) {
                map.clone()
            } else {
                map.resized(q.image.width() as usize, q.image.height() as usize, Interpolation::Bilinear)
            };
            masses[m].push(relevance_mass(&map, &mask));
            pointing[m] += usize::from(pointing_game(&map, &mask, 0));
        }
        on_pair(p + 1, n);
    }
    let faithfulness: Vec<PairFaithfulness> = sums.into_iter().map(CurveSums::finish).collect();
    let localisation = faithfulness
        .iter()
        .zip(masses.iter().zip(&pointing))
        .map(|(f, (mass, &pointing))| {
            let (mass, mass_se) = mean_se(mass);
            ItemLocalisation { method: f.method.clone(), mass, mass_se, pointing, pairs: n }
        })
        .collect();
    let d = n.max(1) as f64;
    Ok(OutfitEvidence {
        config: config.clone(),
        rule: rule.clone(),
        pairs: pairs.into_iter().map(|(p, _, _)| p).collect(),
        chance: chance.map(|c| c / d),
        attribute_accuracy: right.map(|r| r as f64 / d),
        top1: tally(config, &confidence1, &hits1),
        top3: tally(config, &confidence3, &hits3),
        item_area: area / d,
        localisation,
        faithfulness,
    })
}

/// A rate with its hits and Wilson interval: `45.0% (135/300; 39.5-50.6)`.
fn rate(hits: usize, n: usize) -> String {
    let (lo, hi) = stats::wilson(hits, n);
    format!("{:.1}% ({hits}/{n}; {:.1}-{:.1})", 100.0 * hits as f64 / n.max(1) as f64, 100.0 * lo, 100.0 * hi)
}

/// The three tables as Markdown.
pub fn markdown(e: &OutfitEvidence) -> String {
    let mut s = format!(
        "Attribute that explains the match ({} matching pairs of seed {} under {}: the explaining values are the query's {} there; attribute model accuracy on the queries, its most probable value of the group is one the outfit wears: colour {:.1}%, texture {:.1}%, size {:.1}%)\n\n",
        e.pairs.len(),
        e.config.seed,
        e.rule,
        e.rule.groups.iter().map(|&g| crate::datasets::synth_attributes::GROUPS[g]).collect::<Vec<_>>().join(" and "),
        100.0 * e.attribute_accuracy[0],
        100.0 * e.attribute_accuracy[1],
        100.0 * e.attribute_accuracy[2]
    );
    s += "| ranking | saliency | w | top-1 explains (95% CI) | top-3 explains (95% CI) | top-1 vs confidence only (wins / losses, sign test p) |\n|---|---|---|---|---|---|\n";
    for (t1, t3) in e.top1.iter().zip(&e.top3) {
        s += &format!(
            "| {} | {} | {} | {} |\n",
            rule_cells(t1),
            rate(t1.hits, t1.pairs),
            rate(t3.hits, t3.pairs),
            versus(t1)
        );
    }
    s += &format!(
        "| random order of the query's values (expected) | - | - | {:.1}% | {:.1}% | - |\n",
        100.0 * e.chance[0],
        100.0 * e.chance[1]
    );
    s += &format!(
        "\nSaliency on the explaining item (the query's map against the mask of the rule's items, which cover {:.1}% of the image on average; relevance mass: the map's share on them, mean +- standard error; pointing game: its maximum on them)\n\n",
        100.0 * e.item_area
    );
    s += "| saliency | relevance mass | pointing game (95% CI) |\n|---|---|---|\n";
    for l in &e.localisation {
        s += &format!(
            "| {} | {:.1}% +- {:.1} | {} |\n",
            method_title(&l.method),
            100.0 * l.mass,
            100.0 * l.mass_se,
            rate(l.pointing, l.pairs)
        );
    }
    s + &faithfulness_table(&e.faithfulness)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::pair_params::PairSettings;
    use crate::explain::pair_registry::PairMethod;

    #[test]
    fn pairs_match_under_the_rule_and_name_what_explains_them() {
        let rule = MatchRule::default();
        let pairs = sample_outfit_pairs(5, 4, 48, &rule).unwrap();
        let mut last = None;
        for (p, q, r) in &pairs {
            assert!(rule.matches(&q.wearing(), &r.wearing()));
            assert_eq!(p.explaining, rule.explaining(&q.wearing()));
            assert_eq!(p.explaining, rule.explaining(&r.wearing()), "a match shows the same explaining values");
            assert!(p.explaining.iter().all(|v| p.shared.contains(v)));
            for j in p.query + 1..p.reference {
                assert!(!rule.matches(&q.wearing(), &synth_outfits::generate(5, j, 48).wearing()));
            }
            assert!(p.reference > p.query && last.is_none_or(|l| p.query > l));
            last = Some(p.reference);
        }
        let strict: MatchRule = "top,bottom,shoes,bag:colour+texture+size".parse().unwrap();
        assert!(sample_outfit_pairs(5, 1, 32, &strict).unwrap_err().to_string().contains("too strict"));
    }

    #[test]
    fn random_top_k_is_the_hypergeometric_miss() {
        assert!((random_top_k(6, 2, 1) - 2.0 / 6.0).abs() < 1e-12);
        // 1 - C(4, 3) / C(6, 3) = 1 - 4 / 20.
        assert!((random_top_k(6, 2, 3) - 0.8).abs() < 1e-12);
        assert_eq!(random_top_k(3, 1, 3), 1.0);
    }

    #[test]
    fn a_small_run_fills_every_table() {
        let device = burn::tensor::Device::flex();
        let embedder = crate::models::demo::embedding(&device).unwrap();
        let attributes = crate::models::demo::attributes(&device).unwrap();
        let config = SimilarityEvalConfig {
            pairs: 2,
            methods: vec![PairMethod::GradCam, PairMethod::Rise],
            pair: PairSettings { masks: 20, ..PairSettings::default() },
            ..SimilarityEvalConfig::default()
        };
        let rule = MatchRule::default();
        let e = evaluate_outfits(&embedder, &attributes, &config, &rule, &mut Control::none(), &mut |_, _| {}).unwrap();
        assert_eq!((e.top1.len(), e.top3.len()), (5, 5));
        assert!(e.top1.iter().zip(&e.top3).all(|(a, b)| a.hits <= b.hits && b.hits <= 2));
        assert_eq!(e.localisation.iter().map(|l| l.method.as_str()).collect::<Vec<_>>(), ["gradcam", "rise", "random"]);
        for l in &e.localisation {
            assert!((0.0..=1.0).contains(&l.mass) && l.pointing <= 2);
        }
        // A random map's mass is about the items' share of the image.
        assert!((e.localisation[2].mass - e.item_area).abs() < 0.1, "{:?} {}", e.localisation[2], e.item_area);
        assert!(e.chance[0] > 0.0 && e.chance[0] <= e.chance[1] && e.chance[1] <= 1.0);
        let md = markdown(&e);
        assert!(
            md.contains("top:colour+texture") && md.contains("| confidence | - | 1 |") && md.contains("pointing game")
        );
    }
}
