//! Measuring explanations: localisation against ground truth ([`wsol`]) and faithfulness to the
//! model ([`faithfulness`]); and multi-label classifiers' rankings ([`average_precision`]).

pub mod average_precision;
pub mod faithfulness;
pub mod wsol;
