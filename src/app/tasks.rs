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

/// What the UI sees of a task.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub done: usize,
    pub total: usize,
    pub outcome: Option<Outcome>,
}

/// A running (or just finished) task.
pub struct Task {
    pub name: String,
    status: Arc<Mutex<Status>>,
    cancel: Arc<AtomicBool>,
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
    pub fn spawn(&mut self, name: impl Into<String>, repaint: impl Fn() + Send + 'static, work: impl FnOnce(&mut Control) -> Result<String> + Send + 'static) -> Result<()> {
        let name = name.into();
        let status = Arc::new(Mutex::new(Status::default()));
        let cancel = Arc::new(AtomicBool::new(false));
        let (s, c) = (Arc::clone(&status), Arc::clone(&cancel));
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
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut Control::with_progress(&c, &mut on_progress))));
                let outcome = match result {
                    Ok(Ok(message)) => Outcome::Done(message),
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
        self.running.push(Task { name, status, cancel });
        Ok(())
    }

    /// Remove the finished tasks and return them with their outcome.
    pub fn take_finished(&mut self) -> Vec<(String, Outcome)> {
        let mut finished = Vec::new();
        self.running.retain(|t| match t.status().outcome {
            Some(o) => {
                finished.push((t.name.clone(), o));
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
    panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait(tasks: &mut Tasks) -> Vec<(String, Outcome)> {
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
            .spawn("count", || {}, |c| {
                c.report(3, 3, None);
                Ok("counted".into())
            })
            .unwrap();
        assert_eq!(wait(&mut tasks), vec![("count".into(), Outcome::Done("counted".into()))]);
        tasks.spawn("fail", || {}, |_| Err(crate::error::LanternError::Invalid("bad".into()))).unwrap();
        assert_eq!(wait(&mut tasks)[0].1, Outcome::Failed("bad".into()));
        tasks.spawn("boom", || {}, |_| panic!("worker exploded")).unwrap();
        assert!(matches!(&wait(&mut tasks)[0].1, Outcome::Failed(m) if m.contains("worker exploded")));
        tasks
            .spawn("slow", || {}, |c| loop {
                c.check()?;
                std::thread::sleep(Duration::from_millis(1));
            })
            .unwrap();
        tasks.running[0].cancel();
        assert_eq!(wait(&mut tasks)[0].1, Outcome::Cancelled);
        assert!(tasks.is_empty());
    }
}
