//! Summaries of an evaluation: per-method metrics (JSON and a Markdown table), the per-image CSV
//! and the plots (box accuracy against the CAM threshold, mean deletion and insertion curves,
//! pixel precision-recall curves).

use super::plots::{Series, curve_points, line_plot};
use super::{ImageResult, Protocol};
use crate::error::{LanternError, Result};
use crate::files::write_atomic;
use crate::map::BoxMode;
use crate::metrics::faithfulness::auc;
use crate::metrics::wsol::{BoxAccuracy, PixelPrecision, PrCurve, localization_accuracy};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// One method's metrics over the evaluated images (percentages unless noted).
#[derive(Debug, Clone, Serialize)]
pub struct MethodSummary {
    pub method: String,
    pub images: usize,
    /// MaxBoxAcc: largest region, IoU 0.5.
    pub max_box_acc: Option<f64>,
    /// MaxBoxAccV2 at IoU 0.3, 0.5, 0.7.
    pub max_box_acc_v2_at: Option<[f64; 3]>,
    /// MaxBoxAccV2: the mean of the three.
    pub max_box_acc_v2: Option<f64>,
    /// Index of the CAM threshold where MaxBoxAcc is reached.
    pub optimal_threshold: Option<f64>,
    pub gt_known_loc: Option<f64>,
    pub top1_loc: Option<f64>,
    pub pxap: Option<f64>,
    pub pointing_game: Option<f64>,
    /// Mean share of positive map mass inside the object (0 to 1).
    pub relevance_mass: Option<f64>,
    /// Mean deletion AUC (lower is better, 0 to 1).
    pub deletion_auc: Option<f64>,
    /// Mean insertion AUC (higher is better, 0 to 1).
    pub insertion_auc: Option<f64>,
    /// Mean time per image (`None` when the report leaves timings out: `--no-timing`).
    pub ms_per_image: Option<f64>,
    /// Box accuracy (V1, IoU 0.5) per CAM threshold, for the plot.
    #[serde(skip)]
    pub box_curve: Vec<f64>,
    #[serde(skip)]
    pub pr_curve: Option<PrCurve>,
    #[serde(skip)]
    pub mean_deletion: Vec<f32>,
    #[serde(skip)]
    pub mean_insertion: Vec<f32>,
}

/// What was evaluated and how, stated above the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub dataset: String,
    pub model: String,
    /// SHA-256 of the weights (of the bundled bytes for the demo classifier).
    pub model_sha256: String,
    pub layer: String,
    pub protocol: Protocol,
    /// The protocol in one sentence.
    pub protocol_description: String,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub header: Header,
    pub images: usize,
    /// Top-1 classification accuracy over images with a known class.
    pub classification_accuracy: Option<f64>,
    pub thresholds: Vec<f64>,
    pub methods: Vec<MethodSummary>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn mean_curve(curves: &[&Vec<f32>]) -> Vec<f32> {
    let Some(len) = curves.iter().map(|c| c.len()).min() else { return Vec::new() };
    (0..len).map(|i| curves.iter().map(|c| c[i]).sum::<f32>() / curves.len() as f32).collect()
}

/// Refuse rows measured on other CAM thresholds than `thresholds` (another `--interval`).
fn check_thresholds(results: &[ImageResult], thresholds: &[f64]) -> Result<()> {
    let n = thresholds.len();
    let bins = PixelPrecision::new(thresholds).foreground.len();
    let bad = results.iter().find(|r| {
        [(&r.v1_ious, n), (&r.v2_ious, n), (&r.foreground_hist, bins), (&r.background_hist, bins)]
            .iter()
            .any(|(v, want)| !v.is_empty() && v.len() != *want)
    });
    match bad {
        None => Ok(()),
        Some(r) => Err(LanternError::Mismatch(format!(
            "the result of {} with {} was measured on other CAM thresholds than the {n} of this report (another --interval)",
            r.id, r.method
        ))),
    }
}

/// Summarise `results` method by method, in `methods` order. Every result must have been
/// measured on `thresholds`.
pub fn summarize(results: &[ImageResult], methods: &[String], thresholds: &[f64], header: Header) -> Result<Summary> {
    check_thresholds(results, thresholds)?;
    let mut out = Vec::new();
    for method in methods {
        let rs: Vec<&ImageResult> = results.iter().filter(|r| &r.method == method).collect();
        let boxed: Vec<&&ImageResult> = rs.iter().filter(|r| !r.v1_ious.is_empty()).collect();
        let (mut max_box_acc, mut v2_at, mut v2, mut optimal, mut gt_known, mut top1) =
            (None, None, None, None, None, None);
        let mut box_curve = Vec::new();
        if !boxed.is_empty() {
            let mut a1 = BoxAccuracy::new(BoxMode::Largest, thresholds.to_vec(), vec![50]);
            let mut a2 = BoxAccuracy::v2(thresholds.to_vec());
            for r in &boxed {
                a1.add_ious(&r.v1_ious);
                a2.add_ious(&r.v2_ious);
            }
            let (best, at) = a1.max_accuracy(50);
            max_box_acc = Some(best);
            optimal = Some(thresholds[at]);
            box_curve = a1.curve(50);
            v2_at = Some([a2.max_accuracy(30).0, a2.max_accuracy(50).0, a2.max_accuracy(70).0]);
            v2 = Some(a2.mean_max_accuracy());
            let ious: Vec<Vec<f64>> = boxed.iter().map(|r| r.v1_ious.clone()).collect();
            let correct: Vec<bool> = boxed.iter().map(|r| r.class_correct() == Some(true)).collect();
            let (g, t) = localization_accuracy(&ious, &correct, at);
            gt_known = Some(g);
            top1 = Some(t);
        }
        let masked: Vec<&&ImageResult> = rs.iter().filter(|r| !r.foreground_hist.is_empty()).collect();
        let pr_curve = (!masked.is_empty())
            .then(|| {
                let mut p = PixelPrecision::new(thresholds);
                for r in &masked {
                    for (acc, v) in p.foreground.iter_mut().zip(&r.foreground_hist) {
                        *acc += v;
                    }
                    for (acc, v) in p.background.iter_mut().zip(&r.background_hist) {
                        *acc += v;
                    }
                }
                p.curve()
            })
            .flatten();
        let deletions: Vec<&Vec<f32>> = rs.iter().filter_map(|r| r.deletion.as_ref()).collect();
        let insertions: Vec<&Vec<f32>> = rs.iter().filter_map(|r| r.insertion.as_ref()).collect();
        out.push(MethodSummary {
            method: method.clone(),
            images: rs.len(),
            max_box_acc,
            max_box_acc_v2_at: v2_at,
            max_box_acc_v2: v2,
            optimal_threshold: optimal,
            gt_known_loc: gt_known,
            top1_loc: top1,
            pxap: pr_curve.as_ref().map(|c| c.pxap),
            pointing_game: mean(rs.iter().filter_map(|r| r.pointing_hit).map(|h| if h { 100.0 } else { 0.0 })),
            relevance_mass: mean(rs.iter().filter_map(|r| r.relevance_mass)),
            deletion_auc: mean(deletions.iter().map(|c| auc(c))),
            insertion_auc: mean(insertions.iter().map(|c| auc(c))),
            ms_per_image: Some(mean(rs.iter().map(|r| r.milliseconds)).unwrap_or(0.0)),
            box_curve,
            pr_curve,
            mean_deletion: mean_curve(&deletions),
            mean_insertion: mean_curve(&insertions),
        });
    }
    let first: Vec<&ImageResult> = results.iter().filter(|r| Some(&r.method) == methods.first()).collect();
    let known: Vec<&&ImageResult> = first.iter().filter(|r| r.class.is_some()).collect();
    Ok(Summary {
        header,
        images: first.len(),
        classification_accuracy: (!known.is_empty()).then(|| {
            known.iter().filter(|r| r.class_correct() == Some(true)).count() as f64 * 100.0 / known.len() as f64
        }),
        thresholds: thresholds.to_vec(),
        methods: out,
    })
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// The summary as a Markdown table.
pub fn markdown(s: &Summary) -> String {
    let h = &s.header;
    let mut md = format!(
        "Evaluation of `{}` (sha256 {}) on `{}` ({} images, layer `{}`); classification accuracy {}%.\n\nProtocol `{}`: {}.\n\n",
        h.model,
        &h.model_sha256[..h.model_sha256.len().min(12)],
        h.dataset,
        s.images,
        h.layer,
        cell(s.classification_accuracy, 1),
        h.protocol,
        h.protocol_description
    );
    md.push_str("| method | MaxBoxAcc | MaxBoxAccV2 (30/50/70) | GT-known loc | top-1 loc | PxAP | pointing | rel. mass | deletion AUC ↓ | insertion AUC ↑ | ms/image |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for m in &s.methods {
        let v2 = match (m.max_box_acc_v2, m.max_box_acc_v2_at) {
            (Some(v), Some(a)) => format!("{v:.1} ({:.1}/{:.1}/{:.1})", a[0], a[1], a[2]),
            _ => "-".into(),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            m.method,
            cell(m.max_box_acc, 1),
            v2,
            cell(m.gt_known_loc, 1),
            cell(m.top1_loc, 1),
            cell(m.pxap, 1),
            cell(m.pointing_game, 1),
            cell(m.relevance_mass, 3),
            cell(m.deletion_auc, 3),
            cell(m.insertion_auc, 3),
            cell(m.ms_per_image, 1)
        ));
    }
    md
}

/// One CSV row per (image, method); the `ms` column is left empty without `timing`.
pub fn write_csv(path: &Path, results: &[ImageResult], summary: &Summary, timing: bool) -> Result<()> {
    let mut text = String::from(
        "image,method,class,predicted,explained,max_iou_v1,iou_v1_at_optimal,max_iou_v2,pointing_hit,relevance_mass,deletion_auc,insertion_auc,ms\n",
    );
    let opt = |method: &str| {
        summary
            .methods
            .iter()
            .find(|m| m.method == method)
            .and_then(|m| m.optimal_threshold)
            .and_then(|t| summary.thresholds.iter().position(|&x| x == t))
    };
    let f = |v: Option<f64>| v.map_or_else(String::new, |x| format!("{x:.6}"));
    for r in results {
        let max = |v: &[f64]| (!v.is_empty()).then(|| v.iter().copied().fold(0.0, f64::max));
        let at_opt = opt(&r.method).and_then(|i| r.v1_ious.get(i).copied());
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.id),
            r.method,
            r.class.map_or_else(String::new, |c| c.to_string()),
            r.predicted,
            r.explained,
            f(max(&r.v1_ious)),
            f(at_opt),
            f(max(&r.v2_ious)),
            r.pointing_hit.map_or_else(String::new, |h| u8::from(h).to_string()),
            f(r.relevance_mass),
            f(r.deletion.as_deref().map(auc)),
            f(r.insertion.as_deref().map(auc)),
            if timing { format!("{:.2}", r.milliseconds) } else { String::new() }
        ));
    }
    write_atomic(path, |file| file.write_all(text.as_bytes()))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Write `summary.json`, `summary.md` and `per_image.csv` into `out` (the CSV's times only with
/// `timing`).
pub fn write_all(out: &Path, results: &[ImageResult], summary: &Summary, timing: bool) -> Result<()> {
    crate::files::write_json(&out.join("summary.json"), summary)?;
    let md = markdown(summary);
    write_atomic(&out.join("summary.md"), |f| f.write_all(md.as_bytes()))?;
    write_csv(&out.join("per_image.csv"), results, summary, timing)?;
    if summary.images == 0 {
        return Err(LanternError::BadArgument("no image was evaluated".into()));
    }
    Ok(())
}

/// The whole report of an evaluation, as both `lantern eval` and `lantern eval merge` write it:
/// the summary of `results` (in dataset order, then `methods` order: float sums depend on it),
/// `summary.json`, `summary.md`, `per_image.csv` and the plots in `out/plots`. Without `timing`
/// the times are left out (they are measured, so two runs never agree on them; every other byte
/// depends only on the rows). Returns the summary and the plot files.
pub fn write_report(
    out: &Path,
    results: &[ImageResult],
    methods: &[String],
    thresholds: &[f64],
    header: Header,
    timing: bool,
) -> Result<(Summary, Vec<std::path::PathBuf>)> {
    let mut summary = summarize(results, methods, thresholds, header)?;
    if !timing {
        for m in &mut summary.methods {
            m.ms_per_image = None;
        }
    }
    write_all(out, results, &summary, timing)?;
    let plots = write_plots(&out.join("plots"), &summary)?;
    Ok((summary, plots))
}

/// Write every plot the summary has data for into `dir`; returns the files written.
pub fn write_plots(dir: &Path, s: &Summary) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| LanternError::io(dir, e))?;
    let mut written = Vec::new();
    let boxes: Vec<Series> = s
        .methods
        .iter()
        .filter(|m| !m.box_curve.is_empty())
        .map(|m| Series {
            name: m.method.clone(),
            points: s.thresholds.iter().copied().zip(m.box_curve.iter().copied()).collect(),
        })
        .collect();
    if !boxes.is_empty() {
        let p = dir.join("box_accuracy.png");
        line_plot(&p, "Box accuracy (IoU >= 0.5, largest region)", "CAM threshold", "accuracy (%)", 100.0, &boxes)?;
        written.push(p);
    }
    let pr: Vec<Series> = s
        .methods
        .iter()
        .filter_map(|m| {
            let c = m.pr_curve.as_ref()?;
            let points =
                c.recall.iter().zip(&c.precision).filter(|(_, p)| !p.is_nan()).map(|(&r, &p)| (r, p)).collect();
            Some(Series { name: format!("{} (PxAP {:.1})", m.method, c.pxap), points })
        })
        .collect();
    if !pr.is_empty() {
        let p = dir.join("pixel_precision_recall.png");
        line_plot(&p, "Pixel precision-recall", "recall", "precision", 1.0, &pr)?;
        written.push(p);
    }
    for (name, title, pick) in [
        ("deletion.png", "Deletion: class probability as salient pixels are removed", 0),
        ("insertion.png", "Insertion: class probability as salient pixels are restored", 1),
    ] {
        let series: Vec<Series> = s
            .methods
            .iter()
            .filter_map(|m| {
                let (curve, auc) =
                    if pick == 0 { (&m.mean_deletion, m.deletion_auc) } else { (&m.mean_insertion, m.insertion_auc) };
                (!curve.is_empty()).then(|| Series {
                    name: format!("{} (AUC {:.3})", m.method, auc.unwrap_or(0.0)),
                    points: curve_points(curve),
                })
            })
            .collect();
        if !series.is_empty() {
            let p = dir.join(name);
            line_plot(&p, title, "fraction of pixels", "probability", 1.0, &series)?;
            written.push(p);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::wsol::cam_thresholds;

    fn header() -> Header {
        Header {
            dataset: "d".into(),
            model: "m".into(),
            model_sha256: "ab".into(),
            layer: "l".into(),
            protocol: Protocol::Wsol,
            protocol_description: "wsolevaluation's".into(),
        }
    }

    fn row(id: &str, class: Option<usize>, predicted: usize, explained: usize, interval: f64, iou: f64) -> ImageResult {
        let n = cam_thresholds(interval).len();
        ImageResult {
            id: id.into(),
            method: "cam".into(),
            class,
            predicted,
            explained,
            v1_ious: vec![iou; n],
            v2_ious: vec![iou; n],
            foreground_hist: Vec::new(),
            background_hist: Vec::new(),
            pointing_hit: None,
            relevance_mass: None,
            deletion: None,
            insertion: None,
            milliseconds: 1.0,
            settings: String::new(),
        }
    }

    #[test]
    fn rows_of_another_interval_are_an_error_not_a_panic() {
        let methods = ["cam".to_string()];
        let finer = [row("a", Some(0), 0, 0, 0.01, 0.6)];
        let coarse = cam_thresholds(0.05);
        let e = summarize(&finer, &methods, &coarse, header()).unwrap_err().to_string();
        assert!(e.contains("--interval"), "{e}");
        let coarser = [row("a", Some(0), 0, 0, 0.1, 0.6)];
        assert!(summarize(&coarser, &methods, &coarse, header()).is_err());
    }

    #[test]
    fn class_correctness_is_judged_in_the_models_numbering() {
        // Dataset class 7 maps to model class 3: predicting 3 is right, 7 is wrong.
        let t = cam_thresholds(0.01);
        let rows =
            [row("a", Some(7), 3, 3, 0.01, 0.6), row("b", Some(7), 7, 3, 0.01, 0.6), row("c", None, 1, 1, 0.01, 0.6)];
        let s = summarize(&rows, &["cam".to_string()], &t, header()).unwrap();
        assert_eq!(s.classification_accuracy, Some(50.0));
        let m = &s.methods[0];
        assert_eq!((m.gt_known_loc, m.top1_loc), (Some(100.0), Some(100.0 / 3.0)));
        let md = markdown(&s);
        assert!(md.contains("Protocol `wsol`: wsolevaluation's."), "{md}");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["protocol"], "wsol");
        assert_eq!(json["dataset"], "d");
    }
}
