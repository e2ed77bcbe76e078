//! Seeded initial weights for trainable networks.
//!
//! burn's initialisers draw from one random generator per backend and process, which
//! `Device::seed` resets, and they draw lazily, when a parameter is first read. Two threads
//! initialising at once would take each other's numbers, so every seeded initialisation in
//! Lantern runs through [`seeded`], which seeds, builds and reads every parameter under one lock.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use std::sync::Mutex;

/// Reads every float parameter, which makes burn draw its initial value now.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// The module `init` builds, its weights drawn right after seeding `device`'s generator with
/// `seed`, with no other seeded initialisation in between: the same seed gives the same weights.
pub fn seeded<M: Module>(device: &Device, seed: u64, init: impl FnOnce() -> M) -> M {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let module = init();
    module.visit(&mut Materialize);
    module
}
