//! Feature ablation on a grid (Captum's `FeatureAblation` with a grid feature mask; the
//! occlusion idea of Zeiler & Fergus, ECCV 2014): the input is cut into `g x g` cells and each
//! cell in turn is replaced by zero in normalised input space (the dataset mean colour); a cell's
//! value is the drop `S(x) - S(x with the cell ablated)`, the same for every pixel of the cell.
//! `g^2` model passes whatever the input's size, so it is a quick, coarse first look at a black
//! box, where occlusion's sliding window costs hundreds of passes.
//!
//! This file is the whole method: its parameter ([`GRID`], the `--grid` flag and the app's
//! "grid cells" slider) and its spec ([`FEATURE_ABLATION`]), listed once in [`super::registry`].

use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec, Output, Run};
use super::objective::Objective;
use super::params::{Number, ParamKind, ParamSpec};
use super::perturbation::{MaskedScores, run_masked};
use crate::control::Control;
use crate::error::Result;
use crate::map::WeightMap;
use crate::models::Network;
use crate::models::network::host_values;
use burn::tensor::Tensor;

/// Grid cells per side (default 8: 64 model passes).
pub const GRID: ParamSpec = ParamSpec {
    flag: "grid",
    label: "grid cells",
    help: "Feature ablation: grid cells per side, each replaced by the dataset mean in turn.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 64.0,
        integer: true,
        logarithmic: false,
        get: grid,
        set: |p, v| p.set_number("grid", v),
    }),
};

pub const FEATURE_ABLATION: MethodSpec = MethodSpec {
    aliases: &["ablation", "gridablation"],
    long: true,
    params: &[GRID],
    ..MethodSpec::new(
        About {
            name: "feature-ablation",
            title: "Feature ablation (grid)",
            formula: "S(x) - S(x with the pixel's grid cell set to the dataset mean)",
            paper: "Captum FeatureAblation, Kokhlikyan et al., 2020; Zeiler & Fergus, ECCV 2014",
        },
        Mechanism {
            family: Family::Perturbation,
            layer: LayerUse::None,
            gradients: false,
            entry: Entry::Input(run_feature_ablation),
        },
    )
};

/// How to ablate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AblationOptions {
    /// Cells per side (at most the input's shorter side).
    pub grid: usize,
    /// Images per model pass.
    pub batch: usize,
}

fn run_feature_ablation(run: &mut Run<'_, '_>) -> Result<Output> {
    let grid = grid(run.params) as usize;
    let options = AblationOptions { grid, batch: run.params.batch };
    let map = feature_ablation(run.session.network(), run.session.input(), run.objective, options, run.control)?;
    Ok(Output { map, attribution: None, forward_ms: 0.0, approximation: None })
}

/// The `--grid` value of `p` (8 when not given).
fn grid(p: &super::params::Params) -> f64 {
    p.number("grid", 8.0)
}

/// Rows (or columns) `[start, end)` of cell `i` of `grid` along a side of `len` pixels.
fn span(i: usize, grid: usize, len: usize) -> (usize, usize) {
    (i * len / grid, (i + 1) * len / grid)
}

/// The keep-mask of cell `i` (row-major over the grid): 0 inside the cell, 1 elsewhere.
fn cell_mask(i: usize, grid: usize, h: usize, w: usize) -> Vec<f32> {
    let (y0, y1) = span(i / grid, grid, h);
    let (x0, x1) = span(i % grid, grid, w);
    let mut m = vec![1.0f32; h * w];
    for y in y0..y1 {
        m[y * w + x0..y * w + x1].fill(0.0);
    }
    m
}

/// Each cell's drop of the objective, in cell order, painted over its pixels.
struct Drops<'o> {
    objective: &'o Objective,
    reference: f32,
    grid: usize,
    width: usize,
    height: usize,
    drops: Vec<f32>,
}

impl MaskedScores for Drops<'_> {
    fn add(&mut self, _mask: &[f32], output: &[f32]) {
        self.drops.push(self.reference - self.objective.score_row(output));
    }

    /// Cells not yet run are 0.
    fn map(&self) -> WeightMap {
        let (g, w, h) = (self.grid, self.width, self.height);
        let cell_of = |i: usize, len: usize| (0..g).find(|&c| i < span(c, g, len).1).unwrap_or(g - 1);
        let values = (0..h * w)
            .map(|p| self.drops.get(cell_of(p / w, h) * g + cell_of(p % w, w)).copied().unwrap_or(0.0))
            .collect();
        WeightMap::new(w, h, values)
    }
}

/// Feature ablation of `objective` on the preprocessed input `x` (`[1, 3, H, W]`): `g^2` model
/// passes, `options.batch` per batch, with progress, partial maps and cancellation.
pub fn feature_ablation(
    net: &Network,
    x: &Tensor<4>,
    objective: &Objective,
    options: AblationOptions,
    control: &mut Control,
) -> Result<WeightMap> {
    let [_, _, h, w] = x.dims();
    let grid = options.grid.clamp(1, h.min(w).max(1));
    let reference = objective.score_row(&host_values(net.forward(x.clone())));
    let mut drops = Drops { objective, reference, grid, width: w, height: h, drops: Vec::with_capacity(grid * grid) };
    run_masked(net, x, grid * grid, &|i| cell_mask(i, grid, h, w), options.batch, control, &mut drops)?;
    Ok(drops.map())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{Method, Params, Session};
    use burn::tensor::{Device, TensorData};
    use clap::Parser;
    use std::sync::Arc;

    #[test]
    fn each_cell_holds_the_drop_of_ablating_it() {
        let device = Device::flex();
        let net = crate::models::demo::network(&device).unwrap();
        let image = crate::datasets::synth::generate(3, 0, 64).image;
        let x = net.preprocess.tensor(&image, &device);
        let objective = Objective::Class(1);
        let map = feature_ablation(&net, &x, &objective, AblationOptions { grid: 4, batch: 5 }, &mut Control::none())
            .unwrap();
        let [_, c, h, w] = x.dims();
        assert_eq!((map.width, map.height), (w, h));
        // By hand: cell (1, 2) ablated.
        let m = cell_mask(4 + 2, 4, h, w);
        let values: Vec<f32> = host_values(x.clone()).iter().enumerate().map(|(i, v)| v * m[i % (h * w)]).collect();
        let ablated = net.forward(Tensor::from_data(TensorData::new(values, [1, c, h, w]), &device));
        let full = objective.score_row(&host_values(net.forward(x.clone())));
        let expected = full - objective.score_row(&host_values(ablated));
        let (y, x0) = (span(1, 4, h).0, span(2, 4, w).0);
        assert!((map.values[y * w + x0] - expected).abs() < 1e-5, "{} vs {expected}", map.values[y * w + x0]);
        assert_eq!(map.values[y * w + x0], map.values[(span(1, 4, h).1 - 1) * w + span(2, 4, w).1 - 1], "flat cell");
    }

    #[test]
    fn its_parameter_is_a_flag_and_a_control_without_an_edit_elsewhere() {
        // The app draws `Method::params()`; the CLI's flags are every method's parameters.
        let method: Method = "feature-ablation".parse().unwrap();
        let net = Arc::new(crate::models::demo::network(&Device::flex()).unwrap());
        assert_eq!(method.params().iter().map(|p| p.flag).collect::<Vec<_>>(), ["batch", "grid"]);
        let parse = |extra: &[&str]| {
            let base = ["lantern", "explain", "a.png", "--model", "m.safetensors", "--out", "o"];
            let cli = crate::cli::Cli::try_parse_from(base.iter().chain(extra)).unwrap();
            let Some(crate::cli::Command::Explain(args)) = cli.command else { panic!("an explain command") };
            args.params.params(&net.preprocess)
        };
        assert_eq!(grid(&parse(&[]).unwrap()), 8.0, "the default");
        let p = parse(&["--grid", "3"]).unwrap();
        assert_eq!(grid(&p), 3.0);
        let err = parse(&["--grid", "0"]).unwrap_err().to_string();
        assert!(err.contains("--grid") && err.contains(" to 64"), "{err}");
        // And it runs through a session like any method.
        let image = crate::datasets::synth::generate(3, 1, 64).image;
        let x = net.preprocess.tensor(&image, &net.device());
        let e = Session::new(Arc::clone(&net), x)
            .explain(method, Objective::Class(0), None, &Params { batch: 4, ..p }, &mut Control::none())
            .unwrap();
        let distinct: std::collections::BTreeSet<u32> = e.map.values.iter().map(|v| v.to_bits()).collect();
        assert!(distinct.len() <= 9, "3 x 3 cells: {}", distinct.len());
    }
}
