//! Named background tasks (save all, and any long job to come: training, evaluation). Each runs on
//! its own thread with the same [`Control`] the explanation methods use: a cancel flag and a
//! progress callback. The UI polls them once per frame; a panic in a task is caught and reported,
//! so the app never waits forever on a task that died.

use crate::control::{Control, Progress};
use crate::error::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How a task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; the message says what was done.
    Done(String),
    Cancelled,
    Failed(String),
}

/// What a finished task hands back: a message for the user and, for tasks that load something,
/// the thing loaded (taken by whoever started the task, by its name).
pub struct Finished {
    pub message: String,
    pub payload: Option<Box<dyn std::any::Any + Send>>,
}

impl From<String> for Finished {
    fn from(message: String) -> Self {
        Finished { message, payload: None }
    }
}

/// What the UI sees of a task.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub done: usize,
    pub total: usize,
    pub outcome: Option<Outcome>,
}

type Payload = Arc<Mutex<Option<Box<dyn std::any::Any + Send>>>>;

/// A running (or just finished) task.
pub struct Task {
    pub name: String,
    status: Arc<Mutex<Status>>,
    cancel: Arc<AtomicBool>,
    payload: Payload,
}

impl Task {
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The tasks of the app.
#[derive(Default)]
pub struct Tasks {
    pub running: Vec<Task>,
}

impl Tasks {
    /// Start `work` on a thread named after the task. `repaint` is called on progress and at the end.
    pub fn spawn<F: Into<Finished>>(
        &mut self,
        name: impl Into<String>,
        repaint: impl Fn() + Send + 'static,
        work: impl FnOnce(&mut Control) -> Result<F> + Send + 'static,
    ) -> Result<()> {
        let name = name.into();
        let status = Arc::new(Mutex::new(Status::default()));
        let cancel = Arc::new(AtomicBool::new(false));
        let payload: Payload = Arc::new(Mutex::new(None));
        let (s, c, p) = (Arc::clone(&status), Arc::clone(&cancel), Arc::clone(&payload));
        std::thread::Builder::new()
            .name(format!("lantern-{name}"))
            .spawn(move || {
                let mut on_progress = |p: Progress<'_>| {
                    if let Ok(mut st) = s.lock() {
                        st.done = p.done;
                        st.total = p.total;
                    }
                    repaint();
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    work(&mut Control::with_progress(&c, &mut on_progress))
                }));
                let outcome = match result.map(|r| r.map(Into::into)) {
                    Ok(Ok(Finished { message, payload })) => {
                        if let Ok(mut slot) = p.lock() {
                            *slot = payload;
                        }
                        Outcome::Done(message)
                    }
                    Ok(Err(crate::error::LanternError::Cancelled)) => Outcome::Cancelled,
                    Ok(Err(e)) => Outcome::Failed(e.to_string()),
                    Err(panic) => Outcome::Failed(format!("the task stopped unexpectedly: {}", panic_text(&panic))),
                };
                if let Ok(mut st) = s.lock() {
                    st.outcome = Some(outcome);
                }
                repaint();
            })
            .map_err(|e| crate::error::LanternError::Invalid(format!("could not start {name}: {e}")))?;
        self.running.push(Task { name, status, cancel, payload });
        Ok(())
    }

    /// Remove the finished tasks and return them with their outcome and payload.
    pub fn take_finished(&mut self) -> Vec<(String, Outcome, Option<Box<dyn std::any::Any + Send>>)> {
        let mut finished = Vec::new();
        self.running.retain(|t| match t.status().outcome {
            Some(o) => {
                let payload = t.payload.lock().ok().and_then(|mut p| p.take());
                finished.push((t.name.clone(), o, payload));
                false
            }
            None => true,
        });
        finished
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait(tasks: &mut Tasks) -> Vec<(String, Outcome)> {
        let start = Instant::now();
        loop {
            let f: Vec<(String, Outcome)> = tasks.take_finished().into_iter().map(|(n, o, _)| (n, o)).collect();
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
                "count",
                || {},
                |c| {
                    c.report(3, 3, None);
                    Ok("counted".to_string())
                },
            )
            .unwrap();
        assert_eq!(wait(&mut tasks), vec![("count".into(), Outcome::Done("counted".into()))]);
        tasks
            .spawn("load", || {}, |_| Ok(Finished { message: "loaded".into(), payload: Some(Box::new(42usize)) }))
            .unwrap();
        let start = Instant::now();
        let finished = loop {
            let f = tasks.take_finished();
            if !f.is_empty() || start.elapsed() > Duration::from_secs(10) {
                break f;
            }
        };
        assert_eq!(
            finished[0].2.as_ref().and_then(|p| p.downcast_ref::<usize>()),
            Some(&42),
            "the payload reaches the UI"
        );
        tasks.spawn("fail", || {}, |_| Err::<String, _>(crate::error::LanternError::Invalid("bad".into()))).unwrap();
        assert_eq!(wait(&mut tasks)[0].1, Outcome::Failed("bad".into()));
        tasks.spawn("boom", || {}, |_| -> Result<String> { panic!("worker exploded") }).unwrap();
        assert!(matches!(&wait(&mut tasks)[0].1, Outcome::Failed(m) if m.contains("worker exploded")));
        tasks
            .spawn(
                "slow",
                || {},
                |c| -> Result<String> {
                    loop {
                        c.check()?;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                },
            )
            .unwrap();
        tasks.running[0].cancel();
        assert_eq!(wait(&mut tasks)[0].1, Outcome::Cancelled);
        assert!(tasks.is_empty());
    }
}
