//! The pair job: the maps that explain why the embedding model finds two images alike
//! ([`pair_jobs::explain_pair`]).

use crate::app::pair_jobs::{self, PairJob, PairOutput};
use crate::app::worker::{Cache, Job};
use crate::control::Control;
use crate::error::{LanternError, Result};

impl Job for PairJob {
    type Output = PairOutput;

    fn run(self, cache: &mut Cache, control: &mut Control) -> Result<PairOutput> {
        let models = cache.similarity.get(&self.models).cloned().ok_or_else(not_loaded)?;
        let q = cache.image(self.query.0, &self.query.1)?;
        let r = cache.image(self.reference.0, &self.reference.1)?;
        pair_jobs::explain_pair(&models, &q, &r, &self, &mut cache.pair_maps, control)
    }
}

pub(super) fn not_loaded() -> LanternError {
    LanternError::Internal("the similarity models are not loaded yet".into())
}
