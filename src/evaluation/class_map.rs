//! Which model class explains each dataset class (`lantern eval --class-map FILE`).
//!
//! GT-known localisation explains the ground-truth class, so the dataset's class numbering must be
//! the model's. Without a map the two must have the same number of classes (the identity is
//! used); otherwise a map is required. The file has one mapping per line:
//!
//! ```text
//! # dataset class          model class index
//! 001.Black_footed_Albatross   146
//! 17                           3
//! traffic light                920
//! ```
//!
//! The model class index (0-based) is the last whitespace-separated field; everything before it is
//! the dataset class: its name as the dataset lists it (spaces allowed), or else its 0-based
//! index. Blank lines and lines starting with `#` are skipped. Several dataset classes may share a
//! model class; a dataset class given twice is an error, and so is an evaluated image whose class
//! the map leaves out.

use crate::datasets::Sample;
use crate::error::{LanternError, Result};
use std::path::Path;

/// The model class of each dataset class (`None`: not mapped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    pub model_class: Vec<Option<usize>>,
}

impl ClassMap {
    /// Read and check a class-map file against the dataset's class names and the model's class count.
    pub fn read(path: &Path, dataset_classes: &[String], model_classes: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| LanternError::io(path, e))?;
        Self::parse(&text, path, dataset_classes, model_classes)
    }

    /// Parse the text of a class-map file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path, dataset_classes: &[String], model_classes: usize) -> Result<Self> {
        let mut model_class = vec![None; dataset_classes.len()];
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: String| crate::datasets::line_error(path, i + 1, what);
            let Some((dataset, model)) = line.rsplit_once(char::is_whitespace) else {
                return Err(bad(format!("expected 'DATASET_CLASS MODEL_INDEX', got '{line}'")));
            };
            let dataset = dataset.trim();
            let model: usize = model.parse().map_err(|_| {
                bad(format!("'{model}' is not a model class index (0 to {})", model_classes.saturating_sub(1)))
            })?;
            if model >= model_classes {
                return Err(bad(format!(
                    "model class {model} is out of range: the model has {model_classes} classes (0 to {})",
                    model_classes.saturating_sub(1)
                )));
            }
            let index = dataset_classes
                .iter()
                .position(|c| c == dataset)
                .or_else(|| dataset.parse::<usize>().ok().filter(|&k| k < dataset_classes.len()))
                .ok_or_else(|| {
                    bad(format!(
                        "'{dataset}' is neither a class name of the dataset nor an index below {}",
                        dataset_classes.len()
                    ))
                })?;
            if model_class[index].is_some() {
                return Err(bad(format!("dataset class '{}' is mapped twice", dataset_classes[index])));
            }
            model_class[index] = Some(model);
        }
        Ok(Self { model_class })
    }

    /// The identity, when the dataset's classes are the model's.
    pub fn identity(classes: usize) -> Self {
        Self { model_class: (0..classes).map(Some).collect() }
    }

    /// The map to evaluate `samples` with: `given`, or the identity when the dataset has as many
    /// classes as the model. Refuses when an image's class has no model class.
    pub fn resolve(
        given: Option<Self>,
        dataset_classes: &[String],
        model_classes: usize,
        samples: &[&Sample],
    ) -> Result<Self> {
        let map = match given {
            Some(map) => map,
            None if dataset_classes.len() == model_classes || samples.iter().all(|s| s.class.is_none()) => {
                Self::identity(dataset_classes.len())
            }
            None => {
                return Err(LanternError::Mismatch(format!(
                    "the dataset has {} classes and the model {model_classes}, so the ground-truth class cannot be explained (GT-known localisation); give --class-map FILE with one 'DATASET_CLASS MODEL_INDEX' line per dataset class",
                    dataset_classes.len()
                )));
            }
        };
        if let Some(s) =
            samples.iter().find(|s| s.class.is_some_and(|c| map.model_class.get(c).copied().flatten().is_none()))
        {
            let class = s.class.unwrap_or_default();
            let name = dataset_classes.get(class).map_or_else(|| class.to_string(), Clone::clone);
            let images = samples.iter().filter(|t| t.class == s.class).count();
            return Err(LanternError::Mismatch(format!(
                "--class-map does not map dataset class '{name}' (the class of {images} evaluated images, e.g. {}); add a line '{name} MODEL_INDEX'",
                s.id
            )));
        }
        Ok(map)
    }

    /// The model class of dataset class `class` (`None` for an unknown class).
    pub fn get(&self, class: Option<usize>) -> Option<usize> {
        class.and_then(|c| self.model_class.get(c).copied().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn sample(id: &str, class: usize) -> Sample {
        Sample { id: id.into(), image: PathBuf::new(), class: Some(class), boxes: Vec::new(), mask: None }
    }

    #[test]
    fn parses_names_with_spaces_indices_and_comments() {
        let classes = names(&["cat", "traffic light", "dog"]);
        let text = "# dataset model\n\ncat 3\ntraffic light\t920\n2 3\n";
        let map = ClassMap::parse(text, Path::new("map.txt"), &classes, 1000).unwrap();
        assert_eq!(map.model_class, vec![Some(3), Some(920), Some(3)]);
        assert_eq!(map.get(Some(1)), Some(920));
        assert_eq!(map.get(None), None);
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let classes = names(&["cat", "dog"]);
        for (text, needle) in [
            ("cat 3\ncat 4\n", "map.txt:2"),
            ("cat\n", "map.txt:1"),
            ("cat 6\n", "out of range"),
            ("cat -1\n", "not a model class index"),
            ("bird 1\n", "'bird'"),
            ("2 1\n", "'2'"),
        ] {
            let e = ClassMap::parse(text, Path::new("map.txt"), &classes, 6).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn refuses_classes_that_do_not_fit_the_model_without_a_map() {
        let classes: Vec<String> = (0..200).map(|i| format!("{i:03}.bird")).collect();
        let a = sample("a", 0);
        let b = sample("b", 199);
        let e = ClassMap::resolve(None, &classes, 6, &[&a, &b]).unwrap_err().to_string();
        assert!(e.contains("200 classes") && e.contains("--class-map"), "{e}");
        let partial = ClassMap::parse("000.bird 2\n", Path::new("m"), &classes, 6).unwrap();
        let e = ClassMap::resolve(Some(partial.clone()), &classes, 6, &[&a, &b]).unwrap_err().to_string();
        assert!(e.contains("'199.bird'") && e.contains("e.g. b"), "{e}");
        assert_eq!(ClassMap::resolve(Some(partial), &classes, 6, &[&a]).unwrap().get(Some(0)), Some(2));
        assert_eq!(ClassMap::resolve(None, &names(&["x", "y"]), 2, &[&a]).unwrap(), ClassMap::identity(2));
    }
}
