//! `lantern similar`: a query's nearest neighbours in a gallery folder by cosine similarity of an
//! embedding model, each match explained (Plummer et al., "Why do These Match?", ECCV 2020) by a
//! saliency map on each side and the attribute values that best explain it. Writes
//! `report.json`, a self-contained `report.html` and the overlays (PNG) in the output folder; the
//! gallery's embeddings are cached there per gallery ([`crate::retrieval`]).

use super::explain::ParamArgs;
use super::progress::progress_bar;
use super::similar_html;
use super::similar_report::{AttributeScore, CacheReport, Match, Report};
use crate::control::Control;
use crate::device::DeviceChoice;
use crate::error::{LanternError, Result};
use crate::explain::attribute_rank::DEFAULT_WEIGHT;
use crate::explain::matching::{MatchExplanation, MatchSettings, check_models, explain_match};
use crate::explain::pair_params::PairSettings;
use crate::explain::pair_registry::PairMethod;
use crate::files::{write_json, write_rgb_png};
use crate::imaging::load_image;
use crate::map::WeightMap;
use crate::models::attributes::AttributeMaps;
use crate::models::embedding::{embed, penultimate};
use crate::models::{self, Network};
use crate::render::{OverlayStyle, overlay_on_original};
use crate::retrieval::{CacheUse, embed_gallery, name_in, nearest};
use image::RgbImage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Debug, clap::Args)]
pub struct SimilarArgs {
    /// The query image.
    pub query: PathBuf,
    /// Folder of images to search (sub-folders too).
    #[arg(long)]
    pub gallery: PathBuf,
    /// Embedding model (default: the bundled demo embedding model); a classifier is read
    /// through its penultimate features.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Attribute model (default: the bundled demo attribute model).
    #[arg(long)]
    pub attributes: Option<PathBuf>,
    /// Output folder: report.json, report.html, overlays and the gallery's embedding cache.
    #[arg(long)]
    pub out: PathBuf,
    /// Nearest neighbours to explain.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Pair-saliency method: rise, window (sliding window) or gradcam.
    #[arg(long, default_value = "rise")]
    pub method: PairMethod,
    /// Attribute values listed per match.
    #[arg(long, default_value_t = 3)]
    pub attribute_top: usize,
    /// `w` of the attribute ranking `w * confidence + (1 - w) * agreement` (1: confidence only).
    #[arg(long, default_value_t = DEFAULT_WEIGHT)]
    pub weight: f32,
    /// Where to compute: auto, cpu, wgpu, or remote:<server> with --token-file.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub params: ParamArgs<PairSettings>,
}

/// A model with how the report names it and the digest the cache is keyed on.
pub struct Loaded {
    pub net: Network,
    pub name: String,
    pub digest: String,
}

/// The embedding model of `path` (a classifier through its penultimate features), or the demo.
pub fn load_embedder(path: Option<&Path>, device: &burn::tensor::Device) -> Result<Loaded> {
    Ok(match path {
        Some(p) => Loaded {
            net: penultimate(models::load(p, None, device)?),
            name: p.display().to_string(),
            digest: crate::digest::sha256_file(p).map_err(|e| LanternError::io(p, e))?,
        },
        None => Loaded {
            net: models::demo::embedding(device)?,
            name: "demo embedding model".into(),
            digest: crate::digest::sha256_hex(models::demo::EMBEDDING),
        },
    })
}

/// The attribute model of `path`, or the demo.
pub fn load_attributes(path: Option<&Path>, device: &burn::tensor::Device) -> Result<Loaded> {
    Ok(match path {
        Some(p) => Loaded {
            net: models::load(p, None, device)?,
            name: p.display().to_string(),
            digest: crate::digest::sha256_file(p).map_err(|e| LanternError::io(p, e))?,
        },
        None => Loaded {
            net: models::demo::attributes(device)?,
            name: "demo attribute model".into(),
            digest: crate::digest::sha256_hex(models::demo::ATTRIBUTES),
        },
    })
}

/// The cache file for `gallery` in `out`: `embeddings-<first 16 hex digits of the SHA-256 of the
/// gallery's absolute path>.json`, so two galleries never share one.
pub fn cache_file(out: &Path, gallery: &Path) -> Result<PathBuf> {
    let absolute = gallery.canonicalize().map_err(|e| LanternError::io(gallery, e))?;
    let key = crate::digest::sha256_hex(absolute.to_string_lossy().as_bytes());
    Ok(out.join(format!("embeddings-{}.json", &key[..16])))
}

fn check(args: &SimilarArgs) -> Result<()> {
    if args.top == 0 {
        return Err(LanternError::BadArgument("--top must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&args.weight) {
        return Err(LanternError::BadArgument(format!("--weight must be between 0 and 1, got {}", args.weight)));
    }
    if !args.gallery.is_dir() {
        return Err(LanternError::BadArgument(format!("{}: the gallery is not a folder", args.gallery.display())));
    }
    Ok(())
}

/// A progress callback that sets `bar`'s position to `base + done / total` of one unit, in
/// hundredths.
fn advance(bar: &indicatif::ProgressBar, base: u64) -> impl FnMut(crate::control::Progress<'_>) + '_ {
    move |p| bar.set_position(base + (100 * p.done / p.total.max(1)) as u64)
}

pub fn run(args: &SimilarArgs) -> Result<()> {
    check(args)?;
    let pair = args.params.pair_settings()?;
    let query = load_image(&args.query)?;
    let device = crate::device::choose(args.device)?;
    eprintln!("device: {}", device.description);
    let embedder = load_embedder(args.model.as_deref(), &device.device)?;
    let attributes = load_attributes(args.attributes.as_deref(), &device.device)?;
    check_models(&embedder.net, Some(&attributes.net))?;
    std::fs::create_dir_all(&args.out).map_err(|e| LanternError::io(&args.out, e))?;
    let cache = cache_file(&args.out, &args.gallery)?;

    let cancel = AtomicBool::new(false);
    let bar = progress_bar(0, "{bar:30} {pos}/{len} gallery images embedded  {elapsed_precise}");
    let mut on_progress = |p: crate::control::Progress<'_>| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    };
    let (gallery, used) = embed_gallery(
        &embedder.net,
        &embedder.digest,
        &args.gallery,
        Some(cache.as_path()),
        32,
        &mut Control::with_progress(&cancel, &mut on_progress),
    )?;
    bar.finish_and_clear();
    print_cache(&gallery.root, gallery.len(), used, &cache);

    let q = embed(&embedder.net, embedder.net.preprocess.tensor(&query, &embedder.net.device())).remove(0);
    let neighbours = nearest(&gallery, &q, args.top, name_in(&gallery, &args.query).as_deref());
    if neighbours.is_empty() {
        return Err(LanternError::BadArgument(format!(
            "{}: the gallery holds no image besides the query",
            args.gallery.display()
        )));
    }
    let settings = MatchSettings { method: args.method, pair, weight: args.weight, top: args.attribute_top };
    let files = MatchFiles { out: &args.out, embedder: &embedder.net, query: &query, style: OverlayStyle::default() };
    let bar = progress_bar(100 * neighbours.len() as u64, "{bar:30} {msg}  {elapsed_precise}  eta {eta}");
    let mut matches = Vec::with_capacity(neighbours.len());
    let mut pictures = Vec::with_capacity(neighbours.len());
    for (k, &(i, _)) in neighbours.iter().enumerate() {
        let path = gallery.path(i);
        bar.set_message(format!("explaining match {} of {}", k + 1, neighbours.len()));
        let reference = load_image(&path)?;
        let mut on_progress = advance(&bar, 100 * k as u64);
        let m = explain_match(
            &embedder.net,
            Some(&attributes.net),
            &query,
            &reference,
            &settings,
            &mut Control::with_progress(&cancel, &mut on_progress),
        )?;
        let (one, images) = files.write(k + 1, &path, &reference, &m)?;
        matches.push(one);
        pictures.push(images);
    }
    bar.finish_and_clear();
    let report = Report {
        query: args.query.display().to_string(),
        gallery: args.gallery.display().to_string(),
        model: embedder.name,
        attribute_model: attributes.name,
        method: args.method.to_string(),
        weight: args.weight,
        cache: CacheReport {
            file: cache.display().to_string(),
            images: gallery.len(),
            cached: used.reused,
            computed: used.computed,
        },
        matches,
    };
    write_json(&args.out.join("report.json"), &report)?;
    similar_html::write(&args.out.join("report.html"), &report, &query, &pictures)?;
    for m in &report.matches {
        let attrs: Vec<String> =
            m.attributes.iter().map(|a| format!("{}={} ({:.2})", a.name, a.value, a.score)).collect();
        println!("{}. {}  cos {:.3}  {}", m.rank, m.image, m.similarity, attrs.join(", "));
    }
    println!("wrote {} and {}", args.out.join("report.json").display(), args.out.join("report.html").display());
    Ok(())
}

fn print_cache(root: &Path, images: usize, used: CacheUse, cache: &Path) {
    println!(
        "gallery {}: {images} images, {} from the cache, {} embedded now ({})",
        root.display(),
        used.reused,
        used.computed,
        cache.display()
    );
}

/// The attribute value `index`'s activation map, softmax-normalised over space as the paper
/// shows it, then min-max scaled for display.
fn activation_map(maps: &AttributeMaps, index: usize) -> WeightMap {
    let p = crate::models::scores::softmax(&maps.maps[index]);
    let mut m = WeightMap::new(maps.width, maps.height, p);
    m.normalize();
    m
}

/// Where and how the matches of one query are written: the output folder, the embedding model
/// (whose input the maps cover), the query and the overlay style.
struct MatchFiles<'a> {
    out: &'a Path,
    embedder: &'a Network,
    query: &'a RgbImage,
    style: OverlayStyle,
}

impl MatchFiles<'_> {
    /// Write the overlays of match `rank` (the gallery image at `path`, decoded as `reference`);
    /// its report entry, and the images the HTML page shows (the reference, then each overlay
    /// named in `maps`).
    fn write(
        &self,
        rank: usize,
        path: &Path,
        reference: &RgbImage,
        m: &MatchExplanation,
    ) -> Result<(Match, Vec<RgbImage>)> {
        let MatchFiles { out, embedder, query, ref style } = *self;
        let pre = &embedder.preprocess;
        // Min-max normalised for display (similarity RISE's sums are not in [0, 1]).
        let on = |image: &RgbImage, map: &WeightMap| {
            let mut shown = map.clone();
            shown.normalize();
            overlay_on_original(image, &shown, &pre.geometry(image.width(), image.height()), style)
        };
        let mut overlays: Vec<(&str, RgbImage)> =
            vec![("query", on(query, &m.query_map)), ("reference", on(reference, &m.reference_map))];
        if let (Some(best), Some(qa), Some(ra)) = (m.attributes.first(), &m.query_attributes, &m.reference_attributes) {
            overlays.push(("attribute_query", on(query, &activation_map(qa, best.index))));
            overlays.push(("attribute_reference", on(reference, &activation_map(ra, best.index))));
        }
        let mut maps = BTreeMap::new();
        let mut images = vec![reference.clone()];
        for (kind, picture) in overlays {
            let file = format!("match-{rank:02}-{kind}.png");
            write_rgb_png(&out.join(&file), &picture)?;
            maps.insert(kind.to_string(), file);
            images.push(picture);
        }
        let attributes = m
            .attributes
            .iter()
            .map(|a| AttributeScore {
                name: a.name.clone(),
                value: a.value.clone(),
                score: a.score,
                confidence: a.confidence,
                agreement: a.agreement,
            })
            .collect();
        Ok((Match { rank, image: path.display().to_string(), similarity: m.similarity, attributes, maps }, images))
    }
}
