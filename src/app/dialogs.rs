//! The system's file dialogs, run on their own threads so the window keeps drawing while one is
//! open. A dialog's answer comes back through [`Dialogs::poll`]; when no dialog could be shown at
//! all (rfd finds neither an xdg-desktop-portal nor zenity on Linux and returns no file at once)
//! the answer says so, and the app offers a typed path instead.

#[cfg(not(target_arch = "wasm32"))]
use std::path::PathBuf;
#[cfg(not(target_arch = "wasm32"))]
use std::sync::mpsc::{Receiver, Sender, channel};
#[cfg(not(target_arch = "wasm32"))]
use web_time::{Duration, Instant};

/// Set (to anything) to skip the system's file dialogs and always type paths.
#[cfg(not(target_arch = "wasm32"))]
pub const TYPED_PATHS_VAR: &str = "LANTERN_TYPED_PATHS";

/// A dialog that answers "no file" sooner than this was never seen: nobody opens a dialog, reads
/// it and cancels it in a quarter of a second.
#[cfg(not(target_arch = "wasm32"))]
const UNSEEN: Duration = Duration::from_millis(250);

/// What to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// One or more existing files.
    Files,
    /// One existing file.
    File,
    /// One existing folder.
    Folder,
    /// A file to create.
    Save,
}

/// One dialog: what it picks, its title, its file filter and the suggested name when saving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogSpec {
    pub pick: Pick,
    pub title: &'static str,
    /// The filter's name and extensions (none: every file).
    pub filter: Option<(&'static str, &'static [&'static str])>,
    /// The suggested file name when saving.
    pub file_name: Option<&'static str>,
}

/// How a dialog ended.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogAnswer {
    Picked(Vec<PathBuf>),
    /// The user closed the dialog without choosing.
    Cancelled,
    /// No dialog could be shown.
    Unavailable,
}

#[cfg(not(target_arch = "wasm32"))]
impl DialogAnswer {
    /// The answer for `paths` chosen (or not) after `took`: nothing chosen in less time than a
    /// person needs to see a dialog means no dialog was shown.
    pub fn judge(paths: Vec<PathBuf>, took: Duration) -> Self {
        if !paths.is_empty() {
            Self::Picked(paths)
        } else if took < UNSEEN {
            Self::Unavailable
        } else {
            Self::Cancelled
        }
    }
}

/// The dialogs running, each tagged with what the app asked it for (`T`).
#[cfg(not(target_arch = "wasm32"))]
pub struct Dialogs<T> {
    sender: Sender<(T, DialogAnswer)>,
    answers: Receiver<(T, DialogAnswer)>,
    /// A dialog is open (the app asks for one at a time).
    open: bool,
}

#[cfg(not(target_arch = "wasm32"))]
impl<T> Default for Dialogs<T> {
    fn default() -> Self {
        let (sender, answers) = channel();
        Self { sender, answers, open: false }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + 'static> Dialogs<T> {
    /// Whether the system's dialogs are to be skipped (see [`TYPED_PATHS_VAR`]).
    pub fn skipped() -> bool {
        std::env::var_os(TYPED_PATHS_VAR).is_some()
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Show the dialog `spec` on a thread of its own; its answer, tagged `tag`, is returned by
    /// [`Dialogs::poll`] after `repaint` was called. (The web page asks the browser instead:
    /// `super::given`.)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn show(&mut self, tag: T, spec: DialogSpec, repaint: impl Fn() + Send + 'static) {
        self.open = true;
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let paths = run(&spec);
            // The app may be gone (the window closed while the dialog was open).
            let _ = sender.send((tag, DialogAnswer::judge(paths, start.elapsed())));
            repaint();
        });
    }

    /// The answer of the dialog that ended, if one did.
    pub fn poll(&mut self) -> Option<(T, DialogAnswer)> {
        let answer = self.answers.try_recv().ok()?;
        self.open = false;
        Some(answer)
    }
}

/// Run the dialog (blocking this thread) and return what was chosen.
#[cfg(not(target_arch = "wasm32"))]
fn run(spec: &DialogSpec) -> Vec<PathBuf> {
    let mut dialog = rfd::FileDialog::new().set_title(spec.title);
    if let Some((name, extensions)) = spec.filter {
        dialog = dialog.add_filter(name, extensions);
    }
    if let Some(name) = spec.file_name {
        dialog = dialog.set_file_name(name);
    }
    match spec.pick {
        Pick::Files => dialog.pick_files().unwrap_or_default(),
        Pick::File => dialog.pick_file().into_iter().collect(),
        Pick::Folder => dialog.pick_folder().into_iter().collect(),
        Pick::Save => dialog.save_file().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_a_file_is_unavailable_only_when_too_quick_to_be_seen() {
        let file = vec![PathBuf::from("a.png")];
        assert_eq!(DialogAnswer::judge(file.clone(), Duration::ZERO), DialogAnswer::Picked(file));
        assert_eq!(DialogAnswer::judge(Vec::new(), Duration::from_millis(3)), DialogAnswer::Unavailable);
        assert_eq!(DialogAnswer::judge(Vec::new(), Duration::from_secs(2)), DialogAnswer::Cancelled);
    }
}
