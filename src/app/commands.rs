//! What widgets ask for. A widget never changes the app's state itself: it pushes a [`Command`],
//! and the app applies them all once per frame, before the views are reconciled with the
//! settings. The app, not the widget, starts the jobs a command needs.

use super::audit_mode::AuditEdit;
use super::jobs::TaskKind;
use super::model::ModelSource;
use super::pair::PairControls;
use super::pair_jobs::SimilaritySource;
use super::path_prompt::PathRequest;
use super::settings::{Look, ServerChoice, Settings};
use super::train_panel::TrainSettings;
use super::transform::ViewTransform;
use crate::camera::CameraChoice;
use crate::explain::{Method, Target};
use std::path::PathBuf;

/// One request from the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Ask for a path (a File-menu entry): with the system's file dialog, else in the typed-path
    /// window.
    AskPath(PathRequest),
    /// The text typed in the typed-path window.
    EditPathPrompt(String),
    /// Use the typed path.
    AnswerPathPrompt,
    /// Close the typed-path window without a path.
    ClosePathPrompt,
    /// Open images, folders or a model file.
    OpenPaths(Vec<PathBuf>),
    /// Open files given to the web page (dropped or picked): images and safetensors models.
    OpenGiven(Vec<super::images::FileBytes>),
    OpenModel(ModelSource),
    /// The demo model with the demo images.
    OpenDemo,
    SelectMethod(Method),
    /// The settings as a panel edited them.
    SetSettings(Box<Settings>),
    /// The look as a view changed it (the wipe divider dragged).
    SetLook(Look),
    /// Zoom and pan of the main view and the compare grid, as a view changed them.
    SetTransform(ViewTransform),
    /// Zoom and pan of one side of the Pair view (0: the query, 1: the reference).
    SetPairTransform {
        side: usize,
        transform: ViewTransform,
    },
    /// What is under the pointer on the main view: image pixel and map value (`None`: nothing).
    SetReadout(Option<(u32, u32, Option<f32>)>),
    /// The text typed into the class search.
    SetClassFilter(String),
    /// Explain this class (or the top one).
    SetTarget(Target),
    /// Explain at this layer.
    SetLayer(String),
    /// Show the gallery's image at this index.
    SelectImage(usize),
    /// Step through the images by this many.
    StepImage(isize),
    /// Export what the main view shows into the folder.
    ExportView(PathBuf),
    /// Explain and export every image into the folder (a background task).
    SaveAll(PathBuf),
    /// Animate the main view's explanation as this sweep into the GIF file (a background task).
    ExportAnimation {
        sweep: crate::animate::Sweep,
        file: PathBuf,
    },
    /// Cancel the long method running in the main view.
    CancelMain,
    /// Cancel the background task of this kind.
    CancelTask(TaskKind),
    /// Create an audit of a dataset folder into a new file, then open it.
    NewAudit {
        data: PathBuf,
        file: PathBuf,
    },
    OpenAudit(PathBuf),
    /// Record a verdict for the current audit image.
    Verdict(crate::audit::VerdictKind),
    /// The audit's next image without a verdict.
    NextUnaudited,
    SetAnnotator(String),
    /// The audit panel's comment, corrected box, filter and drawing mode as edited.
    EditAudit(Box<AuditEdit>),
    /// Drawing the corrected box on the canvas, or not.
    ToggleDrawing,
    TogglePresentation,
    ToggleCompare,
    ShowCompare(bool),
    /// Hide or show the map over the image.
    ToggleMap,
    FitView,
    ActualSize,
    /// Show or hide the Neighbours panel.
    ToggleNeighbours,
    /// How many neighbours the panel shows.
    SetNeighboursShown(usize),
    /// Open the Pair view of the open image and the gallery image with this id.
    OpenPair(u64),
    /// Back from the Pair view to the canvas.
    ClosePair,
    /// Show the Pair view (of the last reference) or the canvas.
    ShowPair(bool),
    /// The Pair view's method, settings, weight and selected attribute.
    SetPairControls(PairControls),
    /// Use these similarity models (`None`: those found for the open model).
    ChooseSimilarityModels(Option<SimilaritySource>),
    CancelPair,
    CancelNeighbours,
    /// Show or hide the Train panel's window.
    ShowTrain(bool),
    /// The Train panel's settings as edited.
    SetTrainSettings(Box<TrainSettings>),
    StartTraining,
    /// Stop the run at its next step, keeping its checkpoint.
    PauseTraining,
    ResumeTraining,
    /// Stop the run and delete its checkpoint.
    CancelTraining,
    /// The answer being edited to "how does this model read images?".
    EditPreprocessAnswer(crate::imaging::Preprocess),
    /// Use the answer: remember it for the model file and reopen the model with it.
    AnswerPreprocess,
    /// Open (with the last server filled in) or close the "Connect to a server" window.
    ShowConnect(bool),
    /// The window's fields as edited.
    EditConnect(ServerChoice),
    /// The token file chosen for the "Connect to a server" window.
    SetTokenFile(PathBuf),
    /// Connect to the server the window names (in the background) and compute there.
    Connect,
    /// Compute on this machine again.
    Disconnect,
    /// Open a talk's playlist (TOML): its model, its images, and its first step.
    OpenPlaylist(PathBuf),
    /// Show the playlist's step this many steps away.
    StepPlaylist(isize),
    ClosePlaylist,
    /// Show this camera's frames, explained live.
    OpenCamera(CameraChoice),
    /// Keep the frame shown as an open image (in the gallery) and leave camera mode.
    FreezeCamera,
    /// Leave camera mode.
    CloseCamera,
}

/// The commands pushed during a frame.
#[derive(Debug, Default)]
pub struct Commands {
    queue: Vec<Command>,
}

impl Commands {
    pub fn push(&mut self, command: Command) {
        self.queue.push(command);
    }

    /// Everything pushed since the last drain, in order.
    pub fn drain(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.queue)
    }
}
