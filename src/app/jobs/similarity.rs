//! Loading the similarity models (an embedding model and, optionally, an attribute model) of the
//! Pair view and the Neighbours panel.

use crate::app::pair_jobs::{self, EmbeddingChoice, SimilarityInfo, SimilaritySource};
use crate::app::worker::{Cache, Job};
use crate::control::Control;
use crate::error::Result;
use std::sync::Arc;

/// Load the models `source` names as id `id` (with the app's open model, for an embedding read
/// from it).
pub struct LoadSimilarity {
    pub id: u64,
    pub source: SimilaritySource,
}

impl Job for LoadSimilarity {
    type Output = SimilarityInfo;

    fn run(self, cache: &mut Cache, _: &mut Control) -> Result<SimilarityInfo> {
        let open = match self.source.embedding {
            EmbeddingChoice::OpenModel(m) => cache.models.get(&m).cloned(),
            EmbeddingChoice::File(_) => None,
        };
        let (models, info) = pair_jobs::load_models(&self.source, open.as_deref(), &cache.device)?;
        cache.similarity.insert(self.id, Arc::new(models));
        Ok(info)
    }
}
