//! An ONNX graph read as the hand-written networks' chain of stages, so that forward-only passes
//! run it through the same planned CPU path ([`crate::models::plan`]): one plan format for both.
//!
//! A graph reads as a chain when, from its input to the map its CAM head pools
//! ([`super::CamHead`]), every value feeds one step, or two that meet again at one `Add`:
//! - `Conv` (BatchNorm already folded in at load, [`super::exec`]) with symmetric or `SAME`
//!   padding and no dilation, a `Relu` or `Clip(0, 6)` that alone reads it fused in;
//! - `MaxPool` with square kernel, stride and symmetric padding;
//! - `Relu` or `Clip(0, 6)` on its own;
//! - a residual block: one branch a chain of convolutions, the other the value itself or one
//!   convolution, added, then an optional `Relu` (ResNet's and MobileNetV2's blocks).
//!
//! `Identity` steps (a folded BatchNorm, a `Dropout`) are looked through. Anything else (a
//! transformer, squeeze-and-excitation, a `Concat`, a `Shape` that reads an activation) leaves
//! the graph to the interpreter, which computes the same values more slowly.

use std::collections::HashMap;

use burn::tensor::{Tensor, TensorData};

use super::exec::{Graph, Step};
use super::ops::{Binary, Op, SameMode, Unary, Window};
use crate::models::layers::{Act, Block, Conv, Padding, Skip, Stage};

/// The chain a graph reads as, up to the value its head pools.
#[derive(Debug, Clone)]
pub struct Chain {
    pub stages: Vec<Stage>,
    /// Graph value id → the number of stages that compute it (the input is 0).
    pub cuts: HashMap<usize, usize>,
}

/// Read `graph` as a chain from its input to the value `pooled`, or `None` where it is not one.
/// The stages' weights are the graph's constants, on its device.
pub fn lift(graph: &Graph, pooled: usize) -> Option<Chain> {
    let reader = Reader::new(graph);
    let mut stages = Vec::new();
    let mut cuts = HashMap::new();
    let mut at = reader.through_identities(graph.input, &mut cuts, 0);
    while !cuts.contains_key(&pooled) {
        // Every stage takes at least one step: more stages than steps is a cycle.
        if stages.len() > graph.steps.len() {
            return None;
        }
        let (stage, next) = match reader.consumers(at) {
            [one] => reader.single(*one, at)?,
            [a, b] => reader.block(*a, *b, at)?,
            _ => return None,
        };
        stages.push(stage);
        at = reader.through_identities(next, &mut cuts, stages.len());
    }
    Some(Chain { stages, cuts })
}

/// The graph's steps by what they read, and its constants as tensors.
struct Reader<'a> {
    graph: &'a Graph,
    consumers: HashMap<usize, Vec<usize>>,
}

impl<'a> Reader<'a> {
    fn new(graph: &'a Graph) -> Self {
        let mut consumers: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, step) in graph.steps.iter().enumerate() {
            for v in step.inputs.iter().flatten().filter(|&&v| !graph.is_constant(v)) {
                consumers.entry(*v).or_default().push(i);
            }
        }
        Reader { graph, consumers }
    }

    /// The steps that read `v`.
    fn consumers(&self, v: usize) -> &[usize] {
        self.consumers.get(&v).map_or(&[], Vec::as_slice)
    }

    /// The one step that reads `v`, if exactly one does.
    fn only_consumer(&self, v: usize) -> Option<&'a Step> {
        match self.consumers(v) {
            [one] => Some(&self.graph.steps[*one]),
            _ => None,
        }
    }

    /// `v`, or the value a run of `Identity` steps that alone read it passes it to; each is
    /// recorded as computed by `cut` stages.
    fn through_identities(&self, mut v: usize, cuts: &mut HashMap<usize, usize>, cut: usize) -> usize {
        cuts.insert(v, cut);
        while let Some(step) = self.only_consumer(v).filter(|s| s.op == Op::Identity) {
            v = step.outputs[0];
            cuts.insert(v, cut);
        }
        v
    }

    /// `v` past any `Identity` steps, without recording.
    fn skip_identities(&self, mut v: usize) -> usize {
        while let Some(step) = self.only_consumer(v).filter(|s| s.op == Op::Identity) {
            v = step.outputs[0];
        }
        v
    }

    /// The stage that the step `s`, the one reader of `at`, begins, and the value it ends at.
    fn single(&self, s: usize, at: usize) -> Option<(Stage, usize)> {
        let step = &self.graph.steps[s];
        if step.inputs.first().copied().flatten() != Some(at) || step.outputs.len() != 1 {
            return None;
        }
        match &step.op {
            Op::Conv { .. } => {
                let (conv, out) = self.conv(step, at)?;
                Some((Stage::Conv(conv), out))
            }
            Op::MaxPool(window) => {
                let (Some(kernel), stride, Padding::Fixed(padding)) = square(window)? else { return None };
                Some((Stage::MaxPool { kernel, stride, padding }, step.outputs[0]))
            }
            _ => Some((Stage::Act(self.activation(step)?), step.outputs[0])),
        }
    }

    /// A convolution step reading `at`, with the activation that alone reads its output fused
    /// in; the value it ends at.
    fn conv(&self, step: &Step, at: usize) -> Option<(Conv, usize)> {
        let Op::Conv { window, groups } = &step.op else { return None };
        if step.inputs.first().copied().flatten() != Some(at) || step.outputs.len() != 1 {
            return None;
        }
        let weight = self.constant(step.inputs.get(1).copied().flatten()?)?.into_tensor4().ok()?;
        let [out_channels, _, kh, kw] = weight.dims();
        let bias = match step.inputs.get(2).copied().flatten() {
            Some(b) => {
                let values = self.constant(b)?.values();
                if values.len() != out_channels {
                    return None;
                }
                Some(Tensor::<1>::from_data(TensorData::new(values, [out_channels]), &self.graph.device))
            }
            None => None,
        };
        let (kernel, stride, padding) = square(window)?;
        if kernel.is_some_and(|k| k != kh) || kh != kw {
            return None;
        }
        let out = self.skip_identities(step.outputs[0]);
        let (act, end) = self.activation_after(out);
        Some((Conv { weight, bias, stride, padding, groups: *groups, act }, end))
    }

    /// The activation that alone reads `v` and the value it gives, or none and `v` itself.
    fn activation_after(&self, v: usize) -> (Act, usize) {
        self.only_consumer(v).and_then(|s| Some((self.activation(s)?, s.outputs[0]))).unwrap_or((Act::Identity, v))
    }

    /// The activation a step computes, if it is one a stage holds.
    fn activation(&self, step: &Step) -> Option<Act> {
        match &step.op {
            Op::Unary(Unary::Relu) => Some(Act::Relu),
            Op::Clip { min, max } => {
                let bound = |i: usize, given: Option<f32>| match step.inputs.get(i).copied().flatten() {
                    Some(v) => self.constant(v).map(|t| t.values()).and_then(|v| v.first().copied()),
                    None => given,
                };
                match (bound(1, *min), bound(2, *max)) {
                    (Some(0.0), None) => Some(Act::Relu),
                    (Some(0.0), Some(6.0)) => Some(Act::Relu6),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A residual block starting at `at`, read by the steps `a` and `b`: its stage and the value
    /// it ends at.
    fn block(&self, a: usize, b: usize, at: usize) -> Option<(Stage, usize)> {
        let (first, add_a) = self.branch(a, at)?;
        let (second, add_b) = self.branch(b, at)?;
        if add_a != add_b {
            return None;
        }
        let (main, skip) = match (first.len(), second.len()) {
            (0, 0) => return None,
            (_, 0) => (first, Skip::Identity),
            (0, _) => (second, Skip::Identity),
            (1, _) => (second, Skip::Projection(first.into_iter().next()?)),
            (_, 1) => (first, Skip::Projection(second.into_iter().next()?)),
            _ => return None,
        };
        if matches!(&skip, Skip::Projection(c) if c.act != Act::Identity) {
            return None;
        }
        let (post, end) = self.activation_after(self.skip_identities(self.graph.steps[add_a].outputs[0]));
        Some((Stage::Block(Block { main, skip, post }), end))
    }

    /// One branch of a block from `at` through the step `s`: its convolutions, and the `Add` step
    /// that ends it (`s` itself for the shortcut that is the value).
    fn branch(&self, s: usize, at: usize) -> Option<(Vec<Conv>, usize)> {
        let mut convs = Vec::new();
        let (mut step_id, mut input) = (s, at);
        loop {
            let step = &self.graph.steps[step_id];
            match step.op {
                Op::Binary(Binary::Add) if step.inputs.len() == 2 && step.inputs.contains(&Some(input)) => {
                    return Some((convs, step_id));
                }
                Op::Conv { .. } => {
                    let (conv, out) = self.conv(step, input)?;
                    convs.push(conv);
                    input = out;
                    let [next] = self.consumers(out) else { return None };
                    step_id = *next;
                }
                _ => return None,
            }
        }
    }

    /// A constant, as a float tensor.
    fn constant(&self, v: usize) -> Option<super::value::F> {
        self.graph.constant(v)?.to_float(&self.graph.device).ok()
    }
}

/// A window's square kernel (if it names one), stride and padding, when it is symmetric and
/// undilated.
fn square(window: &Window) -> Option<(Option<usize>, usize, Padding)> {
    let [sh, sw] = window.strides;
    if sh != sw || window.dilations != [1, 1] || window.ceil {
        return None;
    }
    let padding = match window.same {
        Some(SameMode::Upper) => Padding::Same,
        Some(SameMode::Lower) => return None,
        None => {
            let [(top, bottom), (left, right)] = window.pads;
            if top != bottom || left != right || top != left {
                return None;
            }
            Padding::Fixed(top)
        }
    };
    let kernel = match window.kernel {
        Some([kh, kw]) if kh == kw => Some(kh),
        Some(_) => return None,
        None => None,
    };
    Some((kernel, sh, padding))
}
