//! The live camera's job: explain one frame. The frame is lent to the worker's cache as an image
//! for the length of the job, so it is explained exactly as an open image is
//! ([`ExplainRequest`]'s run), then let go with its session: frames are not kept.

use super::explain::{ExplainOutput, ExplainRequest};
use crate::app::worker::{Cache, Job};
use crate::camera::Frame;
use crate::control::Control;
use crate::error::Result;

/// Explain `frame` as `request` says (its `image` is the id the frame is lent under).
pub struct ExplainFrame {
    pub frame: Frame,
    pub request: ExplainRequest,
}

/// A frame with its explanation.
#[derive(Debug, Clone)]
pub struct ExplainedFrame {
    pub frame: Frame,
    pub output: ExplainOutput,
}

impl Job for ExplainFrame {
    type Output = ExplainedFrame;

    fn run(self, cache: &mut Cache, control: &mut Control) -> Result<ExplainedFrame> {
        let id = self.request.image;
        cache.images.insert(id, std::sync::Arc::clone(&self.frame.image));
        let output = self.request.run(cache, control);
        cache.images.remove(&id);
        cache.sessions.retain(|((image, _), _)| *image != id);
        Ok(ExplainedFrame { frame: self.frame, output: output? })
    }
}
