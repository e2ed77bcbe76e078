//! A hand-written backward pass through [`Network`], so the gradient rule at every ReLU can be
//! changed. With [`ReluRule::Gradient`] it is the ordinary gradient (the tests compare it with
//! burn's autodiff); with [`ReluRule::Guided`] it is Guided Backpropagation (Springenberg et al.,
//! "Striving for Simplicity: The All Convolutional Net", ICLR 2015 workshop): at every ReLU only
//! positive gradients pass where the input was positive, `g_in = relu(g_out) * [x > 0]`.
//! As in Captum and pytorch-grad-cam, the rule applies to ReLU, not to ReLU6.

use super::objective::Objective;
use crate::error::{LanternError, Result};
use crate::models::network::{Act, Block, Conv, Head, Network, Skip, Stage, global_average_pool};
use burn::tensor::activation::relu;
use burn::tensor::module::{
    adaptive_avg_pool2d, conv_transpose2d, max_pool2d_with_indices, max_pool2d_with_indices_backward,
};
use burn::tensor::ops::{ConvTransposeOptions, MaxPoolOptions};
use burn::tensor::{Int, Tensor};

/// How gradients cross a ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReluRule {
    /// `g_in = g_out * [x > 0]`.
    Gradient,
    /// `g_in = relu(g_out) * [x > 0]`.
    Guided,
}

fn act_backward(act: Act, pre: &Tensor<4>, g: Tensor<4>, rule: ReluRule) -> Tensor<4> {
    match act {
        Act::Identity => g,
        Act::Relu => {
            let g = if rule == ReluRule::Guided { relu(g) } else { g };
            g * pre.clone().greater_elem(0.0).float()
        }
        Act::Relu6 => g * pre.clone().greater_elem(0.0).float() * pre.clone().lower_elem(6.0).float(),
    }
}

/// What the forward pass keeps for the backward pass of one convolution.
struct ConvTape {
    input_size: [usize; 2],
    pre_activation: Tensor<4>,
}

fn conv_forward(c: &Conv, x: Tensor<4>) -> (Tensor<4>, ConvTape) {
    let [_, _, h, w] = x.dims();
    let pre = Conv { act: Act::Identity, ..c.clone() }.forward(x);
    let y = c.act.apply(pre.clone());
    (y, ConvTape { input_size: [h, w], pre_activation: pre })
}

/// `dL/dx` of a convolution from `dL/dy`: the transposed convolution of the pre-activation
/// gradient, cropped to the input (this also covers asymmetric `SAME` padding).
fn conv_backward(c: &Conv, tape: &ConvTape, g: Tensor<4>, rule: ReluRule) -> Tensor<4> {
    let g = act_backward(c.act, &tape.pre_activation, g, rule);
    let [_, _, kh, kw] = c.weight.dims();
    let [h, w] = tape.input_size;
    let (ph, pw) = (c.padding_sides(h, kh), c.padding_sides(w, kw));
    let full = conv_transpose2d(
        g,
        c.weight.clone(),
        None,
        ConvTransposeOptions::new([c.stride; 2], [0, 0], [0, 0], [1, 1], c.groups),
    );
    let [n, ch, fh, fw] = full.dims();
    // `full` covers the padded input from its top-left corner; pad it out if the last window
    // did not reach the end, then cut the padding away.
    let need_h = ph.0 + h;
    let need_w = pw.0 + w;
    let full = if fh < need_h || fw < need_w {
        let padded = Tensor::zeros([n, ch, fh.max(need_h), fw.max(need_w)], &full.device());
        padded.slice_assign([0..n, 0..ch, 0..fh, 0..fw], full)
    } else {
        full
    };
    full.slice([0..n, 0..ch, ph.0..ph.0 + h, pw.0..pw.0 + w])
}

enum StageTape {
    Conv(ConvTape),
    Affine(Tensor<4>),
    Act(Tensor<4>),
    MaxPool { input: Tensor<4>, indices: Tensor<4, Int> },
    Block { main: Vec<ConvTape>, skip: Option<ConvTape>, sum: Tensor<4> },
}

fn stage_forward(stage: &Stage, x: Tensor<4>) -> (Tensor<4>, StageTape) {
    match stage {
        Stage::Conv(c) => {
            let (y, t) = conv_forward(c, x);
            (y, StageTape::Conv(t))
        }
        Stage::Affine(a) => {
            let pre = x * a.scale.clone() + a.shift.clone();
            (a.act.apply(pre.clone()), StageTape::Affine(pre))
        }
        Stage::Act(a) => (a.apply(x.clone()), StageTape::Act(x)),
        Stage::MaxPool { kernel, stride, padding } => {
            let (y, indices) = max_pool2d_with_indices(x.clone(), pool_options(*kernel, *stride, *padding));
            (y, StageTape::MaxPool { input: x, indices })
        }
        Stage::Block(b) => block_forward(b, x),
    }
}

fn pool_options(kernel: usize, stride: usize, padding: usize) -> MaxPoolOptions<2> {
    MaxPoolOptions::new([kernel; 2]).with_stride([stride; 2]).with_padding([padding; 2])
}

fn block_forward(b: &Block, x: Tensor<4>) -> (Tensor<4>, StageTape) {
    let (shortcut, skip) = match &b.skip {
        Skip::None => (None, None),
        Skip::Identity => (Some(x.clone()), None),
        Skip::Projection(c) => {
            let (y, t) = conv_forward(c, x.clone());
            (Some(y), Some(t))
        }
    };
    let mut h = x;
    let mut main = Vec::with_capacity(b.main.len());
    for c in &b.main {
        let (y, t) = conv_forward(c, h);
        h = y;
        main.push(t);
    }
    let sum = match shortcut {
        Some(s) => h + s,
        None => h,
    };
    (b.post.apply(sum.clone()), StageTape::Block { main, skip, sum })
}

fn stage_backward(stage: &Stage, tape: &StageTape, g: Tensor<4>, rule: ReluRule) -> Tensor<4> {
    match (stage, tape) {
        (Stage::Conv(c), StageTape::Conv(t)) => conv_backward(c, t, g, rule),
        (Stage::Affine(a), StageTape::Affine(pre)) => act_backward(a.act, pre, g, rule) * a.scale.clone(),
        (Stage::Act(a), StageTape::Act(x)) => act_backward(*a, x, g, rule),
        (Stage::MaxPool { kernel, stride, padding }, StageTape::MaxPool { input, indices }) => {
            max_pool2d_with_indices_backward(
                input.clone(),
                [*kernel; 2],
                [*stride; 2],
                [*padding; 2],
                [1, 1],
                false,
                g,
                indices.clone(),
            )
        }
        (Stage::Block(b), StageTape::Block { main, skip, sum }) => {
            let g_sum = act_backward(b.post, sum, g, rule);
            let mut g_main = g_sum.clone();
            for (c, t) in b.main.iter().zip(main).rev() {
                g_main = conv_backward(c, t, g_main, rule);
            }
            match (&b.skip, skip) {
                (Skip::Identity, _) => g_main + g_sum,
                (Skip::Projection(c), Some(t)) => g_main + conv_backward(c, t, g_sum, rule),
                _ => g_main,
            }
        }
        _ => unreachable!("tape recorded by stage_forward for the same stage"),
    }
}

/// Gradient of the objective with respect to the head's input `a`: the head runs forward, the
/// objective gives `dS/dy`, and the head's layers take it back with `rule` at their activations.
fn head_backward(head: &Head, a: &Tensor<4>, objective: &Objective, rule: ReluRule) -> Tensor<4> {
    let [n, c, h, w] = a.dims();
    match head {
        Head::GapLinear(fc) => {
            let pooled = global_average_pool(a.clone());
            let g = objective.output_gradient(fc.forward(pooled));
            // dS/dpooled = g W^T (burn's linear weight is `[in, out]`), spread evenly by the pool.
            let g_pooled: Tensor<4> = g.matmul(fc.weight.clone().transpose()).reshape([n, c, 1, 1]);
            g_pooled.expand([n, c, h, w]) / (h * w) as f32
        }
        Head::BoostedCam { .. } => {
            // BoostLU is not a ReLU: no rule applies, the ordinary gradient through autodiff.
            let leaf = a.clone().autodiff().require_grad();
            let grads = objective.score(head.forward(leaf.clone())).sum().backward();
            leaf.grad(&grads).expect("the head's input takes part in the graph").without_autodiff()
        }
        Head::PoolMlp { pool, layers } => {
            // Forward through the MLP keeping pre-activations.
            let pooled = adaptive_avg_pool2d(a.clone(), *pool);
            let [_, pc, ph, pw] = pooled.dims();
            let mut x = pooled.reshape([n, pc * ph * pw]);
            let mut pres = Vec::with_capacity(layers.len());
            for (fc, act) in layers {
                let pre = fc.forward(x);
                pres.push(pre.clone());
                x = act.apply(pre);
            }
            let mut g = objective.output_gradient(x);
            for ((fc, act), pre) in layers.iter().zip(&pres).rev() {
                let pre4: Tensor<4> = pre.clone().unsqueeze_dims(&[2, 3]);
                let g4: Tensor<4> = g.unsqueeze_dims(&[2, 3]);
                let gpre: Tensor<2> = act_backward(*act, &pre4, g4, rule).squeeze_dims(&[2, 3]);
                g = gpre.matmul(fc.weight.clone().transpose());
            }
            // Adaptive average pooling's backward through autodiff: it has no ReLU inside.
            let leaf = a.clone().autodiff().require_grad();
            let y = adaptive_avg_pool2d(leaf.clone(), *pool).reshape([n, pc * ph * pw]);
            let grads = (y * g.autodiff()).sum().backward();
            leaf.grad(&grads).expect("the pooling input takes part in the graph").without_autodiff()
        }
    }
}

/// `dS / dx` of the whole network for a batch `x`, `S` the objective, with `rule` at the ReLUs.
/// Refused for ONNX graphs, whose operators have no hand-written backward pass.
pub fn input_gradient(
    net: &Network,
    x: Tensor<4>,
    objective: impl Into<Objective>,
    rule: ReluRule,
) -> Result<Tensor<4>> {
    super::method::Needs::HandWritten.check(net, "Guided Backprop")?;
    let head = net.head().ok_or_else(|| LanternError::Internal("a hand-written head was checked for".into()))?;
    let objective = objective.into();
    let stages = net.stages();
    let mut tapes = Vec::with_capacity(stages.len());
    let mut h = x;
    for s in stages {
        let (y, t) = stage_forward(s, h);
        tapes.push(t);
        h = y;
    }
    let mut g = head_backward(head, &h, &objective, rule);
    for (s, t) in stages.iter().zip(&tapes).rev() {
        g = stage_backward(s, t, g, rule);
    }
    Ok(g)
}
