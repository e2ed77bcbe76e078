//! One explained image on disk, written the same way by the CLI and the app: a picture (the
//! overlay or the app's view), the raw map as `.npy` (float32) and as a 16-bit PNG, optionally the
//! deletion/insertion curves, and a JSON [`Record`] of where the map came from.

use crate::error::Result;
use crate::evaluation::plots;
use crate::explain::Explanation;
use crate::files;
use crate::imaging::{Geometry, Preprocess};
use crate::map::{PixelBox, WeightMap};
use crate::metrics::faithfulness::CausalCurve;
use crate::models::scores::ranked;
use crate::models::{Labels, Network, OutputKind};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One class with its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// Everything needed to know where an exported map came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub image: String,
    pub image_size: [u32; 2],
    pub model: String,
    pub arch: String,
    /// The device the map was computed on, as it was really used.
    pub device: String,
    pub method: String,
    /// For an approximate method (never a default), what it skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximation: Option<String>,
    pub layer: String,
    /// What the map explains, in words.
    pub objective: String,
    /// The explained class with its probability, when the map explains one class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Prediction>,
    pub predictions: Vec<Prediction>,
    pub preprocess: Preprocess,
    /// Where the map lies in the original image: `[x, y, width, height]` in pixels.
    pub crop_in_original: [f64; 4],
    pub map_size: [usize; 2],
    pub timing_ms: crate::explain::Timing,
    /// Boxes around the map's regions above the threshold, in map pixels, when they were shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boxes: Option<Boxes>,
    /// Deletion and insertion AUC (RISE protocol) when they were measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_auc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insertion_auc: Option<f64>,
    /// Files written for this map, by kind (`overlay` or `view`, `npy`, `png16`, `json`, ...).
    pub files: BTreeMap<String, String>,
}

/// The boxes drawn at a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boxes {
    /// Fraction of the map's maximum.
    pub threshold: f32,
    pub boxes: Vec<PixelBox>,
}

/// What a record says about the model.
pub struct ModelFacts<'a> {
    /// How the record names the model (a path, or "demo classifier").
    pub name: &'a str,
    pub arch: &'a str,
    pub labels: &'a Labels,
    pub output: OutputKind,
    pub preprocess: &'a Preprocess,
}

impl<'a> ModelFacts<'a> {
    pub fn of(net: &'a Network, name: &'a str) -> Self {
        Self { name, arch: &net.arch, labels: &net.labels, output: net.output, preprocess: &net.preprocess }
    }
}

/// The image an explanation is about, and where it was computed.
pub struct Subject<'a> {
    /// How the record names the image (a path or a file name).
    pub name: &'a str,
    pub image: &'a RgbImage,
    pub geometry: &'a Geometry,
    pub model: ModelFacts<'a>,
    pub device: &'a str,
    pub logits: &'a [f32],
}

/// What to write besides the map and the record.
pub struct Extras<'a> {
    /// The picture's kind (`overlay` or `view`) and pixels.
    pub picture: (&'a str, RgbImage),
    pub boxes: Option<Boxes>,
    /// Deletion and insertion curves, written as CSV and PNG.
    pub curves: Option<(CausalCurve, CausalCurve)>,
}

/// `stem.method` with `+` spelled `p`, the base of an explanation's file names.
pub fn file_base(stem: &str, method: crate::explain::Method) -> String {
    format!("{stem}.{}", method.name().replace('+', "p"))
}

/// Write the files of explanation `e` of `subject` into `dir` as `base.*`; returns the record.
pub fn write(dir: &Path, base: &str, subject: &Subject<'_>, e: &Explanation, extras: Extras<'_>) -> Result<Record> {
    let (kind, picture) = extras.picture;
    let mut kinds = vec![
        (kind, format!("{kind}.png")),
        ("npy", "map.npy".into()),
        ("png16", "map.png".into()),
        ("json", "json".into()),
    ];
    if extras.curves.is_some() {
        kinds.extend([("curves_csv", "faithfulness.csv".to_string()), ("curves_png", "faithfulness.png".to_string())]);
    }
    let files: BTreeMap<String, PathBuf> =
        kinds.into_iter().map(|(k, suffix)| (k.to_string(), dir.join(format!("{base}.{suffix}")))).collect();
    files::write_rgb_png(&files[kind], &picture)?;
    write_map(&files["npy"], &files["png16"], &e.map)?;
    if let Some((del, ins)) = &extras.curves {
        write_curves(&files["curves_csv"], &files["curves_png"], e.method.title(), del, ins)?;
    }
    let model = &subject.model;
    let probs = model.output.probabilities(subject.logits);
    let prediction =
        |(index, probability): (usize, f32)| Prediction { index, label: model.labels.name(index), probability };
    let (cx, cy, cw, ch) = subject.geometry.crop_in_original();
    let record = Record {
        image: subject.name.to_string(),
        image_size: [subject.image.width(), subject.image.height()],
        model: model.name.to_string(),
        arch: model.arch.to_string(),
        device: subject.device.to_string(),
        method: e.method.name().to_string(),
        approximation: e.approximation.clone(),
        layer: e.layer.clone(),
        objective: e.objective.describe(model.labels),
        target: e.objective.class().and_then(|c| probs.get(c).map(|&p| prediction((c, p)))),
        predictions: ranked(&probs, 5).into_iter().map(prediction).collect(),
        preprocess: model.preprocess.clone(),
        crop_in_original: [cx, cy, cw, ch],
        map_size: [e.map.width, e.map.height],
        timing_ms: e.timing,
        boxes: extras.boxes,
        deletion_auc: extras.curves.as_ref().map(|c| c.0.auc),
        insertion_auc: extras.curves.as_ref().map(|c| c.1.auc),
        files: files.iter().map(|(k, p)| (k.clone(), p.display().to_string())).collect(),
    };
    files::write_json(&files["json"], &record)?;
    Ok(record)
}

/// The map as a `float32` `.npy` of shape `(height, width)` and as a 16-bit grayscale PNG
/// (`round(clamp(v, 0, 1) * 65535)`).
pub fn write_map(npy: &Path, png16: &Path, map: &WeightMap) -> Result<()> {
    files::write_npy_f32(npy, &[map.height as u64, map.width as u64], &map.values)?;
    files::write_gray16_png(png16, map.width, map.height, map.to_u16())
}

/// The two curves as CSV (`fraction,deletion,insertion`) and as a PNG plot.
pub fn write_curves(csv: &Path, png: &Path, title: &str, del: &CausalCurve, ins: &CausalCurve) -> Result<()> {
    let n = del.scores.len().max(ins.scores.len());
    let rows: Vec<Vec<String>> = (0..n)
        .map(|i| {
            let f = i as f64 / (n.max(2) - 1) as f64;
            let cell = |c: &CausalCurve| c.scores.get(i).map_or(String::new(), |v| v.to_string());
            vec![f.to_string(), cell(del), cell(ins)]
        })
        .collect();
    files::write_csv(csv, &["fraction", "deletion", "insertion"], &rows)?;
    let points = |c: &CausalCurve| {
        let m = (c.scores.len().max(2) - 1) as f64;
        c.scores.iter().enumerate().map(|(i, &v)| (i as f64 / m, f64::from(v))).collect()
    };
    plots::line_plot(
        png,
        &format!("{title}: deletion and insertion"),
        "fraction of pixels",
        "score",
        1.0,
        &[
            plots::Series { name: format!("deletion (AUC {:.3})", del.auc), points: points(del) },
            plots::Series { name: format!("insertion (AUC {:.3})", ins.auc), points: points(ins) },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{Control, Method, Params, Session};

    #[test]
    fn writes_every_file_and_a_record_that_reads_back() {
        let device = burn::tensor::Device::flex();
        let net = std::sync::Arc::new(crate::models::demo::network(&device).unwrap());
        let image =
            crate::imaging::decode_image_bytes(crate::models::demo::IMAGES[0].1, Path::new("star.png")).unwrap();
        let geometry = net.preprocess.geometry(image.width(), image.height());
        let mut session = Session::new(std::sync::Arc::clone(&net), net.preprocess.tensor(&image, &device));
        let logits = session.logits().to_vec();
        let e = session.explain(Method::GradCam, 0usize, None, &Params::default(), &mut Control::none()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let subject = Subject {
            name: "star.png",
            image: &image,
            geometry: &geometry,
            model: ModelFacts::of(&net, "demo"),
            device: "cpu",
            logits: &logits,
        };
        let boxes = Some(Boxes { threshold: 0.5, boxes: e.map.boxes(0.5, crate::map::BoxMode::Largest) });
        let r = write(
            dir.path(),
            &file_base("star", Method::GradCamPlusPlus),
            &subject,
            &e,
            Extras { picture: ("view", image.clone()), boxes, curves: None },
        )
        .unwrap();
        for k in ["view", "npy", "png16", "json"] {
            assert!(Path::new(&r.files[k]).is_file(), "{k}");
        }
        assert!(r.files["json"].ends_with("star.gradcampp.json"));
        let mut back: Record = serde_json::from_str(&std::fs::read_to_string(&r.files["json"]).unwrap()).unwrap();
        // JSON keeps the shortest decimal of each time, not every last bit of the f64.
        assert!((back.timing_ms.method_ms - r.timing_ms.method_ms).abs() < 1e-9);
        back.timing_ms = r.timing_ms;
        assert_eq!(back, r);
        assert_eq!(back.target.as_ref().unwrap().index, 0);
        assert!(!back.boxes.as_ref().unwrap().boxes.is_empty());
        assert_eq!(back.predictions.len(), 5);
    }
}
