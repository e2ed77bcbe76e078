//! Class names: the ImageNet-1k names shipped in `assets/`, or a model's own labels file
//! (one name per line).

use crate::error::{LanternError, Result};
use std::path::{Path, PathBuf};

const IMAGENET: &str = include_str!("../../assets/imagenet_classes.txt");

/// Names of a classifier's classes; a class without a name is shown as `class N`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    names: Vec<String>,
}

impl Labels {
    /// The 1000 ImageNet-1k class names, in torchvision's order.
    pub fn imagenet() -> Self {
        Self::parse(IMAGENET)
    }

    /// One name per non-empty line.
    pub fn parse(text: &str) -> Self {
        Self { names: text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect() }
    }

    pub fn from_names(names: Vec<String>) -> Self {
        Self { names }
    }

    /// Read a labels file; it must name exactly `classes` classes.
    pub fn load(path: &Path, classes: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| LanternError::io(path, e))?;
        let labels = Self::parse(&text);
        if labels.len() != classes {
            return Err(LanternError::Mismatch(format!(
                "{}: names {} classes but the model has {classes}",
                path.display(),
                labels.len()
            )));
        }
        Ok(labels)
    }

    /// Labels for a model file: `<model>.labels.txt` or `labels.txt` beside it when present,
    /// else ImageNet's names for a 1000-class model, else none.
    pub fn for_model(model: &Path, classes: usize) -> Result<Self> {
        if let Some(path) = sidecar(model) {
            return Self::load(&path, classes);
        }
        Ok(if classes == 1000 { Self::imagenet() } else { Self::default() })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Name of class `index` (`class N` when unnamed).
    pub fn name(&self, index: usize) -> String {
        self.names.get(index).cloned().unwrap_or_else(|| format!("class {index}"))
    }

    /// Index of the class with this exact name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

fn sidecar(model: &Path) -> Option<PathBuf> {
    let stem = model.file_stem()?.to_string_lossy().to_string();
    let dir = model.parent().unwrap_or(Path::new("."));
    [dir.join(format!("{stem}.labels.txt")), dir.join("labels.txt")].into_iter().find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_has_1000_names_in_torchvision_order() {
        let l = Labels::imagenet();
        assert_eq!(l.len(), 1000);
        assert_eq!(l.name(0), "tench");
        assert_eq!(l.name(281), "tabby");
        assert_eq!(l.name(999), "toilet tissue");
        assert_eq!(l.name(1000), "class 1000");
    }

    #[test]
    fn sidecar_labels_must_match_the_class_count() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("net.pth");
        std::fs::write(dir.path().join("net.labels.txt"), "cat\ndog\n\n").unwrap();
        assert_eq!(Labels::for_model(&model, 2).unwrap().name(1), "dog");
        assert!(Labels::for_model(&model, 3).is_err());
        assert_eq!(Labels::for_model(&dir.path().join("other.pth"), 5).unwrap().len(), 0);
    }
}
