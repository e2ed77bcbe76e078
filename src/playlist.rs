//! A talk's prepared sequence: a small TOML file naming a model, and steps of image, method, layer
//! and class that the arrow keys (or a presenter's clicker, which sends Page Up / Page Down) step
//! through. Paths are relative to the file. `assets/demo/talk.toml` is the example:
//!
//! ```toml
//! title = "Where does a CNN look?"
//! model = "lantern_cnn.safetensors"    # optional: the demo classifier when absent
//!
//! [[step]]
//! image = "images/star.png"
//! method = "gradcam"                   # any name `lantern methods` lists
//! layer = "blocks.4"                   # optional: the model's default layer
//! class = "star"                       # optional: a class name or index; the top class when absent
//! caption = "Grad-CAM: the star's points and dots"   # optional
//! ```
//!
//! Everything is checked when the file is read (the images exist, the methods are known, no
//! unknown keys), so a talk finds its mistakes before it starts; the layer and class are checked
//! against the model once it is loaded.

use crate::error::{LanternError, Result};
use crate::explain::Method;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Largest playlist file read (a talk is a few dozen steps).
const MAX_BYTES: u64 = 1 << 20;

/// A playlist as read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Playlist {
    /// The file it was read from.
    pub path: PathBuf,
    pub title: Option<String>,
    /// The model file (`None`: the demo classifier).
    pub model: Option<PathBuf>,
    pub steps: Vec<Step>,
}

/// One step of a talk.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub image: PathBuf,
    pub method: Method,
    /// The layer (`None`: the model's default).
    pub layer: Option<String>,
    pub class: Option<ClassChoice>,
    pub caption: Option<String>,
}

/// The class a step explains, as the file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassChoice {
    Index(usize),
    Name(String),
}

impl ClassChoice {
    /// The class index among `labels` (a name matches without regard to case).
    pub fn resolve(&self, labels: &[String]) -> Option<usize> {
        match self {
            ClassChoice::Index(i) => (*i < labels.len()).then_some(*i),
            ClassChoice::Name(name) => labels.iter().position(|l| l.eq_ignore_ascii_case(name)),
        }
    }
}

impl std::fmt::Display for ClassChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassChoice::Index(i) => write!(f, "class {i}"),
            ClassChoice::Name(name) => write!(f, "class '{name}'"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    title: Option<String>,
    model: Option<PathBuf>,
    #[serde(default)]
    step: Vec<StepEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepEntry {
    image: PathBuf,
    method: String,
    layer: Option<String>,
    class: Option<ClassEntry>,
    caption: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ClassEntry {
    Index(usize),
    Name(String),
}

impl Playlist {
    /// Read and check the playlist at `path`.
    pub fn read(path: &Path) -> Result<Playlist> {
        let malformed = |reason: String| LanternError::Malformed { path: path.into(), reason };
        let size = std::fs::metadata(path).map_err(|source| LanternError::Io { path: path.into(), source })?.len();
        if size > MAX_BYTES {
            return Err(malformed(format!("{size} bytes: a playlist is at most {MAX_BYTES}")));
        }
        let text = std::fs::read_to_string(path).map_err(|source| LanternError::Io { path: path.into(), source })?;
        let file: File = toml::from_str(&text).map_err(|e| malformed(e.to_string().trim().to_string()))?;
        if file.step.is_empty() {
            return Err(malformed("no [[step]]: a playlist needs at least one step".into()));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let model = file.model.map(|m| dir.join(m));
        if let Some(m) = model.as_ref().filter(|m| !m.is_file()) {
            return Err(malformed(format!("the model {} does not exist", m.display())));
        }
        let steps = file
            .step
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let n = i + 1;
                let image = dir.join(&s.image);
                if !image.is_file() {
                    return Err(malformed(format!("step {n}: the image {} does not exist", image.display())));
                }
                let method = s.method.parse::<Method>().map_err(|e| malformed(format!("step {n}: {e}")))?;
                let class = s.class.map(|c| match c {
                    ClassEntry::Index(i) => ClassChoice::Index(i),
                    ClassEntry::Name(name) => ClassChoice::Name(name),
                });
                Ok(Step { image, method, layer: s.layer, class, caption: s.caption })
            })
            .collect::<Result<Vec<Step>>>()?;
        Ok(Playlist { path: path.into(), title: file.title, model, steps })
    }

    /// The images of the steps, each once, in the order they first appear.
    pub fn images(&self) -> Vec<PathBuf> {
        let mut images: Vec<PathBuf> = Vec::new();
        for s in &self.steps {
            if !images.contains(&s.image) {
                images.push(s.image.clone());
            }
        }
        images
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("talk.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn with_image() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("images")).unwrap();
        std::fs::write(dir.path().join("images/a.png"), b"png").unwrap();
        dir
    }

    #[test]
    fn the_demo_playlist_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/talk.toml");
        let p = Playlist::read(&path).unwrap();
        assert!(p.steps.len() >= 4, "{:?}", p.steps);
        assert!(p.images().len() >= 2);
        assert!(p.steps.iter().any(|s| s.class.is_some()) && p.steps.iter().any(|s| s.layer.is_some()));
        assert!(p.steps.iter().all(|s| s.caption.is_some()));
    }

    #[test]
    fn steps_read_with_paths_relative_to_the_file_and_classes_by_name_or_index() {
        let dir = with_image();
        let text = "title = \"t\"\n[[step]]\nimage = \"images/a.png\"\nmethod = \"Grad-CAM++\"\nclass = \"Star\"\n\
                    [[step]]\nimage = \"images/a.png\"\nmethod = \"rise\"\nclass = 3\nlayer = \"blocks.2\"\n";
        let p = Playlist::read(&write(dir.path(), text)).unwrap();
        assert_eq!(p.title.as_deref(), Some("t"));
        assert_eq!(p.model, None);
        assert_eq!(p.steps[0].image, dir.path().join("images/a.png"));
        assert_eq!(p.steps[0].method, Method::GradCamPlusPlus);
        assert_eq!(p.steps[1].method, Method::Rise);
        assert_eq!(p.steps[1].layer.as_deref(), Some("blocks.2"));
        assert_eq!(p.images(), vec![dir.path().join("images/a.png")]);
        let labels: Vec<String> = ["circle", "square", "triangle", "star"].map(String::from).to_vec();
        assert_eq!(p.steps[0].class.as_ref().unwrap().resolve(&labels), Some(3));
        assert_eq!(p.steps[1].class.as_ref().unwrap().resolve(&labels), Some(3));
        assert_eq!(ClassChoice::Index(4).resolve(&labels), None);
        assert_eq!(ClassChoice::Name("dog".into()).resolve(&labels), None);
    }

    #[test]
    fn mistakes_are_found_when_the_file_is_read_and_name_the_step() {
        let dir = with_image();
        let cases = [
            ("", "no [[step]]"),
            ("[[step]]\nimage = \"images/a.png\"\nmethod = \"gradcam3\"\n", "step 1: unknown method 'gradcam3'"),
            (
                "[[step]]\nimage = \"images/a.png\"\nmethod = \"rise\"\n[[step]]\nimage = \"b.png\"\nmethod = \"rise\"\n",
                "step 2: the image",
            ),
            ("[[step]]\nimage = \"images/a.png\"\nmethod = \"rise\"\nzoom = 2\n", "unknown field `zoom`"),
            (
                "model = \"gone.pth\"\n[[step]]\nimage = \"images/a.png\"\nmethod = \"rise\"\n",
                "gone.pth does not exist",
            ),
            ("[[step]\n", "TOML parse error"),
        ];
        for (text, needle) in cases {
            let err = Playlist::read(&write(dir.path(), text)).unwrap_err();
            assert!(err.is_bad_input(), "{err}");
            assert!(err.to_string().contains(needle), "'{err}' should say '{needle}'");
        }
        let missing = Playlist::read(&dir.path().join("nope.toml")).unwrap_err();
        assert!(missing.to_string().contains("nope.toml"), "{missing}");
    }
}
