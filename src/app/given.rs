//! Files given to the web page: dropped on it, or picked in the browser's file dialog. A page
//! reads a file only asynchronously and never learns its path, so each file is read on the
//! page's event loop and reaches the app at a later frame as [`FileBytes`] (see
//! [`super::LanternApp::open_given`]).

use super::dialogs::{DialogSpec, Pick};
use super::images::FileBytes;
use std::sync::mpsc::{Receiver, Sender, channel};

/// The files being read, and those read.
pub struct Given {
    sender: Sender<Result<FileBytes, String>>,
    read: Receiver<Result<FileBytes, String>>,
}

impl Default for Given {
    fn default() -> Self {
        let (sender, read) = channel();
        Self { sender, read }
    }
}

impl Given {
    /// Read the files dropped on the page; `repaint` is called once they are read.
    pub fn read_dropped(&self, files: Vec<egui::DroppedFileHandle>, repaint: impl Fn() + 'static) {
        let sender = self.sender.clone();
        wasm_bindgen_futures::spawn_local(async move {
            for file in files {
                let name = file.path().to_string_lossy().into_owned();
                let read = match file.bytes_async().await {
                    Ok(bytes) => Ok(FileBytes { name, bytes: bytes.into() }),
                    Err(e) => Err(format!("{name} could not be read: {e}")),
                };
                let _ = sender.send(read);
            }
            repaint();
        });
    }

    /// Show the browser's file dialog for `spec` (files to open; a page cannot pick folders or
    /// save files) and read what is picked; `repaint` is called once they are read.
    pub fn pick(&self, spec: DialogSpec, repaint: impl Fn() + 'static) {
        let sender = self.sender.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut dialog = rfd::AsyncFileDialog::new().set_title(spec.title);
            if let Some((name, extensions)) = spec.filter {
                dialog = dialog.add_filter(name, extensions);
            }
            let picked = match spec.pick {
                Pick::Files => dialog.pick_files().await.unwrap_or_default(),
                Pick::File => dialog.pick_file().await.into_iter().collect(),
                Pick::Folder | Pick::Save => {
                    let _ = sender.send(Err(format!("{}: a web page cannot choose folders or save files", spec.title)));
                    Vec::new()
                }
            };
            for file in picked {
                let name = file.file_name();
                let bytes = file.read().await;
                let _ = sender.send(Ok(FileBytes { name, bytes: bytes.into() }));
            }
            repaint();
        });
    }

    /// The files read since the last call, and why others could not be.
    pub fn poll(&self) -> (Vec<FileBytes>, Vec<String>) {
        let (mut files, mut errors) = (Vec::new(), Vec::new());
        for read in self.read.try_iter() {
            match read {
                Ok(f) => files.push(f),
                Err(e) => errors.push(e),
            }
        }
        (files, errors)
    }
}
