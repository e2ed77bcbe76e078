//! Training: the shared loop ([`fit`]) with its checkpoints ([`checkpoint`]) and CSV log
//! ([`history`]), and one file per trainer: the demo classifier ([`classifier`]).

pub mod attributes;
pub mod checkpoint;
pub mod classifier;
pub mod embedding;
pub mod fit;
pub mod history;
