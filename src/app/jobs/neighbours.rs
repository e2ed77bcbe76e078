//! The neighbours job: the open image's nearest gallery images by the embedding model, the
//! gallery's embeddings cached per similarity model ([`pair_jobs::find_neighbours`]).

use crate::app::images::ImageSource;
use crate::app::pair_jobs::{self, Neighbours, NeighboursJob};
use crate::app::worker::{Cache, Job};
use crate::control::Control;
use crate::error::Result;
use std::sync::Arc;

impl Job for NeighboursJob {
    type Output = Neighbours;

    fn run(self, cache: &mut Cache, control: &mut Control) -> Result<Neighbours> {
        let models = cache.similarity.get(&self.models).cloned().ok_or_else(super::pair::not_loaded)?;
        let images = &cache.images;
        let read = |id: u64, s: &ImageSource| match images.get(&id) {
            Some(img) => Ok(Arc::clone(img)),
            None => s.decode().map(Arc::new),
        };
        let embeddings = cache.embeddings.entry(self.models).or_default();
        pair_jobs::find_neighbours(&models.embedding, &self, embeddings, &read, control)
    }
}
