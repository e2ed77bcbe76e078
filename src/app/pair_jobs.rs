//! The similarity jobs the worker runs for the Pair view and the Neighbours panel: loading the
//! similarity models (an embedding model and, optionally, an attribute model), the pair maps of
//! a query and a reference with the attributes ranked for the match, and the nearest gallery
//! images of the open image. The methods are the library's ([`crate::explain::similarity`],
//! [`crate::explain::attribute_rank`], [`crate::retrieval`]); this file only feeds them the app's
//! images and turns their results into what the views draw.

use super::images::{Decoded, ImageSource};
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::explain::attribute_rank::RankedAttribute;
use crate::explain::matching::{MapsCache, MatchModels, MatchSettings, explain_match_cached};
use crate::explain::pair_params::PairSettings;
use crate::explain::pair_registry::PairMethod;
use crate::imaging::Geometry;
use crate::map::boxes::threshold_boxes;
use crate::map::{PixelBox, WeightMap};
use crate::models::Network;
use crate::models::attributes::{AttributeMaps, MAPS_LAYER};
use crate::models::embedding::penultimate;
use crate::models::scores::softmax;
use crate::retrieval::{EmbeddingIndex, IndexEntry, embed_images, nearest};
use burn::tensor::Device;
use image::RgbImage;
use std::path::PathBuf;
use std::sync::Arc;

/// Which network embeds the images.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EmbeddingChoice {
    /// A weights file: an embedding model, or a classifier read through its penultimate features.
    File(PathBuf),
    /// The open model (app model id): itself if it is an embedding model, else its penultimate
    /// features.
    OpenModel(u64),
}

/// The similarity models to load.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimilaritySource {
    pub embedding: EmbeddingChoice,
    /// An attribute model (one activation map per attribute value), if any.
    pub attributes: Option<PathBuf>,
}

/// The loaded similarity models, as the worker keeps them.
pub struct SimilarityModels {
    pub embedding: Network,
    pub attributes: Option<Network>,
}

/// What the UI shows about the loaded similarity models.
#[derive(Debug, Clone)]
pub struct SimilarityInfo {
    /// The embedding model, described.
    pub embedding: String,
    /// The attribute model's file name, or why there is none.
    pub attributes: std::result::Result<String, String>,
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into_owned())
}

/// Load the models `source` names; `open` is the open model (for [`EmbeddingChoice::OpenModel`]).
/// A missing or unusable attribute model is not an error: the info says why there is none.
pub fn load_models(
    source: &SimilaritySource,
    open: Option<&Network>,
    device: &Device,
) -> Result<(SimilarityModels, SimilarityInfo)> {
    let (embedding, described) = match &source.embedding {
        EmbeddingChoice::File(p) => {
            let net = crate::models::load(p, None, device)?;
            let what = if net.output == crate::models::OutputKind::Embedding { "" } else { " (penultimate features)" };
            (penultimate(net), format!("{}{what}", file_name(p)))
        }
        EmbeddingChoice::OpenModel(_) => {
            let net = open.ok_or_else(|| LanternError::Internal("the open model is not loaded yet".into()))?.clone();
            let what = if net.output == crate::models::OutputKind::Embedding {
                "the open model"
            } else {
                "the open model's penultimate features"
            };
            (penultimate(net), format!("{what} ({})", open.map_or("", |n| n.arch.as_str())))
        }
    };
    let (attributes, attributes_info) = match &source.attributes {
        None => (None, Err("no attribute model".to_string())),
        Some(p) => match crate::models::load(p, None, device) {
            Ok(net) if net.layers.iter().any(|l| l.name == MAPS_LAYER) => (Some(net), Ok(file_name(p))),
            Ok(net) => {
                (None, Err(format!("no attribute model: {} ({}) has no '{MAPS_LAYER}' layer", file_name(p), net.arch)))
            }
            Err(e) => (None, Err(format!("no attribute model: {e}"))),
        },
    };
    Ok((
        SimilarityModels { embedding, attributes },
        SimilarityInfo { embedding: described, attributes: attributes_info },
    ))
}

/// One pair to explain.
#[derive(Debug, Clone, PartialEq)]
pub struct PairJob {
    /// The similarity models' id.
    pub models: u64,
    /// Gallery image ids and where the images come from.
    pub query: (u64, ImageSource),
    pub reference: (u64, ImageSource),
    pub method: PairMethod,
    pub settings: PairSettings,
    /// `w` of the attribute ranking ([`crate::explain::attribute_rank`]).
    pub weight: f32,
}

/// The open image's nearest gallery images.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighboursJob {
    pub models: u64,
    /// The open image's gallery id (it is one of `images`).
    pub query: u64,
    pub images: Vec<(u64, ImageSource)>,
    pub k: usize,
}

/// One side of an explained pair: the image, its similarity map (min-max normalised for the
/// overlay) with the boxes at every threshold, and its attribute maps.
#[derive(Debug, Clone)]
pub struct PairSide {
    pub image: Decoded,
    pub map: Arc<WeightMap>,
    /// Boxes of the map above each threshold `i / 100`.
    pub boxes: Arc<Vec<Vec<PixelBox>>>,
    /// Where the embedding model's input lies on the image.
    pub geometry: Geometry,
    /// Each attribute value's map, softmax over space then min-max normalised (empty without an
    /// attribute model), and where the attribute model's input lies.
    pub attribute_maps: Vec<Arc<WeightMap>>,
    pub attribute_geometry: Option<Geometry>,
}

/// An explained pair.
#[derive(Debug, Clone)]
pub struct PairOutput {
    pub query: PairSide,
    pub reference: PairSide,
    /// `cos(f(q), f(r))`.
    pub similarity: f32,
    pub method: PairMethod,
    /// The attribute values ranked for the match (the query's maps against its similarity map),
    /// or why there is no ranking.
    pub ranked: std::result::Result<Vec<RankedAttribute>, String>,
    pub milliseconds: f64,
}

/// The nearest gallery images of a query: `(image id, cosine)`, most similar first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    pub query: u64,
    pub matches: Vec<(u64, f32)>,
    /// Images embedded by this job, and images that could not be read (left out).
    pub computed: usize,
    pub unreadable: usize,
}

/// The map shown for attribute value `a`: `softmax` of `A_a` over its positions, min-max
/// normalised (the spatial distribution the ranking compares with the saliency).
pub fn attribute_display_map(maps: &AttributeMaps, a: usize) -> WeightMap {
    let mut m = WeightMap::new(maps.width, maps.height, softmax(&maps.maps[a]));
    m.normalize();
    m
}

/// `map` min-max normalised to `[0, 1]`, as the overlay shows maps.
fn for_display(map: &WeightMap) -> WeightMap {
    let mut m = map.clone();
    m.normalize();
    m
}

fn side(
    image: &Arc<RgbImage>,
    map: &WeightMap,
    net: &Network,
    attributes: Option<(&Network, &AttributeMaps)>,
) -> PairSide {
    let shown = for_display(map);
    let boxes = threshold_boxes(&shown);
    let rgba = Arc::new(image::DynamicImage::ImageRgb8((**image).clone()).into_rgba8());
    PairSide {
        image: Decoded { rgb: Arc::clone(image), rgba },
        map: Arc::new(shown),
        boxes: Arc::new(boxes),
        geometry: net.preprocess.geometry(image.width(), image.height()),
        attribute_maps: attributes
            .map_or_else(Vec::new, |(_, m)| (0..m.maps.len()).map(|a| Arc::new(attribute_display_map(m, a))).collect()),
        attribute_geometry: attributes.map(|(n, _)| n.preprocess.geometry(image.width(), image.height())),
    }
}

/// The last pair's similarity maps and the job they were made for, with weight 0
/// (changing only the ranking's weight reuses them).
pub type PairMapsCache = MapsCache<PairJob>;

/// Explain a pair ([`crate::explain::matching::explain_match_cached`]: the similarity map on
/// each side by `job.method`, taken from `cache` when only the weight changed, the cosine
/// similarity, and with an attribute model the attribute values ranked for the query's map), and
/// turn it into what the Pair view draws.
pub fn explain_pair(
    models: &SimilarityModels,
    q: &Arc<RgbImage>,
    r: &Arc<RgbImage>,
    job: &PairJob,
    cache: &mut PairMapsCache,
    control: &mut Control,
) -> Result<PairOutput> {
    let start = web_time::Instant::now();
    let net = &models.embedding;
    let settings =
        MatchSettings { method: job.method, pair: job.settings.clone(), weight: job.weight, top: usize::MAX };
    let key = PairJob { weight: 0.0, ..job.clone() };
    let pair = MatchModels { embedder: net, attributes: models.attributes.as_ref() };
    let m = explain_match_cached(pair, (q, r), &settings, key, cache, control)?;
    let attribute = models.attributes.as_ref().zip(m.query_attributes.as_ref().zip(m.reference_attributes.as_ref()));
    let query = side(q, &m.query_map, net, attribute.map(|(n, (qa, _))| (n, qa)));
    let reference = side(r, &m.reference_map, net, attribute.map(|(n, (_, ra))| (n, ra)));
    let ranked = if attribute.is_some() { Ok(m.attributes) } else { Err("no attribute model".to_string()) };
    Ok(PairOutput {
        query,
        reference,
        similarity: m.similarity,
        method: job.method,
        ranked,
        milliseconds: start.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Images embedded per model pass.
const EMBED_BATCH: usize = 16;

/// The embeddings of `images` not yet in `cache` (keyed by where the image comes from), `read`
/// decoding each; then the `job.k` nearest of the query among the others. Images that cannot be
/// read are left out and counted.
pub fn find_neighbours(
    net: &Network,
    job: &NeighboursJob,
    cache: &mut std::collections::HashMap<ImageSource, Vec<f32>>,
    read: &dyn Fn(u64, &ImageSource) -> Result<Arc<RgbImage>>,
    control: &mut Control,
) -> Result<Neighbours> {
    let missing: Vec<&(u64, ImageSource)> = job.images.iter().filter(|(_, s)| !cache.contains_key(s)).collect();
    let (mut computed, mut unreadable) = (0, 0);
    for chunk in missing.chunks(EMBED_BATCH) {
        control.check()?;
        let mut read_ok = Vec::with_capacity(chunk.len());
        for (id, source) in chunk {
            match read(*id, source) {
                Ok(img) => read_ok.push((source, img)),
                Err(_) => unreadable += 1,
            }
        }
        let images: Vec<RgbImage> = read_ok.iter().map(|(_, i)| (**i).clone()).collect();
        for ((source, _), e) in read_ok.iter().zip(embed_images(net, &images, EMBED_BATCH)) {
            cache.insert((*source).clone(), e);
        }
        computed += read_ok.len();
        control.report(computed + unreadable, missing.len(), None);
    }
    // The gallery in memory, named by image id (never written as a cache file).
    let known: Vec<&(u64, ImageSource)> = job.images.iter().filter(|(_, s)| cache.contains_key(s)).collect();
    let entries = known
        .iter()
        .map(|(id, s)| IndexEntry { name: id.to_string(), size: 0, modified: 0, embedding: cache[s].clone() })
        .collect();
    let gallery = EmbeddingIndex { version: 0, model: String::new(), root: PathBuf::new(), entries };
    let query = job
        .images
        .iter()
        .find(|(id, _)| *id == job.query)
        .and_then(|(_, s)| cache.get(s))
        .ok_or_else(|| LanternError::BadArgument("the open image could not be read".into()))?;
    let matches = nearest(&gallery, query, job.k, Some(job.query.to_string().as_str()))
        .into_iter()
        .map(|(i, s)| (known[i].0, s))
        .collect();
    Ok(Neighbours { query: job.query, matches, computed, unreadable })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::embedding::cosine;

    #[test]
    fn attribute_maps_are_shown_as_their_spatial_softmax_scaled_to_0_1() {
        let maps = AttributeMaps {
            width: 2,
            height: 1,
            maps: vec![vec![0.0, 2.0], vec![1.0, 1.0]],
            probabilities: vec![0.5, 0.7],
        };
        let m = attribute_display_map(&maps, 0);
        assert_eq!((m.width, m.height), (2, 1));
        assert!(m.values[0].abs() < 1e-6 && (m.values[1] - 1.0).abs() < 1e-6, "{:?}", m.values);
        // A flat map stays flat (normalising a constant map gives zeros, not NaN).
        assert!(attribute_display_map(&maps, 1).values.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn a_new_weight_reranks_with_the_cached_maps_and_anything_else_recomputes_them() {
        let device = Device::flex();
        let models = SimilarityModels {
            embedding: penultimate(crate::models::demo::network(&device).unwrap()),
            attributes: None,
        };
        let image = |i: usize| {
            Arc::new(
                ImageSource::Bytes { name: "x.png".into(), bytes: crate::models::demo::IMAGES[i].1 }.decode().unwrap(),
            )
        };
        let (q, r) = (image(0), image(1));
        let source =
            |i: u64| (i, ImageSource::Bytes { name: "x.png".into(), bytes: crate::models::demo::IMAGES[i as usize].1 });
        let job = PairJob {
            models: 1,
            query: source(0),
            reference: source(1),
            method: PairMethod::GradCam,
            settings: PairSettings::default(),
            weight: 0.5,
        };
        let mut cache = None;
        let first = explain_pair(&models, &q, &r, &job, &mut cache, &mut Control::none()).unwrap();
        assert_eq!(first.ranked, Err("no attribute model".to_string()));
        assert!(first.query.attribute_maps.is_empty() && first.query.attribute_geometry.is_none());
        // Planted maps for the same pair: another weight takes them, other settings do not.
        let planted =
            vec![WeightMap::new(2, 2, vec![0.0, 1.0, 2.0, 4.0]), WeightMap::new(2, 2, vec![1.0, 0.0, 0.0, 0.0])];
        cache = Some((PairJob { weight: 0.0, ..job.clone() }, planted));
        let reweighted =
            explain_pair(&models, &q, &r, &PairJob { weight: 1.0, ..job.clone() }, &mut cache, &mut Control::none())
                .unwrap();
        assert_eq!(reweighted.query.map.values, vec![0.0, 0.25, 0.5, 1.0], "the cached map, normalised for display");
        let other = PairJob { settings: PairSettings { seed: 1, ..PairSettings::default() }, ..job.clone() };
        let other = explain_pair(&models, &q, &r, &other, &mut cache, &mut Control::none()).unwrap();
        assert_eq!(other.query.map.values, first.query.map.values, "computed again");
        assert!((other.similarity - first.similarity).abs() < 1e-6);
    }

    #[test]
    fn neighbours_come_from_the_cache_and_skip_the_query_and_unreadable_images() {
        let net = penultimate(crate::models::demo::network(&Device::flex()).unwrap());
        let images: Vec<(u64, ImageSource)> = crate::models::demo::IMAGES
            .iter()
            .enumerate()
            .map(|(i, (n, b))| (i as u64 + 10, ImageSource::Bytes { name: n.to_string(), bytes: b }))
            .collect();
        let mut all = images.clone();
        all.push((99, ImageSource::File(PathBuf::from("/nonexistent/broken.png"))));
        let job = NeighboursJob { models: 1, query: 10, images: all, k: 3 };
        let read = |_: u64, s: &ImageSource| s.decode().map(Arc::new);
        let mut cache = std::collections::HashMap::new();
        let found = find_neighbours(&net, &job, &mut cache, &read, &mut Control::none()).unwrap();
        assert_eq!((found.computed, found.unreadable, found.matches.len()), (6, 1, 3));
        assert!(found.matches.iter().all(|(id, _)| *id != 10 && *id != 99));
        assert!(found.matches.windows(2).all(|w| w[0].1 >= w[1].1));
        // By hand: the cosine of the query's and the first match's embeddings.
        let e = |i: usize| embed_images(&net, &[images[i].1.decode().unwrap()], 1).remove(0);
        let best = found.matches[0];
        assert!((cosine(&e(0), &e((best.0 - 10) as usize)) - best.1).abs() < 1e-5);
        // Again: everything comes from the cache.
        let again = find_neighbours(&net, &job, &mut cache, &read, &mut Control::none()).unwrap();
        assert_eq!((again.computed, again.matches.clone()), (0, found.matches));
    }
}
