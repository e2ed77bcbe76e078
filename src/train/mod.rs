//! Training loops: the demo classifier ([`classifier`]).

pub mod classifier;
