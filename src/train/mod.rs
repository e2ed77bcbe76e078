//! Training: the shared loop ([`fit`]) with its checkpoints ([`checkpoint`]) and CSV log
//! ([`history`]), loss terms ([`losses`]), and one file per trainer: the demo classifier
//! ([`classifier`]) and the weight-map generator ([`generator`]).

pub mod attributes;
pub mod checkpoint;
pub mod classifier;
pub mod embedding;
pub mod fit;
pub mod generator;
pub mod history;
pub mod losses;
pub mod multilabel;
pub mod partial_labels;
pub mod scenes;
