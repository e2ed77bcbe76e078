//! Measuring explanations: localisation against ground truth ([`wsol`]) and faithfulness to the
//! model ([`faithfulness`]).

pub mod faithfulness;
pub mod wsol;
