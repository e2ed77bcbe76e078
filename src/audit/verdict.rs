//! One annotator's decision about one image: the verdict, the predicted boxes it judged, an
//! optional corrected box and a comment.
//!
//! Boxes are [`PixelBox`]es: whole pixel corners, both inclusive (`x0 <= x1`, `y0 <= y1`), the
//! convention of the dataset readers and of wsolevaluation's IoU. In the store and the exports a
//! box is the array `[x0, y0, x1, y1]`.

use crate::map::PixelBox;
use serde::{Deserialize, Serialize};
use std::fmt;

crate::names::named_enum! {
    /// What the annotator decided about the predicted localisation of an image.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum VerdictKind ("verdict") {
        /// The predicted boxes localise the object.
        Accept = "accept",
        /// They do not (a corrected box may say where the object is).
        Reject = "reject",
        /// Needs a second look (ambiguous ground truth, several objects, a bad image).
        Flag = "flag",
    }
}

/// The row id of a committed verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VerdictId(pub i64);

impl fmt::Display for VerdictId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A verdict about to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVerdict {
    pub image_id: String,
    pub kind: VerdictKind,
    /// Who decided; `None` records it under the audit's annotator.
    pub annotator: Option<String>,
    /// IoU of the best-matching predicted box with the ground truth, in `[0, 1]`.
    pub iou: Option<f64>,
    /// The class the model predicted.
    pub predicted_class: Option<usize>,
    /// The boxes the annotator judged (at the audit's threshold).
    pub predicted_boxes: Vec<PixelBox>,
    /// Where the object really is, drawn by the annotator.
    pub corrected_box: Option<PixelBox>,
    pub comment: String,
}

impl NewVerdict {
    /// A bare verdict: no IoU, boxes, class or comment.
    pub fn new(image_id: impl Into<String>, kind: VerdictKind) -> Self {
        Self {
            image_id: image_id.into(),
            kind,
            annotator: None,
            iou: None,
            predicted_class: None,
            predicted_boxes: Vec::new(),
            corrected_box: None,
            comment: String::new(),
        }
    }
}

/// A verdict as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub id: VerdictId,
    /// UTC time of the commit, RFC 3339 with milliseconds.
    pub time: String,
    pub annotator: String,
    pub image_id: String,
    #[serde(rename = "verdict")]
    pub kind: VerdictKind,
    pub iou: Option<f64>,
    pub predicted_class: Option<usize>,
    #[serde(serialize_with = "serialize_boxes")]
    pub predicted_boxes: Vec<PixelBox>,
    #[serde(serialize_with = "serialize_box")]
    pub corrected_box: Option<PixelBox>,
    pub comment: String,
}

/// A box's corners as `[x0, y0, x1, y1]`.
pub fn corners(b: &PixelBox) -> [u32; 4] {
    [b.x0, b.y0, b.x1, b.y1]
}

/// A box from `[x0, y0, x1, y1]`, if the corners are ordered.
pub fn from_corners(c: [u32; 4]) -> Option<PixelBox> {
    (c[0] <= c[2] && c[1] <= c[3]).then_some(PixelBox { x0: c[0], y0: c[1], x1: c[2], y1: c[3] })
}

/// Parse `x0,y0,x1,y1`: four whole, non-negative pixel coordinates, corners inclusive, with
/// `x0 <= x1` and `y0 <= y1`.
pub fn parse_box(text: &str) -> Result<PixelBox, String> {
    let bad = |why: &str| {
        format!("malformed box '{text}': {why} (expected x0,y0,x1,y1: four whole pixel coordinates, corners inclusive)")
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != 4 {
        return Err(bad(&format!("{} numbers instead of 4", parts.len())));
    }
    let mut c = [0u32; 4];
    for (slot, part) in c.iter_mut().zip(&parts) {
        *slot = part.parse().map_err(|_| bad(&format!("'{part}' is not a whole non-negative number")))?;
    }
    from_corners(c).ok_or_else(|| bad("x0 > x1 or y0 > y1"))
}

/// Boxes as the JSON text stored in the file (the web build stores none): `[[x0,y0,x1,y1], ...]`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn boxes_to_json(boxes: &[PixelBox]) -> String {
    serde_json::to_string(&boxes.iter().map(corners).collect::<Vec<_>>()).expect("integers serialise")
}

/// The inverse of [`boxes_to_json`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn boxes_from_json(text: &str) -> Result<Vec<PixelBox>, String> {
    let raw: Vec<[u32; 4]> = serde_json::from_str(text).map_err(|e| format!("stored boxes '{text}': {e}"))?;
    raw.into_iter().map(checked_corners).collect()
}

/// One box as stored: `[x0,y0,x1,y1]`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn box_to_json(b: &PixelBox) -> String {
    serde_json::to_string(&corners(b)).expect("integers serialise")
}

/// The inverse of [`box_to_json`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn box_from_json(text: &str) -> Result<PixelBox, String> {
    checked_corners(serde_json::from_str(text).map_err(|e| format!("stored box '{text}': {e}"))?)
}

#[cfg(not(target_arch = "wasm32"))]
fn checked_corners(c: [u32; 4]) -> Result<PixelBox, String> {
    from_corners(c).ok_or_else(|| format!("stored box {c:?} has x0 > x1 or y0 > y1"))
}

pub(crate) fn serialize_boxes<S: serde::Serializer>(boxes: &[PixelBox], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(boxes.iter().map(corners))
}

fn serialize_box<S: serde::Serializer>(b: &Option<PixelBox>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.serialize_some(&corners(b)),
        None => s.serialize_none(),
    }
}

/// A trimmed, non-empty annotator name.
pub(crate) fn checked_annotator(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(format!("annotator name '{name}' must be non-empty and printable"));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_boxes_with_spaces_and_rejects_malformed_ones() {
        assert_eq!(parse_box("1,2,30,40"), Ok(PixelBox { x0: 1, y0: 2, x1: 30, y1: 40 }));
        assert_eq!(parse_box(" 5, 5 ,5,5 "), Ok(PixelBox { x0: 5, y0: 5, x1: 5, y1: 5 }), "a one-pixel box");
        for (text, needle) in [
            ("1,2,3", "3 numbers"),
            ("1,2,3,4,5", "5 numbers"),
            ("1,2,x,4", "'x'"),
            ("-1,2,3,4", "'-1'"),
            ("1.5,2,3,4", "'1.5'"),
            ("10,2,3,4", "x0 > x1"),
            ("1,20,3,4", "x0 > x1 or y0 > y1"),
            ("", "1 numbers"),
        ] {
            let err = parse_box(text).expect_err(text);
            assert!(err.contains(needle) && err.contains("malformed box"), "{text}: {err}");
        }
    }

    #[test]
    fn verdict_names_round_trip() {
        for &k in VerdictKind::ALL {
            assert_eq!(k.as_str().parse::<VerdictKind>(), Ok(k));
            assert_eq!(k.as_str().to_uppercase().parse::<VerdictKind>(), Ok(k));
        }
        assert!("maybe".parse::<VerdictKind>().unwrap_err().contains("choose accept, reject or flag"));
    }

    #[test]
    fn stored_boxes_round_trip_and_bad_ones_are_reported() {
        let boxes = vec![PixelBox { x0: 0, y0: 1, x1: 2, y1: 3 }, PixelBox { x0: 4, y0: 4, x1: 9, y1: 8 }];
        let text = boxes_to_json(&boxes);
        assert_eq!(text, "[[0,1,2,3],[4,4,9,8]]");
        assert_eq!(boxes_from_json(&text), Ok(boxes));
        assert!(boxes_from_json("[[3,0,1,1]]").unwrap_err().contains("x0 > x1"));
        assert!(boxes_from_json("{}").is_err());
        assert_eq!(
            box_from_json(&box_to_json(&PixelBox { x0: 7, y0: 0, x1: 7, y1: 2 })),
            Ok(PixelBox { x0: 7, y0: 0, x1: 7, y1: 2 })
        );
        assert!(box_from_json("[1,2,3]").is_err());
    }
}
