//! Background tasks (save all, training, creating an audit, reading a dataset): each runs on its
//! own thread with the same [`Control`] the explanation methods use, a cancel flag and a progress
//! callback. The UI polls them once per frame and gets each finished task's typed result; a panic
//! in a task is caught and reported, so the app never waits forever on a task that died.

use super::lane::JobError;
use crate::control::{Control, Progress};
use crate::error::{LanternError, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the UI sees of a task while it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Status {
    pub done: usize,
    pub total: usize,
}

type Slot<T> = Arc<Mutex<Option<Result<T, JobError>>>>;

/// A running (or just finished) task of kind `K` whose result is a `T`.
pub struct Task<K, T> {
    pub kind: K,
    status: Arc<Mutex<Status>>,
    cancel: Arc<AtomicBool>,
    result: Slot<T>,
}

impl<K, T> Task<K, T> {
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| *s).unwrap_or_default()
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The tasks of the app.
pub struct Tasks<K, T> {
    running: Vec<Task<K, T>>,
}

impl<K, T> Default for Tasks<K, T> {
    fn default() -> Self {
        Self { running: Vec::new() }
    }
}

impl<K: Copy + PartialEq + std::fmt::Display, T: Send + 'static> Tasks<K, T> {
    /// Start `work` on a thread named after the task. `repaint` is called on progress and at the end.
    pub fn spawn(
        &mut self,
        kind: K,
        repaint: impl Fn() + Send + 'static,
        work: impl FnOnce(&mut Control) -> Result<T> + Send + 'static,
    ) -> Result<()> {
        let status = Arc::new(Mutex::new(Status::default()));
        let cancel = Arc::new(AtomicBool::new(false));
        let result: Slot<T> = Arc::new(Mutex::new(None));
        let (s, c, r) = (Arc::clone(&status), Arc::clone(&cancel), Arc::clone(&result));
        std::thread::Builder::new()
            .name(format!("lantern-{kind}"))
            .spawn(move || {
                let mut on_progress = |p: Progress<'_>| {
                    if let Ok(mut st) = s.lock() {
                        *st = Status { done: p.done, total: p.total };
                    }
                    repaint();
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    work(&mut Control::with_progress(&c, &mut on_progress))
                }));
                let outcome = match outcome {
                    Ok(done) => done.map_err(JobError::from),
                    Err(panic) => Err(JobError::Failed(LanternError::Internal(format!(
                        "the task stopped unexpectedly: {}",
                        panic_text(panic.as_ref())
                    )))),
                };
                if let Ok(mut slot) = r.lock() {
                    *slot = Some(outcome);
                }
                repaint();
            })
            .map_err(|e| LanternError::Internal(format!("could not start {kind}: {e}")))?;
        self.running.push(Task { kind, status, cancel, result });
        Ok(())
    }

    /// Remove the finished tasks and return them with their results.
    pub fn take_finished(&mut self) -> Vec<(K, Result<T, JobError>)> {
        let mut finished = Vec::new();
        self.running.retain(|t| match t.result.lock().ok().and_then(|mut r| r.take()) {
            Some(result) => {
                finished.push((t.kind, result));
                false
            }
            None => true,
        });
        finished
    }

    /// Cancel the running tasks of `kind`.
    pub fn cancel(&self, kind: K) {
        self.running.iter().filter(|t| t.kind == kind).for_each(Task::cancel);
    }

    /// The tasks running, with their progress.
    pub fn running(&self) -> impl Iterator<Item = (K, Status)> + '_ {
        self.running.iter().map(|t| (t.kind, t.status()))
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    crate::error::panic_message(panic).unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use web_time::{Duration, Instant};

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Count,
        Load,
        Fail,
        Boom,
        Slow,
    }

    impl std::fmt::Display for Kind {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    #[derive(Debug, PartialEq)]
    enum Out {
        Counted(String),
        Loaded(usize),
    }

    fn wait(tasks: &mut Tasks<Kind, Out>) -> Vec<(Kind, Result<Out, JobError>)> {
        let start = Instant::now();
        loop {
            let f = tasks.take_finished();
            if !f.is_empty() || start.elapsed() > Duration::from_secs(10) {
                return f;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn outcomes_of_success_failure_cancel_and_panic_reach_the_ui() {
        let mut tasks = Tasks::default();
        tasks
            .spawn(
                Kind::Count,
                || {},
                |c| {
                    c.report(3, 3, None);
                    Ok(Out::Counted("counted".to_string()))
                },
            )
            .unwrap();
        let done = wait(&mut tasks);
        assert!(matches!(&done[..], [(Kind::Count, Ok(Out::Counted(m)))] if m == "counted"), "{done:?}");
        tasks.spawn(Kind::Load, || {}, |_| Ok(Out::Loaded(42))).unwrap();
        assert!(matches!(wait(&mut tasks)[..], [(Kind::Load, Ok(Out::Loaded(42)))]), "the result reaches the UI");
        tasks.spawn(Kind::Fail, || {}, |_| Err(LanternError::BadArgument("bad".into()))).unwrap();
        assert!(matches!(&wait(&mut tasks)[0].1, Err(JobError::Failed(e)) if e.to_string() == "bad"));
        tasks.spawn(Kind::Boom, || {}, |_| -> Result<Out> { panic!("worker exploded") }).unwrap();
        assert!(
            matches!(&wait(&mut tasks)[0].1, Err(JobError::Failed(m)) if m.to_string().contains("worker exploded"))
        );
        tasks
            .spawn(
                Kind::Slow,
                || {},
                |c| -> Result<Out> {
                    loop {
                        c.check()?;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                },
            )
            .unwrap();
        tasks.cancel(Kind::Slow);
        assert!(matches!(wait(&mut tasks)[0].1, Err(JobError::Cancelled)));
        assert!(tasks.is_empty());
    }
}
