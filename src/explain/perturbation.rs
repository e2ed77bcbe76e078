//! Black-box attributions: the model is only run, never differentiated. Perturbed inputs are
//! built on the host and run in batches of `batch` images; partial maps are handed out as
//! batches complete.

use super::attribution::Attribution;
use super::gradients::baseline_tensor;
use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec, Output, Run};
use super::objective::Objective;
use super::params::{BASELINE, CELLS, KEEP, MASKS, REDUCTION, Reduction, STRIDE, TOLERANCE, WINDOW};
use crate::control::Control;
use crate::error::Result;
use crate::map::WeightMap;
use crate::models::network::host_values;
use crate::models::{Network, OutputKind};
use crate::seeded::Rng;
use burn::tensor::Tensor;

pub const OCCLUSION: MethodSpec = MethodSpec {
    long: true,
    params: &[WINDOW, STRIDE, BASELINE, REDUCTION],
    ..MethodSpec::new(
        About {
            name: "occlusion",
            title: "Occlusion",
            formula: "mean drop of S when a window around the pixel is replaced",
            paper: "Zeiler & Fergus, ECCV 2014",
        },
        Mechanism {
            family: Family::Perturbation,
            layer: LayerUse::None,
            gradients: false,
            entry: Entry::Input(run_occlusion),
        },
    )
};

pub const RISE: MethodSpec = MethodSpec {
    name: "rise",
    title: "RISE",
    formula: "sum_i P(x * M_i) M_i / (N p) over random masks",
    paper: "Petsiuk et al., BMVC 2018",
    params: &[MASKS, CELLS, KEEP],
    entry: Entry::Input(run_rise),
    ..OCCLUSION
};

/// RISE that stops early: an approximation, never the default.
pub const RISE_EARLY_STOP: MethodSpec = MethodSpec {
    name: "rise-early-stop",
    title: "RISE, early stop (approximate)",
    formula: "RISE's sum over masks, stopped once the normalised map changes by less than the tolerance per batch, twice in a row",
    params: &[MASKS, CELLS, KEEP, TOLERANCE],
    approximate: true,
    entry: Entry::Input(run_rise_early_stop),
    ..RISE
};

fn run_occlusion(run: &mut Run<'_, '_>) -> Result<Output> {
    let (net, x, p) = (run.session.network(), run.session.input(), run.params);
    let b = baseline_tensor(&p.baseline, x, net.preprocess.mean, net.preprocess.std);
    let options = OcclusionOptions { window: p.occlusion_window, stride: p.occlusion_stride, batch: p.batch };
    let a = occlusion(net, x, &b, run.objective, options, run.control)?;
    Ok(Output { map: a.to_map(p.reduction), attribution: Some(a), forward_ms: 0.0, approximation: None })
}

fn run_rise(run: &mut Run<'_, '_>) -> Result<Output> {
    let (net, x, p) = (run.session.network(), run.session.input(), run.params);
    let [_, _, h, w] = x.dims();
    let masks = RiseMasks::generate(p.rise_masks, p.rise_cells, p.rise_keep, h, w, p.seed);
    let (mut map, _) = rise(net, x, &masks, run.objective, p.batch, run.control)?;
    map.normalize();
    Ok(Output { map, attribution: None, forward_ms: 0.0, approximation: None })
}

fn run_rise_early_stop(run: &mut Run<'_, '_>) -> Result<Output> {
    let (net, x, p) = (run.session.network(), run.session.input(), run.params);
    let [_, _, h, w] = x.dims();
    let masks = RiseMasks::generate(p.rise_masks, p.rise_cells, p.rise_keep, h, w, p.seed);
    let (mut map, scores) = rise_until(net, x, &masks, run.objective, p.batch, Some(p.rise_tolerance), run.control)?;
    map.normalize();
    let stopped = scores.len() < masks.len();
    let note = stopped.then(|| {
        format!(
            "stopped after {} of {} masks (map change under {} per batch)",
            scores.len(),
            masks.len(),
            p.rise_tolerance
        )
    });
    Ok(Output { map, attribution: None, forward_ms: 0.0, approximation: note })
}

/// The objective's score `S` for a batch of `n` images given as host values.
fn scores(
    net: &Network,
    values: Vec<f32>,
    n: usize,
    shape: [usize; 3],
    objective: &Objective,
    device: &burn::tensor::Device,
) -> Vec<f32> {
    let [c, h, w] = shape;
    let output = net.forward_values(values, [n, c, h, w], device);
    host_values(objective.score(output))
}

/// Window offsets along an axis of length `len`: `0, stride, ...`, `ceil((len - window) / stride) + 1`
/// of them, as Captum's `Occlusion` places them.
fn offsets(len: usize, window: usize, stride: usize) -> Vec<usize> {
    let count = if len > window { (len - window).div_ceil(stride) + 1 } else { 1 };
    (0..count).map(|i| i * stride).collect()
}

/// Occlusion's settings, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcclusionOptions {
    /// Side of the square replaced by the baseline.
    pub window: usize,
    /// Step between windows.
    pub stride: usize,
    /// Images per model pass.
    pub batch: usize,
}

/// The batch of masked inputs `x * M_i + b * (1 - M_i)` for `masks` (each `h * w` values, applied
/// to every channel): `image` and `baseline` are `channels * h * w` host values; without a
/// baseline, `x * M_i` (zero in normalised input is the dataset mean). The one place masked
/// inputs are built: RISE, occlusion, feature ablation and the similarity methods.
pub fn masked_batch(image: &[f32], baseline: Option<&[f32]>, masks: &[Vec<f32>], channels: usize) -> Vec<f32> {
    let plane = image.len() / channels.max(1);
    let mut values = Vec::with_capacity(masks.len() * image.len());
    for m in masks {
        for ch in 0..channels {
            let x = &image[ch * plane..(ch + 1) * plane];
            match baseline {
                None => values.extend(x.iter().zip(m).map(|(v, k)| v * k)),
                Some(b) => values.extend(
                    x.iter().zip(&b[ch * plane..(ch + 1) * plane]).zip(m).map(|((v, b), k)| v * k + b * (1.0 - k)),
                ),
            }
        }
    }
    values
}

/// Occlusion (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014),
/// as Captum computes it: every `window x window` patch (all channels) is replaced by the
/// baseline; a pixel's attribution is the mean drop `S(x) - S(x_occluded)` over the windows that
/// cover it.
pub fn occlusion(
    net: &Network,
    x: &Tensor<4>,
    baseline: &Tensor<4>,
    objective: impl Into<Objective>,
    options: OcclusionOptions,
    control: &mut Control,
) -> Result<Attribution> {
    let OcclusionOptions { window, stride, batch } = options;
    let objective = objective.into();
    let [_, c, h, w] = x.dims();
    let device = x.device();
    let (window, stride, batch) = (window.max(1), stride.max(1), batch.max(1));
    let image = host_values(x.clone());
    let base = host_values(baseline.clone());
    let plane = h * w;
    let reference = scores(net, image.clone(), 1, [c, h, w], &objective, &device)[0];
    let windows: Vec<(usize, usize)> = offsets(h, window, stride)
        .into_iter()
        .flat_map(|r| offsets(w, window, stride).into_iter().map(move |q| (r, q)))
        .collect();
    let mut total = vec![0.0f32; plane];
    let mut count = vec![0.0f32; plane];
    let cover = |&(r, q): &(usize, usize)| {
        (r..(r + window).min(h)).flat_map(move |y| (q..(q + window).min(w)).map(move |x| y * w + x))
    };
    for start in (0..windows.len()).step_by(batch) {
        control.check()?;
        let chunk = &windows[start..(start + batch).min(windows.len())];
        let masks: Vec<Vec<f32>> = chunk
            .iter()
            .map(|win| {
                let mut m = vec![1.0f32; plane];
                cover(win).for_each(|p| m[p] = 0.0);
                m
            })
            .collect();
        let values = masked_batch(&image, Some(&base), &masks, c);
        let drops = scores(net, values, chunk.len(), [c, h, w], &objective, &device);
        for (win, s) in chunk.iter().zip(drops) {
            for p in cover(win) {
                total[p] += reference - s;
                count[p] += 1.0;
            }
        }
        let done = start + chunk.len();
        if control.wants_partials() {
            let partial = averaged(&total, &count, c, h, w).to_map(Reduction::AbsoluteSum);
            control.report(done, windows.len(), Some(&partial));
        } else {
            control.report(done, windows.len(), None);
        }
    }
    Ok(averaged(&total, &count, c, h, w))
}

fn averaged(total: &[f32], count: &[f32], c: usize, h: usize, w: usize) -> Attribution {
    let plane: Vec<f32> = total.iter().zip(count).map(|(t, n)| if *n > 0.0 { t / n } else { 0.0 }).collect();
    Attribution { channels: c, height: h, width: w, values: plane.repeat(c) }
}

/// RISE's random masks (Petsiuk et al., BMVC 2018, and their code): a binary `cells x cells` grid
/// with cells kept with probability `keep`, bilinearly upsampled (mirror edges, half-pixel centres)
/// to `(cells + 1) * ceil(size / cells)` and cropped at a random shift below one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct RiseMasks {
    pub height: usize,
    pub width: usize,
    pub cells: usize,
    pub keep: f32,
    /// Row-major `cells x cells` grids of 0/1.
    pub grids: Vec<Vec<u8>>,
    /// `(row, column)` shift of each mask's crop.
    pub shifts: Vec<(usize, usize)>,
}

/// One axis of the upsampling: for output index `k`, the two source taps and their weights.
/// SciPy's `zoom(order=1, mode='mirror', grid_mode=True)`, which scikit-image's `resize` calls.
fn mirror_taps(n: usize, m: usize) -> Vec<(usize, usize, f64, f64)> {
    let zoom = n as f64 / m as f64;
    (0..m)
        .map(|k| {
            let mut cc = (k as f64 + 0.5) * zoom - 0.5;
            if cc < 0.0 {
                cc = -cc;
            }
            let i0 = cc.floor() as usize;
            let t = cc - i0 as f64;
            let w0 = 1.0 - t;
            let mut i1 = i0 + 1;
            if i1 > n - 1 {
                i1 = (2 * (n - 1)).saturating_sub(i1);
            }
            (i0.min(n - 1), i1, w0, 1.0 - w0)
        })
        .collect()
}

impl RiseMasks {
    /// `count` masks for a `height x width` input, drawn from `seed`.
    pub fn generate(count: usize, cells: usize, keep: f32, height: usize, width: usize, seed: u64) -> Self {
        let cells = cells.max(1);
        let mut rng = Rng::new(seed);
        let grids = (0..count).map(|_| (0..cells * cells).map(|_| u8::from(rng.f32() < keep)).collect()).collect();
        let (ch, cw) = (height.div_ceil(cells), width.div_ceil(cells));
        let shifts = (0..count).map(|_| (rng.below(ch), rng.below(cw))).collect();
        Self { height, width, cells, keep, grids, shifts }
    }

    pub fn len(&self) -> usize {
        self.grids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
    }

    /// Mask `i` as `height x width` values in `[0, 1]`.
    pub fn mask(&self, i: usize) -> Vec<f32> {
        let s = self.cells;
        let (up_h, up_w) = ((s + 1) * self.height.div_ceil(s), (s + 1) * self.width.div_ceil(s));
        let rows = mirror_taps(s, up_h);
        let cols = mirror_taps(s, up_w);
        let (dy, dx) = self.shifts[i];
        let g = &self.grids[i];
        let mut out = Vec::with_capacity(self.height * self.width);
        for &(r0, r1, wr0, wr1) in &rows[dy..dy + self.height] {
            for &(q0, q1, wq0, wq1) in &cols[dx..dx + self.width] {
                let v = f64::from(g[r0 * s + q0]) * wr0 * wq0
                    + f64::from(g[r0 * s + q1]) * wr0 * wq1
                    + f64::from(g[r1 * s + q0]) * wr1 * wq0
                    + f64::from(g[r1 * s + q1]) * wr1 * wq1;
                out.push(v as f32);
            }
        }
        out
    }
}

/// What a masked-input method makes of the model's outputs: [`run_masked`] hands it every mask
/// with the output row of the masked input, and asks it for the map so far.
pub trait MaskedScores {
    /// Mask `M_i` (`h * w` values) and the model's output row for `x * M_i`, in mask order.
    fn add(&mut self, mask: &[f32], output: &[f32]);
    /// The map from the masks added so far.
    fn map(&self) -> WeightMap;
    /// Called after each batch: `true` stops [`run_masked`] before the remaining masks.
    fn converged(&mut self) -> bool {
        false
    }
}

/// Run the model on `x * M_i` for the masks `mask(0..count)` (each `h * w` values, applied to every
/// channel of the normalised input), `batch` images per pass, handing each output row to
/// `scores`; progress (with partial maps when wanted) and cancellation between batches; stops
/// early when `scores` says it has converged.
pub fn run_masked(
    net: &Network,
    x: &Tensor<4>,
    count: usize,
    mask: &dyn Fn(usize) -> Vec<f32>,
    batch: usize,
    control: &mut Control,
    scores: &mut dyn MaskedScores,
) -> Result<()> {
    let [_, c, h, w] = x.dims();
    let device = x.device();
    let image = host_values(x.clone());
    let batch = batch.max(1);
    for start in (0..count).step_by(batch) {
        control.check()?;
        let end = (start + batch).min(count);
        let ms: Vec<Vec<f32>> = (start..end).map(mask).collect();
        let values = masked_batch(&image, None, &ms, c);
        let outputs = net.forward_values(values, [end - start, c, h, w], &device);
        let k = outputs.dims()[1];
        let outputs = host_values(outputs);
        for (row, m) in outputs.chunks(k).zip(&ms) {
            scores.add(m, row);
        }
        if control.wants_partials() {
            let partial = scores.map();
            control.report(end, count, Some(&partial));
        } else {
            control.report(end, count, None);
        }
        if scores.converged() {
            break;
        }
    }
    Ok(())
}

/// RISE's running sum `sum_i P_i M_i` and its scores.
struct RiseSum<'o> {
    objective: &'o Objective,
    output: OutputKind,
    keep: f32,
    width: usize,
    height: usize,
    saliency: Vec<f64>,
    scores: Vec<f32>,
    /// Early stop, when asked for.
    stop: Option<EarlyStop>,
}

/// When an early-stopping RISE has converged: the min-max normalised map's mean absolute
/// per-pixel change over one batch is under `tolerance` on two batches in a row.
struct EarlyStop {
    tolerance: f32,
    previous: Option<WeightMap>,
    calm: usize,
}

impl EarlyStop {
    /// Take the map after a batch; `true` once converged.
    fn settled(&mut self, mut map: WeightMap) -> bool {
        map.normalize();
        let change = self.previous.as_ref().map(|p| mean_abs_difference(&p.values, &map.values));
        self.calm = match change {
            Some(d) if d < self.tolerance => self.calm + 1,
            _ => 0,
        };
        self.previous = Some(map);
        self.calm >= 2
    }
}

fn mean_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).sum();
    (sum / a.len().max(1) as f64) as f32
}

impl MaskedScores for RiseSum<'_> {
    fn add(&mut self, mask: &[f32], output: &[f32]) {
        let p = self.objective.bounded_row(output, self.output);
        self.scores.push(p);
        for (s, &k) in self.saliency.iter_mut().zip(mask) {
            *s += f64::from(p) * f64::from(k);
        }
    }

    fn map(&self) -> WeightMap {
        rise_map(&self.saliency, self.scores.len(), self.keep, self.width, self.height)
    }

    fn converged(&mut self) -> bool {
        if self.stop.is_none() {
            return false;
        }
        let map = self.map();
        self.stop.as_mut().is_some_and(|stop| stop.settled(map))
    }
}

/// RISE saliency: `sum_i P(x * M_i) M_i / (N keep)`, `P` the objective on a bounded scale (for a
/// class, its probability under the model's softmax or sigmoid head, as RISE wraps the model in a
/// softmax). Returns the map and the scores.
pub fn rise(
    net: &Network,
    x: &Tensor<4>,
    masks: &RiseMasks,
    objective: impl Into<Objective>,
    batch: usize,
    control: &mut Control,
) -> Result<(WeightMap, Vec<f32>)> {
    rise_until(net, x, masks, objective, batch, None, control)
}

/// [`rise`], stopped early (an approximation) when `tolerance` is given: after the batch at which
/// the normalised map has changed by less than `tolerance` (mean absolute per-pixel change) on
/// two batches in a row. The map and the scores cover the masks that ran, in order.
pub fn rise_until(
    net: &Network,
    x: &Tensor<4>,
    masks: &RiseMasks,
    objective: impl Into<Objective>,
    batch: usize,
    tolerance: Option<f32>,
    control: &mut Control,
) -> Result<(WeightMap, Vec<f32>)> {
    let objective = objective.into();
    let [_, _, h, w] = x.dims();
    let mut sum = RiseSum {
        objective: &objective,
        output: net.output,
        keep: masks.keep,
        width: w,
        height: h,
        saliency: vec![0.0; h * w],
        scores: Vec::with_capacity(masks.len()),
        stop: tolerance.map(|tolerance| EarlyStop { tolerance, previous: None, calm: 0 }),
    };
    run_masked(net, x, masks.len(), &|i| masks.mask(i), batch, control, &mut sum)?;
    Ok((sum.map(), sum.scores))
}

fn rise_map(sum: &[f64], n: usize, keep: f32, w: usize, h: usize) -> WeightMap {
    let scale = 1.0 / (n.max(1) as f64 * f64::from(keep));
    WeightMap::new(w, h, sum.iter().map(|v| (v * scale) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occlusion_offsets_follow_captum() {
        assert_eq!(offsets(112, 16, 8), (0..13).map(|i| i * 8).collect::<Vec<_>>());
        assert_eq!(offsets(10, 4, 4), vec![0, 4, 8]);
        assert_eq!(offsets(3, 16, 8), vec![0]);
    }

    #[test]
    fn early_stop_waits_for_two_calm_batches() {
        let map = |v: f32| WeightMap::new(2, 1, vec![0.0, v]);
        let mut stop = EarlyStop { tolerance: 0.01, previous: None, calm: 0 };
        // Normalised, [0, v] is [0, 1] whatever v > 0: no change from the second map on.
        assert!(!stop.settled(WeightMap::new(2, 1, vec![1.0, 0.0])));
        assert!(!stop.settled(map(1.0)), "a change of 1 per pixel is not calm");
        assert!(!stop.settled(map(2.0)), "one calm batch is not enough");
        assert!(stop.settled(map(3.0)));
        assert!(!EarlyStop { tolerance: 0.01, previous: Some(map(1.0)), calm: 1 }.settled(WeightMap::new(
            2,
            1,
            vec![1.0, 0.5]
        )));
        assert_eq!(mean_abs_difference(&[0.0, 1.0], &[0.5, 0.0]), 0.75);
    }

    #[test]
    fn rise_masks_keep_about_p_and_are_deterministic() {
        let m = RiseMasks::generate(200, 7, 0.5, 56, 56, 3);
        assert_eq!(m, RiseMasks::generate(200, 7, 0.5, 56, 56, 3));
        let mean: f64 = (0..m.len()).flat_map(|i| m.mask(i)).map(f64::from).sum::<f64>() / (200.0 * 56.0 * 56.0);
        assert!((mean - 0.5).abs() < 0.03, "{mean}");
        assert!(m.mask(0).iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
