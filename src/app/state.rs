//! What the UI draws: the settings, the open model, the gallery, every view's explanation, the
//! audit, the Train panel and the similarity views, with the toasts. The app owns it and changes
//! it; the panels read it (and edit copies, which reach the app as commands).

use super::audit_mode::AuditSession;
use super::gallery::Gallery;
use super::live::LiveCamera;
use super::model::{ModelInfo, ModelState};
use super::pair::SimilarState;
use super::path_prompt::PathPrompt;
use super::remote::RemoteState;
use super::settings::{self, Settings};
use super::talk::Talk;
use super::toasts::Toasts;
use super::train_panel::TrainPanel;
use super::transform::ViewTransform;
use super::view_state::ViewState;
use crate::explain::Target;
use crate::imaging::Preprocess;
use std::path::PathBuf;

/// Most present labels listed (and compared) at once.
pub const MAX_LABELS: usize = 9;

/// Where the app computes and draws.
pub struct Machine {
    /// The compute device, described.
    pub compute: String,
    /// The local compute device, described (what a lost server falls back to).
    pub local: String,
    /// The renderer, described.
    pub renderer: String,
    /// Frames are drawn by wgpu (else views are composited on the CPU).
    pub gpu: bool,
}

pub struct AppState {
    pub settings: Settings,
    pub machine: Machine,
    pub model: ModelState,
    pub gallery: Gallery,
    pub main: ViewState,
    pub cells: Vec<ViewState>,
    /// The small maps of the present labels of a multi-label model.
    pub label_views: Vec<ViewState>,
    pub compare: bool,
    pub presentation: bool,
    pub transform: ViewTransform,
    pub target: Target,
    /// Layer explained (`None`: the model's default).
    pub layer: Option<String>,
    /// The text typed into the class search.
    pub class_filter: String,
    /// An ONNX model that does not say how it reads images, and the answer being edited.
    pub preprocess_prompt: Option<(PathBuf, Preprocess)>,
    /// The typed-path window, while a path is asked there instead of in a file dialog.
    pub path_prompt: Option<PathPrompt>,
    /// Hover readout: image pixel and map value.
    pub readout: Option<(u32, u32, Option<f32>)>,
    /// The open localisation audit, if any.
    pub audit: Option<AuditSession>,
    /// The dataset folder whose images are open, if any.
    pub dataset_dir: Option<PathBuf>,
    /// The Train panel (generator training).
    pub train: TrainPanel,
    /// The Pair view and the Neighbours panel.
    pub similar: SimilarState,
    /// The link to a `lantern serve`, if any.
    pub remote: RemoteState,
    /// The playlist being presented, if any.
    pub talk: Option<Talk>,
    /// The camera shown live (camera mode), if any.
    pub camera: Option<LiveCamera>,
    pub toasts: Toasts,
}

impl AppState {
    pub fn new(settings: Settings, machine: Machine) -> Self {
        Self {
            settings,
            machine,
            model: ModelState::default(),
            gallery: Gallery::default(),
            main: ViewState::default(),
            cells: Vec::new(),
            label_views: Vec::new(),
            compare: false,
            presentation: false,
            transform: ViewTransform::default(),
            target: Target::Top1,
            layer: None,
            class_filter: String::new(),
            preprocess_prompt: None,
            path_prompt: None,
            readout: None,
            audit: None,
            dataset_dir: None,
            train: TrainPanel::default(),
            similar: SimilarState::default(),
            remote: RemoteState::default(),
            talk: None,
            camera: None,
            toasts: Toasts::default(),
        }
    }

    /// Whether the open model reads its outputs as independent labels.
    pub fn multilabel(&self) -> bool {
        self.model.info.as_ref().is_some_and(|i| i.output == crate::models::OutputKind::Sigmoid)
    }

    /// The labels a multi-label model finds present in the open image (probability at least
    /// the label threshold), most probable first, at most [`MAX_LABELS`]; empty for other models.
    pub fn present_labels(&self) -> Vec<(usize, f32)> {
        match self.main.output() {
            Some(o) if self.multilabel() => o
                .top
                .iter()
                .copied()
                .take_while(|&(_, p)| p >= self.settings.label_threshold)
                .take(MAX_LABELS)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The classes of the compare grid's class axis: every present label of a multi-label
    /// model, else the four most probable classes.
    pub fn compared_classes(&self) -> Vec<usize> {
        if self.multilabel() {
            return self.present_labels().into_iter().map(|(c, _)| c).collect();
        }
        self.main.output().map_or_else(Vec::new, |o| o.top.iter().take(4).map(|t| t.0).collect())
    }

    /// How many cells the compare grid has.
    pub fn compare_len(&self) -> usize {
        match self.settings.compare_axis {
            settings::CompareAxis::Methods => self.settings.compare_methods.len(),
            settings::CompareAxis::Classes => self.compared_classes().len(),
            settings::CompareAxis::Layers => self.model.info.as_ref().map_or(0, |i| compare_layers(i).len()),
        }
    }
}

/// Layers offered in the compare grid: up to four, the default last.
pub fn compare_layers(info: &ModelInfo) -> Vec<String> {
    let distinct: Vec<&String> =
        info.layers.iter().filter(|l| !l.ends_with(char::is_alphabetic) || info.layers.len() < 8).collect();
    let n = distinct.len();
    let picks: Vec<String> = [n.saturating_sub(7), n.saturating_sub(5), n.saturating_sub(3), n.saturating_sub(1)]
        .iter()
        .filter_map(|&i| distinct.get(i).map(|s| s.to_string()))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for p in picks {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}
