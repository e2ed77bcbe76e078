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

use super::gallery::Gallery;
use super::jobs;
use super::jobs::Event;
use super::lane::{Finished, JobError, JobLane, Token, fresh_map_key};
use super::model::ModelSource;
use super::model::ModelState;
use super::pair_jobs::{
    EmbeddingChoice, Neighbours, NeighboursJob, PairJob, PairOutput, SimilarityInfo, SimilaritySource,
};
use super::toasts::Toasts;
use super::transform::ViewTransform;
use super::worker::{LaneKey, Worker};
use crate::explain::attribute_rank::DEFAULT_WEIGHT;
use crate::explain::pair_params::PairSettings;
use crate::explain::pair_registry::PairMethod;
use crate::models::OutputKind;
use std::path::{Path, PathBuf};

/// File name of the embedding model looked for.
pub const EMBEDDING_FILE: &str = "lantern_embedding.safetensors";
/// File name of the attribute model looked for.
pub const ATTRIBUTES_FILE: &str = "lantern_attributes.safetensors";

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

/// What the Pair view's controls choose.
#[derive(Debug, Clone, PartialEq)]
pub struct PairControls {
    pub method: PairMethod,
    pub settings: PairSettings,
    /// `w` of the attribute ranking.
    pub weight: f32,
    /// The attribute value whose maps are shown instead of the similarity maps.
    pub selected: Option<usize>,
}

impl Default for PairControls {
    fn default() -> Self {
        Self { method: PairMethod::Rise, settings: PairSettings::default(), weight: DEFAULT_WEIGHT, selected: None }
    }
}

/// The Pair view.
#[derive(Default)]
pub struct PairState {
    /// Shown in the central area instead of the canvas.
    pub open: bool,
    /// Gallery id of the reference image.
    pub reference: Option<u64>,
    pub controls: PairControls,
    lane: JobLane<PairJob, PairOutput>,
    /// Changes whenever the output does (keys the maps' GPU uploads).
    map_key: u64,
    /// Zoom and pan of the query and of the reference.
    pub transforms: [ViewTransform; 2],
}

impl PairState {
    pub fn requested(&self) -> Option<&PairJob> {
        self.lane.requested()
    }

    pub fn output(&self) -> Option<&PairOutput> {
        self.lane.output()
    }

    pub fn pending(&self) -> bool {
        self.lane.pending()
    }

    pub fn progress(&self) -> Option<(usize, usize)> {
        self.lane.progress()
    }

    pub fn error(&self) -> Option<&str> {
        self.lane.error()
    }

    pub fn map_key(&self) -> u64 {
        self.map_key
    }
}

/// The Neighbours panel.
pub struct NeighboursState {
    pub open: bool,
    /// How many neighbours to show.
    pub k: usize,
    lane: JobLane<NeighboursJob, Neighbours>,
    /// Cheap key of what was requested (models, query, gallery), so the gallery list is built
    /// only when it changes.
    requested_key: Option<(u64, u64, usize, u64, usize)>,
}

impl Default for NeighboursState {
    fn default() -> Self {
        Self { open: false, k: 8, lane: JobLane::default(), requested_key: None }
    }
}

impl NeighboursState {
    pub fn found(&self) -> Option<&Neighbours> {
        self.lane.output()
    }

    pub fn pending(&self) -> bool {
        self.lane.pending()
    }

    pub fn progress(&self) -> Option<(usize, usize)> {
        self.lane.progress()
    }

    pub fn error(&self) -> Option<&str> {
        self.lane.error()
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
        // A model given to the web page has no folder to look in.
        ModelSource::Given(_) => Vec::new(),
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

impl SimilarState {
    /// The similarity models wanted now: the user's pick, else those found for the open model
    /// (looked for once per open model).
    fn wanted_models(&mut self, model: &ModelState) -> Option<SimilaritySource> {
        let info = model.info.as_ref()?;
        let source = model.source.as_ref()?;
        let id = model.id;
        let m = &mut self.models;
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

    /// Drop the loaded similarity models (the worker moved to another device): they are loaded
    /// again when a view needs them.
    pub fn forget_models(&mut self) {
        self.models.loaded = None;
        self.models.info = None;
    }

    /// Open the Pair view on the open image and gallery image `reference`.
    pub fn open_pair(&mut self, reference: u64) {
        let pair = &mut self.pair;
        pair.open = true;
        if pair.reference != Some(reference) {
            pair.controls.selected = None;
            pair.transforms = [ViewTransform::default(); 2];
        }
        pair.reference = Some(reference);
    }

    /// Cancel the pair being explained; its request stays recorded, so it is not sent again
    /// until something changes.
    pub fn cancel_pair(&mut self, worker: &Worker<Event>) {
        worker.cancel(LaneKey::Pair);
        self.pair.lane.cancel(format!("{} cancelled", self.pair.controls.method.title()));
    }

    /// Cancel the neighbours being computed (kept as asked, so not asked again until the open
    /// image, the gallery or the models change).
    pub fn cancel_neighbours(&mut self, worker: &Worker<Event>) {
        worker.cancel(LaneKey::Neighbours);
        self.neighbours.lane.cancel("cancelled".into());
    }

    /// Send the jobs the open views need; `next_id` numbers loaded similarity models.
    pub fn reconcile(&mut self, model: &ModelState, gallery: &Gallery, worker: &Worker<Event>, next_id: &mut u64) {
        if !self.pair.open && !self.neighbours.open {
            return;
        }
        let Some(wanted) = self.wanted_models(model) else { return };
        if self.models.loaded.as_ref().is_none_or(|(_, s)| *s != wanted) {
            *next_id += 1;
            let id = *next_id;
            let job = jobs::similarity::LoadSimilarity { id, source: wanted.clone() };
            worker.load(job, move |result| Event::SimilarityLoaded { id, result });
            self.models.loaded = Some((id, wanted));
            self.models.info = None;
            self.pair.lane.clear();
            self.neighbours.lane.clear();
            self.neighbours.requested_key = None;
        }
        let Some(models) = self.models.ready() else { return };
        let Some(current) = gallery.current() else { return };
        let query = (current.id, current.source.clone());
        if self.neighbours.open && gallery.len() > 1 {
            let n = gallery.len();
            let k = self.neighbours.k.clamp(1, n - 1);
            let key = (models, query.0, n, gallery.images[0].id, k);
            if self.neighbours.requested_key != Some(key) {
                let images = gallery.images.iter().map(|i| (i.id, i.source.clone())).collect();
                let job = NeighboursJob { models, query: query.0, images, k };
                self.neighbours.requested_key = Some(key);
                let token = self.neighbours.lane.request(job.clone());
                worker.submit(LaneKey::Neighbours, token, job, move |result| Event::NeighboursFound { token, result });
            }
        }
        let pair = &mut self.pair;
        let reference =
            pair.reference.and_then(|r| gallery.images.iter().find(|i| i.id == r)).map(|i| (i.id, i.source.clone()));
        if pair.reference.is_some() && reference.is_none() {
            // Other images were opened: the reference has gone with them.
            pair.reference = None;
            pair.lane.clear();
            return;
        }
        if let (true, Some(reference)) = (pair.open, reference) {
            let c = &pair.controls;
            let job =
                PairJob { models, query, reference, method: c.method, settings: c.settings.clone(), weight: c.weight };
            if pair.lane.differs(&job) {
                // A pair of other images shows nothing until its maps come.
                if pair
                    .lane
                    .requested()
                    .is_none_or(|r| (r.query.0, r.reference.0, r.models) != (job.query.0, job.reference.0, job.models))
                {
                    pair.lane.clear_output();
                }
                let token = pair.lane.request(job.clone());
                worker.submit(LaneKey::Pair, token, job, move |result| Event::PairExplained { token, result });
            }
        }
    }

    /// The similarity models `id` were loaded (or not).
    pub fn models_loaded(&mut self, id: u64, result: Result<SimilarityInfo, JobError>, toasts: &mut Toasts) {
        if self.models.loaded.as_ref().is_some_and(|(l, _)| *l == id) {
            if let Err(e) = &result {
                toasts.error(format!("similarity model: {e}"));
            }
            self.models.info = Some(result.map_err(|e| e.to_string()));
        }
    }

    /// Progress of the job of `lane` with `token`.
    pub fn advance(&mut self, lane: LaneKey, token: Token, done: usize, total: usize) {
        match lane {
            LaneKey::Pair => self.pair.lane.advance(token, done, total),
            LaneKey::Neighbours => self.neighbours.lane.advance(token, done, total),
            LaneKey::View(_) | LaneKey::Camera => false,
        };
    }

    pub fn pair_explained(&mut self, token: Token, result: Result<PairOutput, JobError>, toasts: &mut Toasts) {
        let pair = &mut self.pair;
        match pair.lane.finish(token, result) {
            Finished::Done => {
                let values = pair.output().and_then(|o| o.ranked.as_ref().ok()).map_or(0, Vec::len);
                pair.controls.selected = pair.controls.selected.filter(|a| *a < values);
                pair.map_key = fresh_map_key();
            }
            Finished::Failed(e) => toasts.error(format!("pair: {e}")),
            Finished::Cancelled | Finished::Stale => {}
        }
    }

    pub fn neighbours_found(&mut self, token: Token, result: Result<Neighbours, JobError>, toasts: &mut Toasts) {
        match self.neighbours.lane.finish(token, result) {
            Finished::Done => {
                let unreadable = self.neighbours.found().map_or(0, |f| f.unreadable);
                if unreadable > 0 {
                    toasts.note(format!("Neighbours: {unreadable} unreadable images left out"));
                }
            }
            Finished::Failed(e) => toasts.error(format!("neighbours: {e}")),
            Finished::Cancelled | Finished::Stale => {}
        }
    }

    /// Whether a similarity job is running (the app then asks for frames to show its progress).
    pub fn running(&self) -> bool {
        self.pair.pending() || self.neighbours.pending() || self.models.loading()
    }
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
