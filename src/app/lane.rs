//! One job lane: what a view asked the worker for and what came back. The main canvas, each
//! compare cell, each label's small map, the Pair view and the Neighbours panel each hold one
//! [`JobLane`]: the request (with its [`Token`]), whether its answer is awaited, its progress, and
//! the last finished output or the error. How a job ended is typed ([`JobError`]).
//!
//! The request token says which answer belongs to the request shown; the key that tells the GPU
//! a map changed is another thing ([`MapKey`]), so neither is used for the other.

use crate::error::LanternError;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a job has no output.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Stopped on request (by a newer request for its lane, or by Cancel).
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(LanternError),
}

impl From<LanternError> for JobError {
    fn from(e: LanternError) -> Self {
        match e {
            LanternError::Cancelled => JobError::Cancelled,
            e => JobError::Failed(e),
        }
    }
}

/// Which request an answer belongs to: every request sent gets a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(u64);

impl Token {
    pub fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Token(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Changes whenever the map a view shows changes: it keys the view's GPU upload and its CPU
/// composite. Fresh keys never repeat.
pub fn fresh_map_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// How an answer changed a lane (see [`JobLane::finish`]).
#[derive(Debug)]
pub enum Finished {
    /// The output is now the lane's.
    Done,
    /// The job was cancelled: the lane keeps showing its last output.
    Cancelled,
    /// The job failed; the message is the lane's error.
    Failed(String),
    /// The answer is for an older request (or one cancelled by hand): dropped.
    Stale,
}

/// A request, its progress and its answer.
#[derive(Debug)]
pub struct JobLane<Req, Out> {
    requested: Option<(Req, Token)>,
    pending: bool,
    progress: Option<(usize, usize)>,
    output: Option<Out>,
    error: Option<String>,
}

impl<Req, Out> Default for JobLane<Req, Out> {
    fn default() -> Self {
        Self { requested: None, pending: false, progress: None, output: None, error: None }
    }
}

impl<Req: PartialEq, Out> JobLane<Req, Out> {
    /// Whether `want` differs from what was asked last.
    pub fn differs(&self, want: &Req) -> bool {
        self.requested.as_ref().is_none_or(|(r, _)| r != want)
    }

    /// Record `request` as asked and awaited; returns its fresh token, to send with it.
    pub fn request(&mut self, request: Req) -> Token {
        let token = Token::fresh();
        self.requested = Some((request, token));
        self.pending = true;
        self.progress = None;
        self.error = None;
        token
    }
}

impl<Req, Out> JobLane<Req, Out> {
    pub fn requested(&self) -> Option<&Req> {
        self.requested.as_ref().map(|(r, _)| r)
    }

    pub fn output(&self) -> Option<&Out> {
        self.output.as_ref()
    }

    pub fn output_mut(&mut self) -> Option<&mut Out> {
        self.output.as_mut()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn progress(&self) -> Option<(usize, usize)> {
        self.progress
    }

    /// A request was sent and its answer has not come back.
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// Whether `token` is the awaited request's.
    fn awaits(&self, token: Token) -> bool {
        self.pending && self.requested.as_ref().is_some_and(|(_, t)| *t == token)
    }

    /// Progress of the request with `token`; false (and nothing changed) for another request's.
    pub fn advance(&mut self, token: Token, done: usize, total: usize) -> bool {
        if !self.awaits(token) {
            return false;
        }
        self.progress = Some((done, total));
        true
    }

    /// The answer of the request with `token`.
    pub fn finish(&mut self, token: Token, result: Result<Out, JobError>) -> Finished {
        if !self.awaits(token) {
            return Finished::Stale;
        }
        self.pending = false;
        self.progress = None;
        match result {
            Ok(out) => {
                self.output = Some(out);
                self.error = None;
                Finished::Done
            }
            Err(JobError::Cancelled) => Finished::Cancelled,
            Err(JobError::Failed(e)) => {
                let message = e.to_string();
                self.error = Some(message.clone());
                Finished::Failed(message)
            }
        }
    }

    /// Stop awaiting the request (cancelled by hand), saying so with `message`; the request
    /// stays recorded, so it is not sent again until something changes. False when nothing was
    /// awaited.
    pub fn cancel(&mut self, message: String) -> bool {
        if !self.pending {
            return false;
        }
        self.pending = false;
        self.progress = None;
        self.error = Some(message);
        true
    }

    /// Forget the request and the output (what the lane shows no longer applies).
    pub fn clear(&mut self) {
        *self = Self { requested: None, pending: false, progress: None, output: None, error: None };
    }

    /// Forget the output only (a new request for other content shows nothing until it comes).
    pub fn clear_output(&mut self) {
        self.output = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_awaited_request_moves_a_lane_and_a_cancel_keeps_the_last_output() {
        let mut lane: JobLane<u32, &str> = JobLane::default();
        assert!(lane.differs(&1));
        let old = lane.request(1);
        let new = lane.request(2);
        assert!(!lane.differs(&2) && lane.pending());
        assert!(!lane.advance(old, 1, 2), "an older request's progress is not shown");
        assert!(matches!(lane.finish(old, Ok("old")), Finished::Stale));
        assert!(lane.advance(new, 1, 2));
        assert_eq!(lane.progress(), Some((1, 2)));
        assert!(matches!(lane.finish(new, Ok("two")), Finished::Done));
        assert_eq!((lane.output().copied(), lane.pending(), lane.progress()), (Some("two"), false, None));
        let third = lane.request(3);
        assert!(matches!(lane.finish(third, Err(JobError::Cancelled)), Finished::Cancelled));
        assert_eq!(lane.output().copied(), Some("two"), "a cancelled job leaves the last output");
        let fourth = lane.request(4);
        let failed = lane.finish(fourth, Err(JobError::Failed(LanternError::BadArgument("no".into()))));
        assert!(matches!(failed, Finished::Failed(ref m) if m == "no"));
        assert_eq!(lane.error(), Some("no"));
        let fifth = lane.request(5);
        assert!(lane.cancel("stopped".into()));
        assert!(matches!(lane.finish(fifth, Ok("late")), Finished::Stale), "an answer after a cancel is dropped");
        assert_eq!((lane.error(), lane.differs(&5)), (Some("stopped"), false));
        assert_ne!(fresh_map_key(), fresh_map_key());
    }
}
