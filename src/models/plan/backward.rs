//! The planned backward pass: `dS/dx` of a score of the logits with respect to the input, on the
//! CPU, for the gradient methods (saliency, Input x Gradient, Integrated Gradients, SmoothGrad).
//! The forward pass runs the plan's steps and keeps every step's output; the head and the score
//! (a few thousand values) go through burn's autodiff; then each step, last to first, maps the
//! gradient of its output to the gradient of its input:
//!
//! - an activation `y = f(z)`: `dz = dy ⊙ f'(z)`, read from `y` (ReLU: `y > 0`; ReLU6:
//!   `0 < y < 6`), as burn's autodiff takes it (no gradient where the ReLU's output is 0);
//! - an affine map `y = f(x s + t)`: `dx = dz ⊙ s`;
//! - a convolution: its transposed convolution ([`super::transpose`]);
//! - max pooling: each output's gradient to the first input pixel of its window (in scan order)
//!   that holds the maximum;
//! - a residual block `y = post(main(x) + skip(x))`: the sum's gradient through both branches,
//!   added.
//!
//! Only input gradients are computed (no weight gradients), from the same folded weights the
//! planned forward pass runs.

use super::conv::PackedConv;
use super::{Nhwc, Op, Plan, Shortcut, activate, per_thread, pool};
use crate::models::layers::{Act, Head, host_values};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

/// What is differentiated after the chain: its head and the score of the head's logits, on a
/// device.
#[derive(Clone, Copy)]
struct Readout<'a> {
    head: &'a Head,
    score: &'a (dyn Fn(Tensor<2>) -> Tensor<2> + Sync),
    device: &'a Device,
}

/// What a block's backward pass needs besides its input and output.
struct BlockTape {
    /// The outputs of the main branch's convolutions but the last.
    inner: Vec<Nhwc>,
    /// The projection's output.
    projected: Option<Nhwc>,
    /// The last convolution's output before the residual sum, when it has an activation of
    /// its own.
    last: Option<Nhwc>,
}

impl Plan {
    /// `dS/dx`, `[N, C, H, W]`, for the whole chain and `head` on the input given as
    /// `[N, C, H, W]` host values, where `score` maps the logits `[N, classes]` to one score per
    /// image `[N, 1]` (their sum is differentiated, so each image's gradient is its own score's).
    ///
    /// A batch of at least two images per thread runs as one sub-batch per thread
    /// ([`per_thread`]).
    pub fn input_gradient(
        &self,
        head: &Head,
        values: &[f32],
        dims: [usize; 4],
        score: &(dyn Fn(Tensor<2>) -> Tensor<2> + Sync),
        device: &Device,
    ) -> Tensor<4> {
        let readout = Readout { head, score, device };
        let gradient = per_thread(values, dims, |v, d| self.sub_batch_gradient(readout, v, d)).concat();
        Tensor::from_data(TensorData::new(gradient, dims), device)
    }

    /// [`Plan::input_gradient`] of one sub-batch, as `[N, C, H, W]` host values.
    fn sub_batch_gradient(&self, readout: Readout, values: &[f32], dims: [usize; 4]) -> Vec<f32> {
        let mut outputs = vec![Nhwc::from_nchw(values, dims, &self.buffers)];
        let mut tapes = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let x = outputs.last().expect("the input is the first value");
            let (y, tape) = self.record(&step.op, x);
            outputs.push(y);
            tapes.push(tape);
        }
        let last = outputs.last().expect("the input is the first value");
        let mut dy = self.head_gradient(readout, last);
        while let Some(y) = outputs.pop() {
            let Some(x) = outputs.last() else {
                self.buffers.give(y.values);
                break;
            };
            let tape = tapes.pop().flatten();
            let step = &self.steps[outputs.len() - 1];
            let dx = self.step_gradient(&step.op, x, &y, dy, tape);
            self.buffers.give(y.values);
            dy = dx;
        }
        let gradient = dy.to_nchw();
        self.buffers.give(dy.values);
        gradient
    }

    /// The gradient of the score with respect to the chain's output `last`, through burn's
    /// autodiff on the head.
    fn head_gradient(&self, Readout { head, score, device }: Readout, last: &Nhwc) -> Nhwc {
        let leaf = last.to_tensor(device).autodiff().require_grad();
        let grads = score(head.forward(leaf.clone())).sum().backward();
        let g = leaf.grad(&grads).expect("the head reads its input").without_autodiff();
        let dims = g.dims();
        Nhwc::from_nchw(&host_values(g), dims, &self.buffers)
    }

    /// Run `op` on `x`, keeping what its backward pass needs besides `x` and the output.
    fn record(&self, op: &Op, x: &Nhwc) -> (Nhwc, Option<BlockTape>) {
        match op {
            Op::Block { main, skip, post } => {
                let (y, tape) = self.record_block(main, skip, *post, x);
                (y, Some(tape))
            }
            Op::Act(_) | Op::Affine { .. } => {
                let mut copy = Nhwc { n: x.n, h: x.h, w: x.w, c: x.c, values: self.buffers.take(x.values.len()) };
                copy.values.copy_from_slice(&x.values);
                (self.run(op, copy), None)
            }
            Op::Conv(c) => (c.forward(x, None, Act::Identity, &self.buffers), None),
            Op::MaxPool { kernel, stride, padding } => {
                (pool::max_pool(x, *kernel, *stride, *padding, &self.buffers), None)
            }
        }
    }

    /// A residual block's forward pass, keeping its inner values.
    fn record_block(&self, main: &[PackedConv], skip: &Shortcut, post: Act, x: &Nhwc) -> (Nhwc, BlockTape) {
        let (last, inner_convs) = main.split_last().expect("a block has a convolution");
        let mut inner: Vec<Nhwc> = Vec::with_capacity(inner_convs.len());
        for c in inner_convs {
            let h = c.forward(inner.last().unwrap_or(x), None, Act::Identity, &self.buffers);
            inner.push(h);
        }
        let projected = skip.project(x, &self.buffers);
        let shortcut = skip.values(x, projected.as_ref());
        let h = inner.last().unwrap_or(x);
        if last.act == Act::Identity {
            let y = last.forward(h, shortcut, post, &self.buffers);
            return (y, BlockTape { inner, projected, last: None });
        }
        let t = last.forward(h, None, Act::Identity, &self.buffers);
        let mut y = Nhwc { n: t.n, h: t.h, w: t.w, c: t.c, values: self.buffers.take(t.values.len()) };
        y.values.par_chunks_mut(1 << 14).enumerate().for_each(|(i, chunk)| {
            let at = i << 14;
            chunk.copy_from_slice(&t.values[at..at + chunk.len()]);
            if let Some(r) = shortcut {
                chunk.iter_mut().zip(&r[at..]).for_each(|(v, r)| *v += r);
            }
            activate(post, chunk);
        });
        (y, BlockTape { inner, projected, last: Some(t) })
    }

    /// The gradient with respect to `x` of the step `op` that made `y` from `x`, given the
    /// gradient `dy` with respect to `y`.
    fn step_gradient(&self, op: &Op, x: &Nhwc, y: &Nhwc, mut dy: Nhwc, tape: Option<BlockTape>) -> Nhwc {
        match op {
            Op::Conv(c) => {
                through_activation(c.act, y, &mut dy);
                let dx = c.input_gradient(&dy, x.h, x.w, &self.buffers);
                self.buffers.give(dy.values);
                dx
            }
            Op::Act(act) => {
                through_activation(*act, y, &mut dy);
                dy
            }
            Op::Affine { scale, act, .. } => {
                through_activation(*act, y, &mut dy);
                let c = dy.c;
                dy.values.par_chunks_mut(c * 64).for_each(|chunk| {
                    for pixel in chunk.chunks_mut(c) {
                        pixel.iter_mut().zip(scale).for_each(|(g, s)| *g *= s);
                    }
                });
                dy
            }
            Op::MaxPool { kernel, stride, padding } => {
                let dx = pool::max_pool_gradient(x, y, &dy, [*kernel, *stride, *padding], &self.buffers);
                self.buffers.give(dy.values);
                dx
            }
            Op::Block { main, skip, post } => {
                let tape = tape.expect("a block's forward pass keeps its tape");
                self.block_gradient(main, skip, *post, x, y, dy, tape)
            }
        }
    }

    /// A residual block's input gradient: the sum's gradient through the main branch, last
    /// convolution first, plus through the shortcut.
    #[allow(clippy::too_many_arguments)]
    fn block_gradient(
        &self,
        main: &[PackedConv],
        skip: &Shortcut,
        post: Act,
        x: &Nhwc,
        y: &Nhwc,
        mut dy: Nhwc,
        tape: BlockTape,
    ) -> Nhwc {
        through_activation(post, y, &mut dy);
        let skipped = match skip {
            Shortcut::None => None,
            Shortcut::Identity => Some(self.copy(&dy)),
            Shortcut::Projection(c) => {
                let p = tape.projected.as_ref().expect("a projection's output is kept");
                let mut dp = self.copy(&dy);
                through_activation(c.act, p, &mut dp);
                let dx = c.input_gradient(&dp, x.h, x.w, &self.buffers);
                self.buffers.give(dp.values);
                Some(dx)
            }
        };
        let mut inner = tape.inner;
        let (last, inner_convs) = main.split_last().expect("a block has a convolution");
        if let Some(t) = &tape.last {
            through_activation(last.act, t, &mut dy);
        }
        let mut g = {
            let h = inner.last().unwrap_or(x);
            let g = last.input_gradient(&dy, h.h, h.w, &self.buffers);
            self.buffers.give(dy.values);
            g
        };
        for c in inner_convs.iter().rev() {
            let h = inner.pop().expect("one kept output per inner convolution");
            through_activation(c.act, &h, &mut g);
            let input = inner.last().unwrap_or(x);
            let next = c.input_gradient(&g, input.h, input.w, &self.buffers);
            self.buffers.give(g.values);
            self.buffers.give(h.values);
            g = next;
        }
        if let Some(s) = skipped {
            g.values.par_chunks_mut(1 << 14).zip(s.values.par_chunks(1 << 14)).for_each(|(a, b)| {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            });
            self.buffers.give(s.values);
        }
        for done in tape.projected.into_iter().chain(tape.last) {
            self.buffers.give(done.values);
        }
        g
    }

    /// A copy of `v` in a buffer from the pool.
    fn copy(&self, v: &Nhwc) -> Nhwc {
        let mut values = self.buffers.take(v.values.len());
        values.copy_from_slice(&v.values);
        Nhwc { n: v.n, h: v.h, w: v.w, c: v.c, values }
    }
}

/// `dy ⊙ f'(z)` in place, where `y = f(z)`: zero where the ReLU's output is 0 (ReLU6's: 0 or 6).
fn through_activation(act: Act, y: &Nhwc, dy: &mut Nhwc) {
    match act {
        Act::Identity => {}
        Act::Relu => mask(y, dy, |v| v > 0.0),
        Act::Relu6 => mask(y, dy, |v| v > 0.0 && v < 6.0),
    }
}

/// Zero `dy` where `keep` is false of `y`, with `keep` known at compile time.
fn mask(y: &Nhwc, dy: &mut Nhwc, keep: impl Fn(f32) -> bool + Sync) {
    dy.values.par_chunks_mut(1 << 14).zip(y.values.par_chunks(1 << 14)).for_each(|(g, y)| {
        g.iter_mut().zip(y).for_each(|(g, &y)| {
            if !keep(y) {
                *g = 0.0;
            }
        });
    });
}
