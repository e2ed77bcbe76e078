//! `report.json` of `lantern similar`: what the command writes and its HTML page shows.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One attribute value of a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeScore {
    pub name: String,
    pub value: String,
    /// `w * confidence + (1 - w) * agreement`.
    pub score: f32,
    pub confidence: f32,
    pub agreement: f32,
}

/// One neighbour, explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub rank: usize,
    /// The image's path.
    pub image: String,
    pub similarity: f32,
    pub attributes: Vec<AttributeScore>,
    /// Overlay PNGs in the output folder: `query` and `reference` (the pair maps), and the best
    /// attribute's activation map on each side (`attribute_query`, `attribute_reference`).
    pub maps: BTreeMap<String, String>,
}

/// How the gallery's embeddings were obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheReport {
    pub file: String,
    pub images: usize,
    pub cached: usize,
    pub computed: usize,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub query: String,
    pub gallery: String,
    pub model: String,
    pub attribute_model: String,
    /// The pair-saliency method's name (`rise`, `sliding-window`, `gradcam`).
    pub method: String,
    pub weight: f32,
    pub cache: CacheReport,
    pub matches: Vec<Match>,
}
