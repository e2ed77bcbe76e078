//! Terminal progress for the CLI: a bar for counted work ([`progress_bar`]), and the one view of a
//! training run on the shared loop ([`FitProgress`]) that every `lantern train` command uses.

use crate::train::fit::Event;
use crate::train::history::EpochRecord;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

/// A bar of `len` steps drawn with `template` (indicatif's syntax); hidden when stderr is not a
/// terminal.
pub(super) fn progress_bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).expect("valid progress template"));
    bar
}

/// A training run's progress: a bar over every step with the epoch, the loss terms, the last
/// validation score and the ETA; a note on stderr when the run continues from a checkpoint; one
/// line on stdout per epoch, as `epoch_line` writes it (given the record and whether it is the
/// best epoch so far).
pub(super) struct FitProgress<'a> {
    bar: ProgressBar,
    checkpoints: &'a Path,
    last_score: String,
    epoch_line: EpochLine<'a>,
}

/// Formats one epoch's line (the record, whether it is the best so far).
type EpochLine<'a> = Box<dyn Fn(&EpochRecord, bool) -> String + 'a>;

impl<'a> FitProgress<'a> {
    pub fn new(checkpoints: &'a Path, epoch_line: impl Fn(&EpochRecord, bool) -> String + 'a) -> Self {
        FitProgress {
            bar: progress_bar(0, "{bar:30} {pos}/{len} steps  {elapsed_precise}  {msg}"),
            checkpoints,
            last_score: String::new(),
            epoch_line: Box::new(epoch_line),
        }
    }

    /// Show one event of [`crate::train::fit`].
    pub fn on(&mut self, event: Event<'_>) {
        match event {
            Event::Resumed { at } => {
                self.bar.set_length(at.total() as u64);
                self.bar.set_position(at.global() as u64);
                self.bar.suspend(|| {
                    eprintln!(
                        "{}: continuing after {} of {} steps",
                        self.checkpoints.display(),
                        at.global(),
                        at.total()
                    )
                });
            }
            Event::Step { at, terms, eta, .. } => {
                self.bar.set_length(at.total() as u64);
                self.bar.set_position(at.global() as u64 + 1);
                let eta = eta.map(|d| format!("  eta {}", indicatif::HumanDuration(d))).unwrap_or_default();
                let terms: Vec<String> = terms.iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
                self.bar.set_message(format!(
                    "epoch {}/{}  {}{}{eta}",
                    at.epoch + 1,
                    at.epochs,
                    terms.join(" "),
                    self.last_score
                ));
            }
            Event::Epoch { record, improved, .. } => {
                self.last_score = record.score.map(|s| format!("  val {s:.4}")).unwrap_or_default();
                let line = (self.epoch_line)(record, improved);
                self.bar.suspend(|| println!("{line}"));
            }
        }
    }

    /// Clear the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// `epoch N: name value  name value ...` with every loss term and metric of the record, and
/// `(best)` when it is the best epoch so far.
pub(super) fn epoch_line(r: &EpochRecord, improved: bool) -> String {
    let values: Vec<String> = r.terms.iter().chain(&r.metrics).map(|(n, v)| format!("{n} {v:.4}")).collect();
    format!("epoch {}: {}{}", r.epoch, values.join("  "), if improved { "  (best)" } else { "" })
}
