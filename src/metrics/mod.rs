//! Measuring explanations: localisation against ground truth ([`wsol`]) and faithfulness to the
//! model ([`faithfulness`], and for similarity maps [`pair_faithfulness`]); and multi-label classifiers' rankings ([`average_precision`]).

pub mod average_precision;
pub mod faithfulness;
pub mod pair_faithfulness;
pub mod wsol;
