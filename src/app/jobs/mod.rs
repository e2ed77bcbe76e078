//! Every kind of work the app hands off, one file per kind. The worker's jobs
//! ([`super::worker::Job`]): [`explain`], [`camera`] (a live frame's explanation), [`model`] (and installing a generator), [`image`]
//! (images, thumbnails, masks), [`similarity`], [`pair`], [`neighbours`]. The background tasks
//! ([`super::tasks`]): [`save_all`], [`train`], [`audit`] (creating one), [`dataset`] (reading
//! one). Each job's answer reaches the UI typed, as an [`Event`] or a [`TaskOutput`].

pub mod animation;
pub mod audit;
pub mod camera;
pub mod dataset;
pub mod device;
pub mod explain;
pub mod image;
pub mod model;
pub mod neighbours;
pub mod pair;
pub mod save_all;
pub mod similarity;
pub mod train;

use super::lane::{JobError, Token};
use super::model::ModelInfo;
use super::pair_jobs::{Neighbours, PairOutput, SimilarityInfo};
use super::worker::{DeviceLost, ProgressReport, Slot};
use ::image::{GrayImage, RgbImage};
use explain::ExplainOutput;
use std::sync::Arc;

/// What the worker reports: a job's typed answer, or the progress of a lane's job.
#[derive(Debug)]
pub enum Event {
    ModelLoaded {
        id: u64,
        result: Result<ModelInfo, JobError>,
    },
    ImageLoaded {
        id: u64,
        result: Result<Arc<RgbImage>, JobError>,
    },
    Thumbnail {
        id: u64,
        result: Result<RgbImage, JobError>,
    },
    /// A dataset image's ground-truth mask.
    MaskLoaded {
        id: u64,
        result: Result<Arc<GrayImage>, JobError>,
    },
    /// A generator file was installed for model `id`: its name, or why it does not fit.
    GeneratorLoaded {
        id: u64,
        result: Result<String, JobError>,
    },
    /// Similarity models were loaded as id `id`.
    SimilarityLoaded {
        id: u64,
        result: Result<SimilarityInfo, JobError>,
    },
    Progress(ProgressReport),
    Explained {
        slot: Slot,
        token: Token,
        result: Result<ExplainOutput, JobError>,
    },
    /// The live camera's frame was explained.
    FrameExplained {
        token: Token,
        result: Result<camera::ExplainedFrame, JobError>,
    },
    PairExplained {
        token: Token,
        result: Result<PairOutput, JobError>,
    },
    NeighboursFound {
        token: Token,
        result: Result<Neighbours, JobError>,
    },
    /// The worker now computes on this server (`Some`) or on the local device (`None`).
    DeviceChanged(Result<Option<String>, JobError>),
    /// A round trip to the server came back (a lost server is reported as `DeviceLost`).
    DeviceChecked,
    /// The server stopped answering: the worker is back on the local device.
    DeviceLost(DeviceLost),
}

impl From<DeviceLost> for Event {
    fn from(lost: DeviceLost) -> Self {
        Event::DeviceLost(lost)
    }
}

impl From<ProgressReport> for Event {
    fn from(p: ProgressReport) -> Self {
        Event::Progress(p)
    }
}

/// The kinds of background task (cancelled by kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    SaveAll,
    TrainGenerator,
    NewAudit,
    OpenDataset,
    Connect,
    ExportAnimation,
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TaskKind::SaveAll => "save all",
            TaskKind::TrainGenerator => "train generator",
            TaskKind::NewAudit => "new audit",
            TaskKind::OpenDataset => "open dataset",
            TaskKind::Connect => "connect to a server",
            TaskKind::ExportAnimation => "export animation",
        })
    }
}

/// What a finished background task hands back.
#[derive(Debug)]
pub enum TaskOutput {
    /// "Save all" finished: what was saved.
    Saved(String),
    Trained(train::Trained),
    AuditCreated(audit::CreatedAudit),
    DatasetOpened(dataset::OpenedDataset),
    Connected(device::Connected),
}

impl TaskOutput {
    /// What to tell the user.
    pub fn message(&self) -> &str {
        match self {
            TaskOutput::Saved(m) => m,
            TaskOutput::Trained(t) => &t.message,
            TaskOutput::AuditCreated(a) => &a.message,
            TaskOutput::DatasetOpened(d) => &d.message,
            TaskOutput::Connected(c) => &c.message,
        }
    }
}

/// The app's background tasks.
pub type AppTasks = super::tasks::Tasks<TaskKind, TaskOutput>;

/// The jobs the web page's compute worker runs ([`super::offload`]), as they travel.
#[cfg(target_arch = "wasm32")]
#[derive(serde::Serialize, serde::Deserialize)]
pub enum Offloaded {
    Explain(explain::ExplainRequest),
}

/// Run an offloaded job (its JSON text) in the compute worker; its answer's JSON text.
#[cfg(target_arch = "wasm32")]
pub fn run_offloaded(
    job: &str,
    cache: &mut super::worker::Cache,
    control: &mut crate::control::Control,
) -> crate::error::Result<String> {
    use super::worker::Job;
    let text = |e: serde_json::Error| crate::error::LanternError::Internal(format!("an offloaded job: {e}"));
    match serde_json::from_str(job).map_err(text)? {
        Offloaded::Explain(request) => {
            serde_json::to_string(&explain::Answer::of(request.run(cache, control)?)).map_err(text)
        }
    }
}
