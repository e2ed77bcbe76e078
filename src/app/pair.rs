//! What the Pair view and the Neighbours panel show and wait for (issue 11; Plummer et al.,
//! "Why do These Match? Explaining the Behavior of Image Similarity Models", ECCV 2020): the
//! similarity models, the open image's nearest gallery images, and the explained pair of the
//! open image (the query) with a reference. As for the canvas, widgets only change this state;
//! once per frame [`reconcile`] sends the worker the jobs whose wanted content differs from what
//! was asked ([`super::pair_jobs`] runs them), and [`handle`] takes the answers.
//!
//! The similarity models are found as the Pair view needs them, unless the user picked files:
//! the embedding model is the open model when it outputs an embedding, else
//! `lantern_embedding.safetensors` beside the open model file (for the demo: in `assets/demo`),
//! else the open classifier's penultimate features; the attribute model is
//! `lantern_attributes.safetensors` beside the embedding model file (or beside the open model).

use super::LanternApp;
use super::canvas::ViewTransform;
use super::pair_jobs::{
    EmbeddingChoice, Neighbours, NeighboursJob, PairJob, PairOutput, SimilarJob, SimilarKind, SimilarityInfo,
    SimilaritySource,
};
use super::views::Fallbacks;
use super::worker::{Event, ModelSource};
use crate::explain::attribute_rank::DEFAULT_WEIGHT;
use crate::explain::similarity::{PairMethod, PairSettings};
use crate::models::OutputKind;
use std::path::{Path, PathBuf};

/// File name of the embedding model looked for.
pub const EMBEDDING_FILE: &str = "lantern_embedding.safetensors";
/// File name of the attribute model looked for.
pub const ATTRIBUTES_FILE: &str = "lantern_attributes.safetensors";
/// GPU view ids of the Pair view's query and reference (the canvas and the compare cells use
/// small ids).
pub const VIEW_IDS: [u64; 2] = [1 << 20, (1 << 20) + 1];

/// The similarity models: which, and what was loaded.
#[derive(Default)]
pub struct ModelsState {
    /// What the user picked (`None`: found automatically, see the module documentation).
    pub chosen: Option<SimilaritySource>,
    /// What is loaded or loading, as id and source.
    pub loaded: Option<(u64, SimilaritySource)>,
    pub info: Option<Result<SimilarityInfo, String>>,
    /// The models found for the open model (its id).
    discovered: Option<(u64, SimilaritySource)>,
}

impl ModelsState {
    /// The loaded models' id, once they are ready.
    pub fn ready(&self) -> Option<u64> {
        match (&self.loaded, &self.info) {
            (Some((id, _)), Some(Ok(_))) => Some(*id),
            _ => None,
        }
    }

    pub fn loading(&self) -> bool {
        self.loaded.is_some() && self.info.is_none()
    }
}

/// The Pair view.
pub struct PairState {
    /// Shown in the central area instead of the canvas.
    pub open: bool,
    /// Gallery id of the reference image.
    pub reference: Option<u64>,
    pub method: PairMethod,
    pub settings: PairSettings,
    /// `w` of the attribute ranking.
    pub weight: f32,
    /// The attribute value whose maps are shown instead of the similarity maps.
    pub selected: Option<usize>,
    pub requested: Option<PairJob>,
    pub output: Option<PairOutput>,
    pub pending: bool,
    pub progress: Option<(usize, usize)>,
    pub error: Option<String>,
    /// Changes whenever the output does (keys the maps' GPU uploads).
    pub map_key: u64,
    /// Zoom and pan of the query and of the reference.
    pub transforms: [ViewTransform; 2],
    pub fallbacks: Fallbacks,
}

impl Default for PairState {
    fn default() -> Self {
        Self {
            open: false,
            reference: None,
            method: PairMethod::Rise,
            settings: PairSettings::default(),
            weight: DEFAULT_WEIGHT,
            selected: None,
            requested: None,
            output: None,
            pending: false,
            progress: None,
            error: None,
            map_key: 0,
            transforms: [ViewTransform::default(); 2],
            fallbacks: Fallbacks::default(),
        }
    }
}

/// The Neighbours panel.
pub struct NeighboursState {
    pub open: bool,
    /// How many neighbours to show.
    pub k: usize,
    pub requested: Option<NeighboursJob>,
    /// Cheap key of what was requested (models, query, gallery), so the gallery list is built
    /// only when it changes.
    requested_key: Option<(u64, u64, usize, u64, usize)>,
    pub found: Option<Neighbours>,
    pub pending: bool,
    pub progress: Option<(usize, usize)>,
    pub error: Option<String>,
}

impl Default for NeighboursState {
    fn default() -> Self {
        Self {
            open: false,
            k: 8,
            requested: None,
            requested_key: None,
            found: None,
            pending: false,
            progress: None,
            error: None,
        }
    }
}

/// Everything of the similarity views.
#[derive(Default)]
pub struct SimilarState {
    pub models: ModelsState,
    pub pair: PairState,
    pub neighbours: NeighboursState,
}

/// Folders where the demo's similarity models lie: `assets/demo` under the working folder and
/// under the source tree Lantern was built from.
fn demo_dirs() -> Vec<PathBuf> {
    vec![PathBuf::from("assets/demo"), Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")]
}

/// `name` in the first of `dirs` that has it.
fn first_in(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The similarity models found for the open model (see the module documentation).
pub fn discover(model: &ModelSource, output: OutputKind, model_id: u64) -> SimilaritySource {
    let model_dir = match model {
        ModelSource::File(p) => vec![p.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)],
        ModelSource::Demo => demo_dirs(),
    };
    let embedding = match first_in(&model_dir, EMBEDDING_FILE) {
        Some(p) if output != OutputKind::Embedding => EmbeddingChoice::File(p),
        _ => EmbeddingChoice::OpenModel(model_id),
    };
    let attributes_dir = match &embedding {
        EmbeddingChoice::File(p) => vec![p.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)],
        EmbeddingChoice::OpenModel(_) => model_dir,
    };
    SimilaritySource { embedding, attributes: first_in(&attributes_dir, ATTRIBUTES_FILE) }
}

/// The similarity models wanted now: the user's pick, else those found for the open model
/// (looked for once per open model).
fn wanted_models(app: &mut LanternApp) -> Option<SimilaritySource> {
    let info = app.model.info.as_ref()?;
    let source = app.model.source.as_ref()?;
    let id = app.model.id;
    let m = &mut app.similar.models;
    match &m.chosen {
        Some(SimilaritySource { embedding: EmbeddingChoice::OpenModel(_), attributes }) => {
            Some(SimilaritySource { embedding: EmbeddingChoice::OpenModel(id), attributes: attributes.clone() })
        }
        Some(chosen) => Some(chosen.clone()),
        None => {
            if m.discovered.as_ref().is_none_or(|(for_model, _)| *for_model != id) {
                m.discovered = Some((id, discover(source, info.output, id)));
            }
            m.discovered.as_ref().map(|(_, s)| s.clone())
        }
    }
}

/// Open the Pair view on the open image and gallery image `reference`.
pub fn open_pair(app: &mut LanternApp, reference: u64) {
    let pair = &mut app.similar.pair;
    pair.open = true;
    if pair.reference != Some(reference) {
        pair.selected = None;
        pair.transforms = [ViewTransform::default(); 2];
    }
    pair.reference = Some(reference);
}

/// Cancel the pair being explained; its request stays recorded, so it is not sent again until
/// something changes.
pub fn cancel_pair(app: &mut LanternApp) {
    app.worker.cancel_similar(SimilarKind::Pair);
    let pair = &mut app.similar.pair;
    if pair.pending {
        pair.pending = false;
        pair.progress = None;
        pair.error = Some(format!("{} cancelled", pair.method.title()));
    }
}

/// Cancel the neighbours being computed (kept as asked, so not asked again until the open
/// image, the gallery or the models change).
pub fn cancel_neighbours(app: &mut LanternApp) {
    app.worker.cancel_similar(SimilarKind::Neighbours);
    let nb = &mut app.similar.neighbours;
    if nb.pending {
        nb.pending = false;
        nb.progress = None;
        nb.error = Some("cancelled".into());
    }
}

/// Send the jobs the open views need.
pub fn reconcile(app: &mut LanternApp) {
    if !app.similar.pair.open && !app.similar.neighbours.open {
        return;
    }
    let Some(wanted) = wanted_models(app) else { return };
    if app.similar.models.loaded.as_ref().is_none_or(|(_, s)| *s != wanted) {
        let id = app.fresh_id();
        app.worker.load_similarity(id, wanted.clone());
        let s = &mut app.similar;
        s.models.loaded = Some((id, wanted));
        s.models.info = None;
        s.pair.requested = None;
        s.pair.output = None;
        s.pair.pending = false;
        s.neighbours.requested = None;
        s.neighbours.requested_key = None;
        s.neighbours.found = None;
        s.neighbours.pending = false;
    }
    let Some(models) = app.similar.models.ready() else { return };
    let Some(current) = app.gallery.current() else { return };
    let query = (current.id, current.source.clone());
    if app.similar.neighbours.open && app.gallery.len() > 1 {
        let n = app.gallery.len();
        let k = app.similar.neighbours.k.clamp(1, n - 1);
        let key = (models, query.0, n, app.gallery.images[0].id, k);
        if app.similar.neighbours.requested_key != Some(key) {
            app.next_token += 1;
            let images = app.gallery.images.iter().map(|i| (i.id, i.source.clone())).collect();
            let job = NeighboursJob { token: app.next_token, models, query: query.0, images, k };
            let nb = &mut app.similar.neighbours;
            nb.requested_key = Some(key);
            nb.requested = Some(job.clone());
            nb.pending = true;
            nb.progress = None;
            nb.error = None;
            app.worker.similar(SimilarJob::Neighbours(job));
        }
    }
    let pair = &app.similar.pair;
    let reference =
        pair.reference.and_then(|r| app.gallery.images.iter().find(|i| i.id == r)).map(|i| (i.id, i.source.clone()));
    if pair.reference.is_some() && reference.is_none() {
        // Other images were opened: the reference has gone with them.
        let pair = &mut app.similar.pair;
        pair.reference = None;
        pair.requested = None;
        pair.output = None;
        pair.pending = false;
        return;
    }
    if let (true, Some(reference)) = (pair.open, reference) {
        let job = PairJob {
            token: 0,
            models,
            query,
            reference,
            method: pair.method,
            settings: pair.settings.clone(),
            weight: pair.weight,
        };
        let same = pair.requested.as_ref().is_some_and(|r| PairJob { token: 0, ..r.clone() } == job);
        if !same {
            app.next_token += 1;
            let job = PairJob { token: app.next_token, ..job };
            let pair = &mut app.similar.pair;
            // A pair of other images shows nothing until its maps come.
            if pair
                .requested
                .as_ref()
                .is_none_or(|r| (r.query.0, r.reference.0, r.models) != (job.query.0, job.reference.0, job.models))
            {
                pair.output = None;
            }
            pair.requested = Some(job.clone());
            pair.pending = true;
            pair.progress = None;
            pair.error = None;
            app.worker.similar(SimilarJob::Pair(job));
        }
    }
}

/// Take a worker event of the similarity views; other events are handed back.
pub fn handle(app: &mut LanternApp, event: Event) -> Option<Event> {
    match event {
        Event::SimilarityLoaded { id, result } => {
            if app.similar.models.loaded.as_ref().is_some_and(|(l, _)| *l == id) {
                if let Err(e) = &result {
                    app.toasts.error(format!("similarity model: {e}"));
                }
                app.similar.models.info = Some(result);
            }
        }
        Event::SimilarProgress { kind, token, done, total } => match kind {
            SimilarKind::Pair
                if app.similar.pair.requested.as_ref().is_some_and(|r| r.token == token)
                    && app.similar.pair.pending =>
            {
                app.similar.pair.progress = Some((done, total));
            }
            SimilarKind::Neighbours
                if app.similar.neighbours.requested.as_ref().is_some_and(|r| r.token == token)
                    && app.similar.neighbours.pending =>
            {
                app.similar.neighbours.progress = Some((done, total));
            }
            _ => {}
        },
        Event::PairExplained { token, result } => {
            let pair = &mut app.similar.pair;
            if pair.requested.as_ref().is_some_and(|r| r.token == token) && pair.pending {
                pair.pending = false;
                pair.progress = None;
                match result {
                    Ok(out) => {
                        let values = out.ranked.as_ref().map_or(0, Vec::len);
                        pair.selected = pair.selected.filter(|a| *a < values);
                        pair.output = Some(out);
                        pair.error = None;
                        app.next_token += 1;
                        app.similar.pair.map_key = app.next_token;
                    }
                    Err(e) if e == "cancelled" => {}
                    Err(e) => {
                        pair.error = Some(e.clone());
                        app.toasts.error(format!("pair: {e}"));
                    }
                }
            }
        }
        Event::NeighboursFound { token, result } => {
            let nb = &mut app.similar.neighbours;
            if nb.requested.as_ref().is_some_and(|r| r.token == token) && nb.pending {
                nb.pending = false;
                nb.progress = None;
                match result {
                    Ok(found) => {
                        if found.unreadable > 0 {
                            app.toasts.note(format!("Neighbours: {} unreadable images left out", found.unreadable));
                        }
                        app.similar.neighbours.found = Some(found);
                    }
                    Err(e) if e == "cancelled" => {}
                    Err(e) => {
                        nb.error = Some(e.clone());
                        app.toasts.error(format!("neighbours: {e}"));
                    }
                }
            }
        }
        other => return Some(other),
    }
    None
}

/// Whether a similarity job is running (the app then asks for frames to show its progress).
pub fn running(app: &LanternApp) -> bool {
    app.similar.pair.pending || app.similar.neighbours.pending || app.similar.models.loading()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_found_beside_the_open_model_and_the_embedding_model() {
        let dir = tempfile::tempdir().unwrap();
        let classifier = dir.path().join("net.safetensors");
        // Nothing beside a classifier: its own penultimate features, no attributes.
        let found = discover(&ModelSource::File(classifier.clone()), OutputKind::Softmax, 7);
        assert_eq!(found, SimilaritySource { embedding: EmbeddingChoice::OpenModel(7), attributes: None });
        std::fs::write(dir.path().join(ATTRIBUTES_FILE), b"x").unwrap();
        let found = discover(&ModelSource::File(classifier.clone()), OutputKind::Softmax, 7);
        assert_eq!(found.attributes, Some(dir.path().join(ATTRIBUTES_FILE)));
        // An embedding model beside it is used instead, with the attribute model beside that.
        std::fs::write(dir.path().join(EMBEDDING_FILE), b"x").unwrap();
        let found = discover(&ModelSource::File(classifier.clone()), OutputKind::Softmax, 7);
        assert_eq!(found.embedding, EmbeddingChoice::File(dir.path().join(EMBEDDING_FILE)));
        // An open embedding model is its own similarity model.
        let found = discover(&ModelSource::File(classifier), OutputKind::Embedding, 7);
        assert_eq!(found.embedding, EmbeddingChoice::OpenModel(7));
        // The demo finds the bundled embedding model in the source tree.
        let demo = discover(&ModelSource::Demo, OutputKind::Softmax, 1);
        assert!(
            matches!(&demo.embedding, EmbeddingChoice::File(p) if p.ends_with("assets/demo/lantern_embedding.safetensors")),
            "{demo:?}"
        );
    }
}
