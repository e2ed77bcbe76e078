//! Lantern: a native explorer for vision-model explanations.
//!
//! Layers, bottom up: [`imaging`] and [`map`] (no model code), [`models`] (burn inference graphs
//! loaded from PyTorch weights), [`explain`] (the methods), [`cli`] (headless commands), and the
//! egui application on top.

pub mod animate;
pub mod app;
pub mod audit;
pub mod camera;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod colormap;
pub mod control;
pub mod datasets;
pub mod device;
pub mod digest;
pub mod error;
pub mod evaluation;
pub mod explain;
pub mod files;
pub mod imaging;
pub mod map;
pub mod metrics;
pub mod models;
pub(crate) mod names;
pub mod playlist;
pub mod record;
pub mod render;
pub mod retrieval;
pub mod seeded;
pub mod train;
/// The web page's entry point.
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{LanternError, Result};
