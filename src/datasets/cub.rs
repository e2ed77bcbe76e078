//! CUB-200-2011 (Wah et al., 2011): `images.txt` (`id path`), `image_class_labels.txt`
//! (`id class`, 1-based), `bounding_boxes.txt` (`id x y width height`), `train_test_split.txt`
//! (`id is_training`), `classes.txt` (`class name`), images under `images/`. The test split is
//! read (as WSOL evaluations use it); boxes follow wsolevaluation: `(x, y, x + w, y + h)`.

use super::{Dataset, Sample, clamp_box, line_error, read_text};
use crate::error::Result;
use std::collections::HashMap;
use std::path::Path;

/// `id value...` lines of a CUB file, split on whitespace.
fn table(dir: &Path, name: &str, fields: usize) -> Result<Vec<(usize, String, Vec<String>)>> {
    let path = dir.join(name);
    let text = read_text(&path)?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < fields + 1 {
            return Err(line_error(&path, i + 1, format!("expected an id and {fields} field(s), got '{line}'")));
        }
        parts[0]
            .parse::<usize>()
            .map_err(|_| line_error(&path, i + 1, format!("'{}' is not an image id", parts[0])))?;
        rows.push((i + 1, parts[0].to_string(), parts[1..].iter().map(|s| s.to_string()).collect()));
    }
    Ok(rows)
}

pub fn read(dir: &Path) -> Result<Dataset> {
    let classes: Vec<String> = table(dir, "classes.txt", 1)?.into_iter().map(|(_, _, v)| v.join(" ")).collect();
    let labels_path = dir.join("image_class_labels.txt");
    let mut labels = HashMap::new();
    for (line, id, v) in table(dir, "image_class_labels.txt", 1)? {
        let c: usize =
            v[0].parse().map_err(|_| line_error(&labels_path, line, format!("'{}' is not a class number", v[0])))?;
        if c == 0 || c > classes.len() {
            return Err(line_error(
                &labels_path,
                line,
                format!("class {c} is not in classes.txt (1..={})", classes.len()),
            ));
        }
        labels.insert(id, c - 1);
    }
    let boxes_path = dir.join("bounding_boxes.txt");
    let mut boxes = HashMap::new();
    for (line, id, v) in table(dir, "bounding_boxes.txt", 4)? {
        let n: Vec<f64> = v[..4]
            .iter()
            .map(|s| s.parse::<f64>().map_err(|_| line_error(&boxes_path, line, format!("'{s}' is not a number"))))
            .collect::<Result<_>>()?;
        if n[2] < 0.0 || n[3] < 0.0 {
            return Err(line_error(&boxes_path, line, "box width and height must not be negative"));
        }
        boxes.insert(id, n);
    }
    let split_path = dir.join("train_test_split.txt");
    let mut test = HashMap::new();
    for (line, id, v) in table(dir, "train_test_split.txt", 1)? {
        match v[0].as_str() {
            "0" => test.insert(id, true),
            "1" => test.insert(id, false),
            other => return Err(line_error(&split_path, line, format!("is_training must be 0 or 1, got '{other}'"))),
        };
    }
    let images_path = dir.join("images.txt");
    let mut samples = Vec::new();
    for (line, id, v) in table(dir, "images.txt", 1)? {
        if !test.get(&id).copied().unwrap_or(false) {
            continue;
        }
        let class =
            *labels.get(&id).ok_or_else(|| line_error(&images_path, line, format!("image {id} has no class label")))?;
        let b =
            boxes.get(&id).ok_or_else(|| line_error(&images_path, line, format!("image {id} has no bounding box")))?;
        let image = dir.join("images").join(&v[0]);
        let (w, h) = image::image_dimensions(&image)
            .map_err(|e| line_error(&images_path, line, format!("{}: {e}", image.display())))?;
        let boxes = clamp_box(b[0], b[1], b[0] + b[2], b[1] + b[3], w, h).into_iter().collect();
        samples.push(Sample { id, image, class: Some(class), boxes, mask: None });
    }
    Ok(Dataset { classes, samples })
}
