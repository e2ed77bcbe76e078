//! Input-space attributions (one value per pixel and channel) and how they become a
//! [`WeightMap`]: reduce the channels, then scale as Captum's `visualize_image_attr` does, by the
//! value at which the sorted magnitudes reach 98 % of their total (2 % outliers clipped to 1).

use super::params::Reduction;
use crate::map::WeightMap;

/// A `[C, H, W]` attribution of the model input.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl Attribution {
    fn plane(&self) -> usize {
        self.height * self.width
    }

    /// One value per pixel, by `reduction`.
    pub fn reduce(&self, reduction: Reduction) -> Vec<f32> {
        let plane = self.plane();
        (0..plane)
            .map(|i| {
                let at = |c: usize| self.values[c * plane + i];
                match reduction {
                    Reduction::MaxAbsolute => (0..self.channels).map(|c| at(c).abs()).fold(0.0, f32::max),
                    _ => {
                        let sum: f32 = (0..self.channels).map(at).sum();
                        match reduction {
                            Reduction::AbsoluteSum => sum.abs(),
                            Reduction::PositiveSum => sum.max(0.0),
                            _ => (-sum).max(0.0),
                        }
                    }
                }
            })
            .collect()
    }

    /// The reduced attribution scaled to `[0, 1]` by Captum's 98 % cumulative-sum threshold.
    pub fn to_map(&self, reduction: Reduction) -> WeightMap {
        let mut values = self.reduce(reduction);
        let threshold = cumulative_sum_threshold(&values, 98.0);
        if threshold > 0.0 {
            for v in &mut values {
                *v = (*v / threshold).clamp(0.0, 1.0);
            }
        }
        WeightMap::new(self.width, self.height, values)
    }
}

/// Captum's `_cumulative_sum_threshold`: the smallest sorted value at which the running sum
/// reaches `percentile` % of the total.
pub fn cumulative_sum_threshold(values: &[f32], percentile: f64) -> f32 {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f32::total_cmp);
    let total: f64 = sorted.iter().map(|&v| f64::from(v)).sum();
    let target = total * 0.01 * percentile;
    let mut running = 0.0f64;
    for &v in &sorted {
        running += f64::from(v);
        if running >= target {
            return v;
        }
    }
    sorted.last().copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_and_scaling() {
        let a = Attribution { channels: 2, height: 1, width: 3, values: vec![1.0, -2.0, 0.5, 1.0, 1.0, -3.0] };
        assert_eq!(a.reduce(Reduction::AbsoluteSum), vec![2.0, 1.0, 2.5]);
        assert_eq!(a.reduce(Reduction::PositiveSum), vec![2.0, 0.0, 0.0]);
        assert_eq!(a.reduce(Reduction::NegativeSum), vec![0.0, 1.0, 2.5]);
        assert_eq!(a.reduce(Reduction::MaxAbsolute), vec![1.0, 2.0, 3.0]);
        // Sorted [1, 2, 2.5], total 5.5, 98 % = 5.39 is reached at 2.5.
        assert_eq!(cumulative_sum_threshold(&[2.0, 1.0, 2.5], 98.0), 2.5);
        let m = a.to_map(Reduction::AbsoluteSum);
        assert_eq!(m.values, vec![0.8, 0.4, 1.0]);
    }
}
