//! What widgets ask for. A widget never changes engine state itself: it pushes a [`Command`], and
//! [`super::LanternApp::apply_commands`] applies them all once per frame, before the views are
//! reconciled with the settings.

use super::model::ModelSource;
use crate::explain::Method;
use std::path::PathBuf;

/// One request from the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open images, folders or a model file.
    OpenPaths(Vec<PathBuf>),
    OpenModel(ModelSource),
    /// The demo model with the demo images.
    OpenDemo,
    SelectMethod(Method),
    /// Step through the images by this many.
    StepImage(isize),
    /// Export what the main view shows into the folder.
    ExportView(PathBuf),
    /// Explain and export every image into the folder (a background task).
    SaveAll(PathBuf),
    /// Cancel the long method running in the main view.
    CancelMain,
    /// Cancel the named background task.
    CancelTask(String),
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
    TogglePresentation,
    ToggleCompare,
    /// Hide or show the map over the image.
    ToggleMap,
    FitView,
    ActualSize,
    /// Show or hide the Neighbours panel.
    ToggleNeighbours,
    /// Open the Pair view of the open image and the gallery image with this id.
    OpenPair(u64),
    /// Back from the Pair view to the canvas.
    ClosePair,
    CancelPair,
    CancelNeighbours,
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
