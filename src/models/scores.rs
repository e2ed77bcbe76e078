//! Turning a model's output row into scores: softmax and sigmoid probabilities, the top classes,
//! and how the output is read ([`OutputKind`]).

use serde::{Deserialize, Serialize};

/// How a model's output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OutputKind {
    /// Logits of mutually exclusive classes: probabilities are their softmax.
    #[default]
    Softmax,
    /// Logits of independent labels (multi-label): each probability is a sigmoid.
    Sigmoid,
    /// An embedding, compared by cosine similarity.
    Embedding,
}

impl OutputKind {
    /// Per-output probabilities of `logits` (for an embedding, the sigmoid of each value).
    pub fn probabilities(self, logits: &[f32]) -> Vec<f32> {
        match self {
            OutputKind::Softmax => softmax(logits),
            OutputKind::Sigmoid | OutputKind::Embedding => logits.iter().map(|&l| sigmoid(l)).collect(),
        }
    }
}

/// Softmax of logits (max-shifted for stability).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// `1 / (1 + e^-x)`, computed without overflow for large `|x|`.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The `k` most probable classes of softmax logits as `(class, probability)`, most probable first.
pub fn top_k(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    ranked(&softmax(logits), k)
}

/// The `k` largest of `probs` as `(index, probability)`, largest first (ties by index).
pub fn ranked(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order.into_iter().take(k).map(|c| (c, probs[c])).collect()
}

/// The labels a multi-label model finds present: those whose probability is at least
/// `threshold`, most probable first (ties by index).
pub fn present(probs: &[f32], threshold: f32) -> Vec<(usize, f32)> {
    ranked(probs, probs.len()).into_iter().take_while(|&(_, p)| p >= threshold).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_top_k() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let top = top_k(&[1.0, 3.0, 2.0], 2);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(top[0].1 > top[1].1);
    }

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(3.0) + sigmoid(-3.0) - 1.0).abs() < 1e-7);
        assert_eq!(sigmoid(-200.0), 0.0);
        assert_eq!(sigmoid(200.0), 1.0);
        assert_eq!(OutputKind::Sigmoid.probabilities(&[0.0, 0.0]), vec![0.5, 0.5]);
    }

    #[test]
    fn present_labels_are_those_at_or_above_the_threshold_most_probable_first() {
        assert_eq!(present(&[0.2, 0.9, 0.5, 0.7], 0.5), vec![(1, 0.9), (3, 0.7), (2, 0.5)]);
        assert!(present(&[0.2, 0.1], 0.5).is_empty());
    }
}
