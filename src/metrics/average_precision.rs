//! Average precision of a ranking, as scikit-learn's `average_precision_score` computes it, and
//! its mean over the labels of a multi-label problem (mAP, `average="macro"`), the measure of the
//! partial-label literature (Cole et al., CVPR 2021; Kim et al., CVPR 2023).
//!
//! `AP = sum_n (R_n - R_{n-1}) P_n` over the distinct scores taken as thresholds from the highest
//! down, `P_n` and `R_n` the precision and recall of the items scoring at least the `n`-th
//! threshold: tied scores enter together (no interpolation). A label without a positive item
//! has AP 0, as in scikit-learn (which warns) and in the authors' code.

/// AP of `scores` against `truth` (one flag per item).
///
/// # Panics
/// When the lengths differ (a programming error).
pub fn average_precision(scores: &[f32], truth: &[bool]) -> f64 {
    assert_eq!(scores.len(), truth.len(), "one truth flag per score");
    let positives = truth.iter().filter(|&&t| t).count();
    if positives == 0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut recall_before = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < order.len() {
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            if truth[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let recall = tp as f64 / positives as f64;
        ap += (recall - recall_before) * tp as f64 / (tp + fp) as f64;
        recall_before = recall;
    }
    ap
}

/// AP of every label and their mean (mAP), both in `[0, 1]`. `scores` and `truth` are row-major
/// `[items, labels]`.
///
/// # Panics
/// When the lengths differ or are not a multiple of `labels` (a programming error).
pub fn mean_average_precision(scores: &[f32], truth: &[bool], labels: usize) -> (f64, Vec<f64>) {
    assert!(
        labels > 0 && scores.len() == truth.len() && scores.len().is_multiple_of(labels),
        "[items, labels] scores and truth"
    );
    let per_label: Vec<f64> = (0..labels)
        .map(|c| {
            let s: Vec<f32> = scores.iter().skip(c).step_by(labels).copied().collect();
            let t: Vec<bool> = truth.iter().skip(c).step_by(labels).copied().collect();
            average_precision(&s, &t)
        })
        .collect();
    let mean = per_label.iter().sum::<f64>() / labels as f64;
    (mean, per_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_rankings() {
        // Ranks: +, -, + -> P at the positives 1 and 2/3, recall steps 1/2: AP = (1 + 2/3) / 2.
        assert!((average_precision(&[0.9, 0.8, 0.7], &[true, false, true]) - 5.0 / 6.0).abs() < 1e-12);
        // A perfect ranking is 1, whatever the scale.
        assert_eq!(average_precision(&[3.0, 2.0, -1.0], &[true, true, false]), 1.0);
        // One tie between a positive and a negative at the top: both enter at once, P = 1/2.
        assert!((average_precision(&[0.5, 0.5, 0.1], &[true, false, false]) - 0.5).abs() < 1e-12);
        assert_eq!(average_precision(&[0.5, 0.2], &[false, false]), 0.0);
        let (map, per) =
            mean_average_precision(&[0.9, 0.1, 0.8, 0.2, 0.7, 0.3], &[true, false, false, false, true, true], 2);
        assert!((per[0] - 5.0 / 6.0).abs() < 1e-12 && (per[1] - 1.0).abs() < 1e-12);
        assert!((map - (5.0 / 6.0 + 1.0) / 2.0).abs() < 1e-12);
    }
}
