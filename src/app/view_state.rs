//! What one view (the main canvas, a compare cell, a label's small map) shows and waits for: its
//! explanation [`JobLane`], the partial map of a long method still running, and the key of the
//! map shown (for its GPU upload).

use super::jobs::explain::{ExplainOutput, ExplainRequest};
use super::lane::{Finished, JobError, JobLane, Token, fresh_map_key};
use crate::map::WeightMap;
use std::sync::Arc;

#[derive(Default)]
pub struct ViewState {
    lane: JobLane<ExplainRequest, ExplainOutput>,
    /// A partial map of a long method still running.
    partial: Option<Arc<WeightMap>>,
    /// Changes whenever the map shown changes.
    map_key: u64,
}

impl ViewState {
    pub fn output(&self) -> Option<&ExplainOutput> {
        self.lane.output()
    }

    pub fn requested(&self) -> Option<&ExplainRequest> {
        self.lane.requested()
    }

    pub fn error(&self) -> Option<&str> {
        self.lane.error()
    }

    pub fn progress(&self) -> Option<(usize, usize)> {
        self.lane.progress()
    }

    /// A request was sent and its answer has not come back.
    pub fn pending(&self) -> bool {
        self.lane.pending()
    }

    pub fn partial(&self) -> Option<&Arc<WeightMap>> {
        self.partial.as_ref()
    }

    /// The key of the map shown (see [`super::lane::fresh_map_key`]).
    pub fn map_key(&self) -> u64 {
        self.map_key
    }

    /// The map shown: the partial one of a method still running, else the finished one.
    pub fn shown_map(&self) -> Option<&Arc<WeightMap>> {
        self.partial.as_ref().or(self.output().map(|o| &o.map))
    }

    /// Whether `want` differs from what was asked last.
    pub fn differs(&self, want: &ExplainRequest) -> bool {
        self.lane.differs(want)
    }

    /// Record `request` as sent; its token goes with it to the worker.
    pub fn request(&mut self, request: ExplainRequest) -> Token {
        self.partial = None;
        self.lane.request(request)
    }

    /// Progress of the request with `token`, with the partial map so far.
    pub fn advance(&mut self, token: Token, done: usize, total: usize, partial: Option<Arc<WeightMap>>) {
        if self.lane.advance(token, done, total)
            && let Some(p) = partial
        {
            self.partial = Some(p);
            self.map_key = fresh_map_key();
        }
    }

    /// The answer of the request with `token`.
    pub fn finish(&mut self, token: Token, result: Result<ExplainOutput, JobError>) -> Finished {
        let finished = self.lane.finish(token, result);
        if !matches!(finished, Finished::Stale) {
            self.partial = None;
            self.map_key = fresh_map_key();
        }
        finished
    }

    /// Stop waiting (cancelled by hand), keeping the last finished map.
    pub fn cancel(&mut self) {
        let title = self.requested().map_or("", |r| r.method.title());
        if self.lane.cancel(format!("{title} cancelled")) {
            self.partial = None;
        }
    }

    /// Show nothing until a new request's answer comes.
    pub fn clear(&mut self) {
        self.lane.clear();
        self.partial = None;
    }

    /// Change the shown output in place (tests fix machine-dependent timings for snapshots).
    pub fn output_mut(&mut self) -> Option<&mut ExplainOutput> {
        self.lane.output_mut()
    }
}
