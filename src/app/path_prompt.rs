//! Asking for a path: what each File-menu entry asks for (the dialog that asks it, what answers
//! it) and the typed-path window's state, used when no file dialog can be shown, with completion
//! of file and folder names from the file system.

use super::dialogs::{DialogSpec, Pick};
use super::pair_jobs::SimilaritySource;
use std::path::{Path, PathBuf};

/// How many completions the window lists.
const SHOWN: usize = 12;

/// A File-menu entry that asks for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRequest {
    OpenImages,
    OpenFolder,
    OpenModel,
    /// "New audit of a dataset…": first the dataset's folder,
    AuditData,
    /// then the audit file to create.
    AuditFile {
        data: PathBuf,
    },
    OpenAudit,
    /// A talk's playlist (TOML).
    OpenPlaylist,
    /// The copy of a server's token file, for "Connect to a server…".
    TokenFile,
    /// The GIF to write the open image's explanation into, as this sweep.
    Animation {
        sweep: crate::animate::Sweep,
    },
    /// The Pair view's embedding model (the attribute model chosen stays).
    EmbeddingModel {
        attributes: Option<PathBuf>,
    },
    /// The Pair view's attribute model, for the similarity models chosen now.
    AttributeModel {
        current: SimilaritySource,
    },
    ExportView,
    SaveAll,
}

impl PathRequest {
    /// The system dialog that asks it.
    pub fn dialog(&self) -> DialogSpec {
        const IMAGES: &[&str] = &crate::datasets::folder::EXTENSIONS;
        // A web page reads a model from its bytes, which a PyTorch checkpoint cannot be read from.
        const MODELS: &[&str] =
            if cfg!(target_arch = "wasm32") { &crate::models::BYTES_EXTENSIONS } else { &crate::models::EXTENSIONS };
        const AUDITS: &[&str] = &["db"];
        const PLAYLISTS: &[&str] = &["toml"];
        const WEIGHTS: &[&str] = &["safetensors"];
        const GIFS: &[&str] = &["gif"];
        let (pick, filter, file_name) = match self {
            Self::OpenImages => (Pick::Files, Some(("Images", IMAGES)), None),
            Self::OpenModel => (Pick::File, Some(("Models", MODELS)), None),
            Self::AuditFile { .. } => (Pick::Save, Some(("Lantern audit", AUDITS)), Some("audit.db")),
            Self::OpenAudit => (Pick::File, Some(("Lantern audit", AUDITS)), None),
            Self::OpenPlaylist => (Pick::File, Some(("Lantern playlist", PLAYLISTS)), None),
            Self::TokenFile => (Pick::File, None, None),
            Self::Animation { .. } => (Pick::Save, Some(("GIF animation", GIFS)), Some("animation.gif")),
            Self::EmbeddingModel { .. } => (Pick::File, Some(("Models", MODELS)), None),
            Self::AttributeModel { .. } => (Pick::File, Some(("Weights", WEIGHTS)), None),
            Self::OpenFolder | Self::AuditData | Self::ExportView | Self::SaveAll => (Pick::Folder, None, None),
        };
        DialogSpec { pick, title: self.title(), filter, file_name }
    }

    /// The question, as the dialog's and the typed-path window's title.
    pub fn title(&self) -> &'static str {
        match self {
            Self::OpenImages => "Open images",
            Self::OpenFolder => "Open folder or dataset",
            Self::OpenModel => "Open model",
            Self::AuditData => "Dataset to audit",
            Self::AuditFile { .. } => "Save the audit as",
            Self::OpenAudit => "Open audit",
            Self::OpenPlaylist => "Open a talk's playlist",
            Self::TokenFile => "The server's token file",
            Self::Animation { .. } => "Save the animation as",
            Self::EmbeddingModel { .. } => "Embedding model",
            Self::AttributeModel { .. } => "Attribute model",
            Self::ExportView => "Export into folder",
            Self::SaveAll => "Save every image into folder",
        }
    }

    /// Why `path` cannot answer it, if it cannot: what must exist exists, and is a file or a
    /// folder as asked; a file to create is in an existing folder.
    pub fn refuse(&self, path: &Path) -> Option<String> {
        let shown = path.display();
        match self.dialog().pick {
            _ if path.as_os_str().is_empty() => Some("type a path".into()),
            Pick::Save => match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(dir) if !dir.is_dir() => Some(format!("{}: no such folder", dir.display())),
                _ if path.is_dir() => Some(format!("{shown} is a folder")),
                _ => None,
            },
            _ if !path.exists() => Some(format!("{shown}: no such file or folder")),
            Pick::Folder if !path.is_dir() => Some(format!("{shown} is not a folder")),
            Pick::File if !path.is_file() => Some(format!("{shown} is not a file")),
            _ => None,
        }
    }
}

/// The typed-path window: the question, why it is asked here, and the text typed so far.
#[derive(Debug, Clone, PartialEq)]
pub struct PathPrompt {
    pub request: PathRequest,
    /// Why no dialog was shown.
    pub reason: String,
    pub text: String,
    /// Why the last path answered was refused.
    pub refused: Option<String>,
}

impl PathPrompt {
    pub fn new(request: PathRequest, reason: impl Into<String>) -> Self {
        Self { request, reason: reason.into(), text: String::new(), refused: None }
    }

    /// The typed path, `~/` read as the home folder.
    pub fn path(&self) -> PathBuf {
        expand_home(self.text.trim())
    }
}

/// `text` with a leading `~/` replaced by the home folder.
fn expand_home(text: &str) -> PathBuf {
    match (text.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(text),
    }
}

/// The names in the folder `text` points into that start with what follows its last `/`, as
/// full texts to put in the field (folders end with `/`), sorted, hidden files only when asked
/// for by a leading dot, at most [`SHOWN`].
pub fn completions(text: &str) -> Vec<String> {
    let (dir_text, prefix) = match text.rfind('/') {
        Some(i) => text.split_at(i + 1),
        None => ("", text),
    };
    let dir = if dir_text.is_empty() { PathBuf::from(".") } else { expand_home(dir_text) };
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let wanted = name.starts_with(prefix) && (prefix.starts_with('.') || !name.starts_with('.'));
            let slash = if entry.path().is_dir() { "/" } else { "" };
            wanted.then(|| format!("{dir_text}{name}{slash}"))
        })
        .collect();
    found.sort();
    found.truncate(SHOWN);
    found
}

/// The longest text every completion starts with (what Tab puts in the field), if it is longer
/// than `text`.
pub fn common_prefix(text: &str, completions: &[String]) -> Option<String> {
    let first = completions.first()?;
    let mut end = first.len();
    for other in &completions[1..] {
        end = end.min(first.bytes().zip(other.bytes()).take_while(|(a, b)| a == b).count());
    }
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    (end > text.len()).then(|| first[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_names_in_the_typed_folder_marking_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("audits")).unwrap();
        std::fs::write(dir.path().join("audit.db"), b"").unwrap();
        std::fs::write(dir.path().join("other.png"), b"").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"").unwrap();
        let base = format!("{}/", dir.path().display());
        assert_eq!(completions(&format!("{base}au")), vec![format!("{base}audit.db"), format!("{base}audits/")]);
        assert_eq!(completions(&base).len(), 3, "hidden files are left out");
        assert_eq!(completions(&format!("{base}.h")), vec![format!("{base}.hidden")]);
        assert!(completions(&format!("{base}nothing/x")).is_empty());
        let found = completions(&format!("{base}au"));
        assert_eq!(common_prefix(&format!("{base}a"), &found), Some(format!("{base}audit")));
        assert_eq!(common_prefix(&format!("{base}audit"), &found), None);
    }

    #[test]
    fn refuses_paths_that_cannot_answer_the_question() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.db");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(PathRequest::OpenAudit.refuse(&file), None);
        assert!(PathRequest::OpenAudit.refuse(dir.path()).unwrap().contains("not a file"));
        assert!(PathRequest::OpenAudit.refuse(&dir.path().join("gone.db")).unwrap().contains("no such"));
        assert!(PathRequest::SaveAll.refuse(&file).unwrap().contains("not a folder"));
        let data = dir.path().to_path_buf();
        assert_eq!(PathRequest::AuditFile { data: data.clone() }.refuse(&dir.path().join("new.db")), None);
        assert!(PathRequest::AuditFile { data }.refuse(&dir.path().join("no/new.db")).is_some());
        assert!(PathRequest::OpenImages.refuse(Path::new("")).is_some());
    }
}
