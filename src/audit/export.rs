//! An audit as a spreadsheet (CSV), as JSON, or as COCO annotations.
//!
//! - CSV: one row per verdict (the latest per image, or every verdict), with class names, boxes
//!   as `x0 y0 x1 y1` (several separated by `; `) and the corrected box in four columns.
//! - JSON: settings, progress, classes, images, verdicts and merge agreement in one document.
//! - COCO: the audited localisation of each image whose latest verdict settles it: the corrected
//!   box when the annotator drew one (accept or reject), else the predicted boxes of an accepted
//!   image. Flags and rejections without a corrected box give no annotation. A box with inclusive
//!   corners `(x0, y0, x1, y1)` covers the continuous rectangle from `(x0, y0)` to
//!   `(x1 + 1, y1 + 1)`, so its COCO `bbox` is `[x0, y0, x1 - x0 + 1, y1 - y0 + 1]` and its
//!   `segmentation` is that rectangle as a polygon. Category ids are class indices + 1.

use super::rows::ImageEntry;
use super::rows::PairAgreement;
use super::setup::Settings;
use super::store::{Audit, Origin, Progress};
use super::verdict::{Verdict, VerdictKind, corners};
use super::{AuditError, Result};
use crate::map::PixelBox;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

crate::names::named_enum! {
    /// The formats `lantern audit export` writes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ExportFormat ("export format") {
        Csv = "csv",
        Json = "json",
        Coco = "coco",
    }
}

/// The latest verdict per image, or every verdict in commit order.
fn chosen(audit: &Audit, all: bool) -> Result<Vec<Verdict>> {
    if all { audit.verdicts() } else { audit.latest_verdicts() }
}

fn boxes_text(boxes: &[PixelBox]) -> String {
    boxes.iter().map(|b| format!("{} {} {} {}", b.x0, b.y0, b.x1, b.y1)).collect::<Vec<_>>().join("; ")
}

#[derive(Serialize)]
struct CsvRow<'a> {
    verdict_id: i64,
    time: &'a str,
    annotator: &'a str,
    image_id: &'a str,
    file: &'a str,
    class: Option<&'a str>,
    ground_truth_boxes: String,
    verdict: &'a str,
    iou: Option<f64>,
    predicted_class: Option<&'a str>,
    predicted_boxes: String,
    corrected_x0: Option<u32>,
    corrected_y0: Option<u32>,
    corrected_x1: Option<u32>,
    corrected_y1: Option<u32>,
    comment: &'a str,
}

/// Write verdicts as CSV with a header row.
pub fn write_csv<W: std::io::Write>(audit: &Audit, all: bool, out: W) -> Result<()> {
    let classes = audit.classes()?;
    let images: HashMap<String, ImageEntry> = audit.images()?.into_iter().map(|i| (i.id.clone(), i)).collect();
    let name = |c: Option<usize>| c.and_then(|c| classes.get(c)).map(String::as_str);
    let mut writer = csv::Writer::from_writer(out);
    let csv_error = |e: csv::Error| AuditError::Export(format!("writing CSV: {e}"));
    for v in chosen(audit, all)? {
        let image = &images[&v.image_id];
        let corrected = v.corrected_box.as_ref().map(corners);
        writer
            .serialize(CsvRow {
                verdict_id: v.id.0,
                time: &v.time,
                annotator: &v.annotator,
                image_id: &v.image_id,
                file: &image.file,
                class: name(image.class),
                ground_truth_boxes: boxes_text(&image.boxes),
                verdict: v.kind.as_str(),
                iou: v.iou,
                predicted_class: name(v.predicted_class),
                predicted_boxes: boxes_text(&v.predicted_boxes),
                corrected_x0: corrected.map(|c| c[0]),
                corrected_y0: corrected.map(|c| c[1]),
                corrected_x1: corrected.map(|c| c[2]),
                corrected_y1: corrected.map(|c| c[3]),
                comment: &v.comment,
            })
            .map_err(csv_error)?;
    }
    writer.flush().map_err(|e| AuditError::Export(format!("writing CSV: {e}")))
}

/// The whole audit as one JSON document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonExport {
    pub schema_version: i64,
    pub origin: Origin,
    pub settings: Settings,
    pub annotator: Option<String>,
    pub progress: Progress,
    pub classes: Vec<String>,
    pub images: Vec<ImageEntry>,
    pub verdicts: Vec<Verdict>,
    pub agreement: Vec<PairAgreement>,
}

pub fn json(audit: &Audit, all: bool) -> Result<JsonExport> {
    Ok(JsonExport {
        schema_version: audit.schema_version()?,
        origin: audit.origin()?,
        settings: audit.settings()?,
        annotator: audit.annotator()?,
        progress: audit.progress()?,
        classes: audit.classes()?,
        images: audit.images()?,
        verdicts: chosen(audit, all)?,
        agreement: audit.agreement()?,
    })
}

/// A COCO annotation file (the `instances_*.json` layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoFile {
    pub info: CocoInfo,
    pub images: Vec<CocoImage>,
    pub annotations: Vec<CocoAnnotation>,
    pub categories: Vec<CocoCategory>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoInfo {
    pub description: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The image's id in the audit.
    pub lantern_id: String,
}

/// Where an exported box comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxSource {
    Corrected,
    Predicted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoAnnotation {
    pub id: u64,
    pub image_id: u64,
    pub category_id: u64,
    /// `[x, y, width, height]`.
    pub bbox: [f64; 4],
    pub area: f64,
    pub iscrowd: u8,
    /// The box as one polygon `[x0, y0, x1, y0, x1, y1, x0, y1]` (continuous corners).
    pub segmentation: Vec<Vec<f64>>,
    pub verdict: VerdictKind,
    pub source: BoxSource,
    pub annotator: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoCategory {
    pub id: u64,
    pub name: String,
}

/// A COCO file and the number of settled images left out for want of a class.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoExport {
    pub file: CocoFile,
    pub without_class: usize,
}

/// The audited boxes as COCO annotations (see the module documentation for which boxes).
pub fn coco(audit: &Audit) -> Result<CocoExport> {
    let images = audit.images()?;
    let ids: HashMap<&str, (u64, Option<usize>)> =
        images.iter().map(|i| (i.id.as_str(), (i.position as u64 + 1, i.class))).collect();
    let mut annotations = Vec::new();
    let mut without_class = 0;
    for v in audit.latest_verdicts()? {
        let (boxes, source) = match (v.kind, v.corrected_box) {
            (VerdictKind::Flag, _) => continue,
            (_, Some(b)) => (vec![b], BoxSource::Corrected),
            (VerdictKind::Accept, None) => (v.predicted_boxes.clone(), BoxSource::Predicted),
            (VerdictKind::Reject, None) => continue,
        };
        let (image_id, class) = ids[v.image_id.as_str()];
        let Some(class) = class.or(v.predicted_class) else {
            without_class += 1;
            continue;
        };
        for b in boxes {
            let (x, y) = (f64::from(b.x0), f64::from(b.y0));
            let (x1, y1) = (f64::from(b.x1) + 1.0, f64::from(b.y1) + 1.0);
            annotations.push(CocoAnnotation {
                id: annotations.len() as u64 + 1,
                image_id,
                category_id: class as u64 + 1,
                bbox: [x, y, x1 - x, y1 - y],
                area: (x1 - x) * (y1 - y),
                iscrowd: 0,
                segmentation: vec![vec![x, y, x1, y, x1, y1, x, y1]],
                verdict: v.kind,
                source,
                annotator: v.annotator.clone(),
            });
        }
    }
    let file = CocoFile {
        info: CocoInfo {
            description: "Localisation audit exported by Lantern".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        images: images
            .iter()
            .map(|i| CocoImage {
                id: i.position as u64 + 1,
                file_name: i.file.clone(),
                width: i.width,
                height: i.height,
                lantern_id: i.id.clone(),
            })
            .collect(),
        annotations,
        categories: audit
            .classes()?
            .into_iter()
            .enumerate()
            .map(|(i, name)| CocoCategory { id: i as u64 + 1, name })
            .collect(),
    };
    Ok(CocoExport { file, without_class })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name() {
        for f in [ExportFormat::Csv, ExportFormat::Json, ExportFormat::Coco] {
            assert_eq!(f.to_string().to_uppercase().parse::<ExportFormat>(), Ok(f));
        }
        assert!("xlsx".parse::<ExportFormat>().unwrap_err().contains("choose csv, json or coco"));
    }

    #[test]
    fn boxes_read_as_space_separated_corners() {
        let b = [PixelBox { x0: 1, y0: 2, x1: 3, y1: 4 }, PixelBox { x0: 0, y0: 0, x1: 9, y1: 9 }];
        assert_eq!(boxes_text(&b), "1 2 3 4; 0 0 9 9");
        assert_eq!(boxes_text(&[]), "");
    }
}
