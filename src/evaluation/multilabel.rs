//! Multi-label evaluation on the multi-label procedural benchmark ([`synth_multi`]): mAP over
//! the labels (scikit-learn's `average_precision_score`, macro, on the model's scores) and, per
//! label, MaxBoxAccV2 (Choe et al., CVPR 2020) of the CAM of that label on the images where it
//! is present, against that object's box.
//!
//! Images are generated at the model's input side, so maps and boxes share one grid.

use crate::control::Control;
use crate::datasets::synth::SHAPES;
use crate::datasets::synth_multi;
use crate::error::{LanternError, Result};
use crate::explain::{self, Method, Objective};
use crate::metrics::average_precision::mean_average_precision;
use crate::metrics::wsol::{BoxAccuracy, cam_thresholds};
use crate::models::Network;
use serde::{Deserialize, Serialize};

/// The CAM threshold step of MaxBoxAccV2 (wsolevaluation's `cam_curve_interval`).
const CAM_INTERVAL: f64 = 0.01;

/// One label's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScores {
    pub label: String,
    /// Average precision, percent.
    pub ap: f64,
    /// MaxBoxAccV2 of the label's CAM on the images that contain it, percent.
    pub max_box_acc_v2: f64,
    /// Test images that contain the label.
    pub images: usize,
}

/// A multi-label model on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiLabelReport {
    pub seed: u64,
    pub images: usize,
    /// Mean of the per-label APs, percent.
    pub map: f64,
    /// Mean of the per-label MaxBoxAccV2, percent.
    pub max_box_acc_v2: f64,
    pub labels: Vec<LabelScores>,
}

/// Evaluate `net` on `count` fully labelled images of the `seed` split; `control` reports
/// progress per image and cancels between images.
pub fn evaluate(net: &Network, seed: u64, count: usize, control: &mut Control) -> Result<MultiLabelReport> {
    let classes = net.classes();
    if classes != SHAPES.len() {
        return Err(LanternError::Mismatch(format!(
            "the multi-label benchmark has {} labels but the model gives {classes}",
            SHAPES.len()
        )));
    }
    if count == 0 {
        return Err(LanternError::BadArgument("the test split needs at least one image".into()));
    }
    let layer = explain::cam_layer(net)
        .ok_or_else(|| LanternError::Mismatch("per-label CAMs need a global-average-pool + linear head".into()))?
        .to_string();
    let side = net.preprocess.crop;
    let device = net.device();
    let mut scores = Vec::with_capacity(count * classes);
    let mut truth = Vec::with_capacity(count * classes);
    let mut boxes: Vec<BoxAccuracy> = (0..classes).map(|_| BoxAccuracy::v2(cam_thresholds(CAM_INTERVAL))).collect();
    for i in 0..count {
        control.check()?;
        let sample = synth_multi::generate(seed, i as u64, side);
        let x = net.preprocess.tensor(&sample.image, &device);
        let acts = explain::activations(net, x, &layer)?;
        scores.extend_from_slice(&acts.logits);
        let labels = sample.labels();
        truth.extend((0..classes).map(|c| labels.contains(&c)));
        for object in &sample.objects {
            let c = object.attributes.shape;
            let e = explain::explain(net, &acts, Method::Cam, Objective::Class(c))?;
            boxes[c].add(&e.map, &[object.bbox]);
        }
        control.report(i + 1, count, None);
    }
    let (map, per_label) = mean_average_precision(&scores, &truth, classes);
    let labels: Vec<LabelScores> = (0..classes)
        .map(|c| LabelScores {
            label: SHAPES[c].to_string(),
            ap: per_label[c] * 100.0,
            max_box_acc_v2: boxes[c].mean_max_accuracy(),
            images: boxes[c].images as usize,
        })
        .collect();
    let max_box_acc_v2 = labels.iter().map(|l| l.max_box_acc_v2).sum::<f64>() / classes as f64;
    Ok(MultiLabelReport { seed, images: count, map: map * 100.0, max_box_acc_v2, labels })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn reports_every_label_and_refuses_a_model_of_other_classes() {
        let device = Device::flex();
        // The demo classifier has the benchmark's six shapes as classes; read as multi-label.
        let mut net = crate::models::demo::network(&device).unwrap();
        net.output = crate::models::OutputKind::Sigmoid;
        let r = evaluate(&net, 5, 12, &mut Control::none()).unwrap();
        assert_eq!(r.labels.len(), SHAPES.len());
        assert_eq!(r.images, 12);
        let present: usize = r.labels.iter().map(|l| l.images).sum();
        assert!(present >= 12, "every image has at least one label: {present}");
        assert!(r.labels.iter().all(|l| (0.0..=100.0).contains(&l.ap) && (0.0..=100.0).contains(&l.max_box_acc_v2)));
        assert!(r.map > 30.0, "the single-label demo model still ranks its shapes: {}", r.map);
        let mean = r.labels.iter().map(|l| l.ap).sum::<f64>() / 6.0;
        assert!((mean - r.map).abs() < 1e-9);
        assert!(evaluate(&net, 5, 0, &mut Control::none()).is_err());
    }
}
