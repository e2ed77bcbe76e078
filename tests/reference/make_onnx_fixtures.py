"""Reference fixtures for Lantern's ONNX interpreter: tiny seeded timm models, their ONNX exports,
every intermediate tensor onnxruntime computes, and reference explanations (Grad-CAM family,
attention rollout, Chefer et al. relevance) at each model's explanation layer.

Run from the repository root with torch, timm, onnx, onnxruntime, onnxscript, safetensors and
grad-cam installed (made with torch 2.15, timm 1.0.31, onnx 1.23.2, onnxruntime 1.32.0,
onnxscript 0.7.2, grad-cam 1.5.7, safetensors 0.8.0):

    python tests/reference/make_onnx_fixtures.py

Writes tests/fixtures/onnx/, per model <name> in resnet, convnext, vit, deit, swin, mobilenetv3,
resnet_dynamo:

  <name>.onnx         the exported model: input `input` [1,3,32,32] float32 -> `logits` [1,10]
                      (vit: dynamic batch axis; vit also carries metadata_props mean, std,
                      input_size and class_names). TorchScript exporter at opset 17, except
                      resnet_dynamo (torch.export-based exporter, opset 18, same weights as resnet).
  <name>.safetensors  float32 tensors: `input`; `logits` (onnxruntime, default session options);
                      `t/<onnx tensor>` for every float32 node output that depends on the input
                      (computed by onnxruntime with graph optimisations disabled, so no node is fused
                      away; tensors over 200k elements skipped); `grad` = d logits[target] /
                      d (layer output) from torch autograd; `cam/gradcam`, `cam/gradcam++`,
                      `cam/scorecam` (pytorch-grad-cam, 32x32); for vit and deit also `attn/<i>`
                      (softmax attention probabilities of block i, [1, heads, N, N]),
                      `attn_grad/<i>` (d logits[target] / d attn/<i>), `rollout/*` and `chefer`
                      (grid-resolution maps, formulas below, written here from the papers).
  <name>.json         versions, opset, exporter, op histogram, torch-vs-onnxruntime logits
                      difference, target, the explanation layer (torch module path, ONNX tensor,
                      shape, layout, prefix tokens), the intermediates in graph order with shapes,
                      op types, producing node and torch module path, and scope examples.

The models are deliberately tiny and their strides reduced so the explanation layer of every
model is a 4x4 grid (also swin) at the 32x32 input rather than a degenerate 1x1 map. All
parameters and BatchNorm statistics are re-drawn from a seeded generator (non-trivial norm
weights, layer scales, position embeddings and relative position tables) so nothing is an
identity. The input is torch.randn(1, 3, 32, 32) from a generator seeded with 7. resnet.onnx is
exported with TrainingMode.PRESERVE so it keeps explicit BatchNormalization nodes (training_mode=0);
the other TorchScript exports and the dynamo export fold BatchNorm into Conv as they do by default.
torch and onnxruntime run single-threaded, so regenerating reproduces every file byte for byte.

Optional arguments restrict the run to some models: python tests/reference/make_onnx_fixtures.py vit deit
"""
import json
import math
import os
import re
import sys
import warnings
from collections import Counter
from functools import partial

import numpy as np
import onnx
import onnxruntime as ort
import safetensors
import safetensors.numpy
import timm
import torch
import torch.nn as nn
from onnx import helper, shape_inference

import pytorch_grad_cam
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx")
INPUT_SEED = 7
MAX_ELEMENTS = 200_000
CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

ROLLOUT_DEFINITION = (
    "Attention rollout (Abnar & Zuidema 2020). Inputs: the softmax attention probabilities A_l "
    "[heads, N, N] of every block l = 0..L-1 (float64). Per block: F = fuse(A_l) over heads "
    "(mean, max or min, elementwise). If discard_ratio r > 0: flatten F (row-major, N*N values), "
    "take the k = floor(N*N*r) smallest by a stable ascending argsort, remove flat index 0 (the "
    "cls->cls entry) from that set if present (so it is never discarded and at most k entries are "
    "zeroed), set those entries to 0. Then A' = F + I (identity N x N), rows renormalised: "
    "A'[i, :] /= sum_j A'[i, j]. Rollout R = A'_{L-1} @ ... @ A'_1 @ A'_0 (R starts at I, and each "
    "block does R = A'_l @ R). Map = R[0, prefix:] (row of token 0 = cls, columns of the patch "
    "tokens, dropping the prefix tokens cls [+ dist]), reshaped row-major to the (grid x grid) "
    "patch grid, divided by its max. Stored at grid resolution, not upsampled. Variants: "
    "rollout/mean (r=0), rollout/max (r=0), rollout/min (r=0), rollout/mean_discard0.5 (mean, r=0.5)."
)
CHEFER_DEFINITION = (
    "Chefer, Gur & Wolf, ICCV 2021 (Generic Attention-model Explainability), self-attention rule. "
    "Inputs: A_l = softmax attention probabilities [heads, N, N] of block l and G_l = d "
    "logits[target] / d A_l (float64). R = I (N x N). For each block l in forward order: "
    "Abar = mean over heads of relu(G_l * A_l) (elementwise product, relu before the head mean); "
    "R = R + Abar @ R. Map = R[0, prefix:] (cls row over the patch tokens), reshaped row-major to "
    "(grid x grid), divided by its max. Stored at grid resolution."
)


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------

def randomise(model: nn.Module, seed: int):
    """Re-draw every parameter and BatchNorm statistic from a seeded generator.

    Conv / linear weights ~ N(0, 1/fan_in); other >=2-d parameters (cls / dist tokens, position
    embeddings, relative position bias tables) ~ N(0, 0.5^2); biases ~ N(0, 0.1^2); other 1-d
    parameters (norm weights, layer scales) ~ U(0.5, 1.5); BatchNorm running_mean ~ N(0, 0.1^2),
    running_var ~ U(0.5, 1.5).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if p.ndim >= 2 and leaf == "weight":
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            elif p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            elif leaf == "bias":
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    return model


def unfuse_attention(model: nn.Module):
    """Explicit q @ k^T -> Softmax -> @ v in every attention module (no scaled_dot_product_attention)."""
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = False
    return model


def build_resnet():
    """timm ResNet, BasicBlocks [1,1,1,1], widths (8,16,32,64).

    timm's plain stem is always 64 wide, so conv1 / bn1 are replaced by an 8-channel 7x7 stem and
    layer1 by a BasicBlock(8, 8) (identity shortcut, no downsample). Reduced strides: the stem
    conv has stride 1 (CIFAR-style, max pool kept) and output_stride=16 (layer4 dilated by 2 at
    stride 1), so layer1..layer4 are 16, 8, 4, 4 pixels.
    """
    from timm.models.resnet import BasicBlock, ResNet
    m = ResNet(block=BasicBlock, layers=[1, 1, 1, 1], channels=(8, 16, 32, 64), num_classes=10, output_stride=16)
    m.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=1, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(8)
    m.layer1 = nn.Sequential(BasicBlock(8, 8))
    return randomise(m, 101)


def build_convnext():
    """timm ConvNeXt depths (1,1,1,1), dims (8,16,32,64), stem patch size 2 and output_stride=8:
    stages at 16, 8, 4, 4 pixels (stage 3 dilated by 2, its downsample a stride-1 dilated 2x2 conv)."""
    from timm.models.convnext import ConvNeXt
    m = ConvNeXt(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), num_classes=10, patch_size=2, output_stride=8,
                 drop_path_rate=0.0)
    return randomise(m, 102)


def build_vit():
    from timm.models.vision_transformer import VisionTransformer
    m = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10)
    return randomise(unfuse_attention(m), 103)


def build_deit():
    from timm.models.deit import VisionTransformerDistilled
    m = VisionTransformerDistilled(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10)
    return randomise(unfuse_attention(m), 104)


def build_swin():
    """timm Swin, patch 4 (8x8 tokens, then 4x4 after patch merging), window 2, two stages of two
    blocks (the second of each shifted by 1), embed dim 16."""
    from timm.models.swin_transformer import SwinTransformer
    m = SwinTransformer(img_size=32, patch_size=4, window_size=2, embed_dim=16, depths=(2, 2),
                        num_heads=(1, 2), num_classes=10, drop_path_rate=0.0)
    return randomise(unfuse_attention(m), 105)


def build_mobilenetv3(seed=107):
    """A cut-down MobileNetV3-Small (timm's MobileNetV3 class and block-string decoder).

    The small arch at channel multiplier 0.5 with one block per stage, head width 128, and strides
    reduced (stem 2, then 1, 2, 2, 1, 1) so the last feature map (blocks.5) is 4x4. Keeps
    HardSwish, HardSigmoid squeeze-excite, depthwise 3x3 / 5x5 convs. (Seed 107: with 106 the
    Grad-CAM map at blocks.5 is all zero, relu of a negative map, a useless fixture.)
    """
    from timm.models._efficientnet_blocks import SqueezeExcite
    from timm.models._efficientnet_builder import decode_arch_def, round_channels
    from timm.models.mobilenetv3 import MobileNetV3
    from timm.layers import get_act_layer
    arch_def = [
        ["ds_r1_k3_s1_e1_c16_se0.25_nre"],
        ["ir_r1_k3_s2_e4.5_c24_nre"],
        ["ir_r1_k5_s2_e4_c40_se0.25"],
        ["ir_r1_k5_s1_e3_c48_se0.25"],
        ["ir_r1_k5_s1_e6_c96_se0.25"],
        ["cn_r1_k1_s1_c576"],
    ]
    m = MobileNetV3(
        block_args=decode_arch_def(arch_def),
        num_classes=10,
        stem_size=16,
        fix_stem=True,
        num_features=128,
        round_chs_fn=partial(round_channels, multiplier=0.5),
        norm_layer=nn.BatchNorm2d,
        act_layer=get_act_layer("hard_swish"),
        se_layer=partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU, rd_round_fn=round_channels),
    )
    return randomise(m, seed)


def token_reshape(prefix: int):
    """[B, prefix + g*g, C] -> [B, C, g, g]: drop the prefix tokens, patch tokens row-major."""
    def reshape(t):
        t = t[:, prefix:, :]
        g = int(round(math.sqrt(t.shape[1])))
        return t.reshape(t.shape[0], g, g, t.shape[2]).permute(0, 3, 1, 2)
    return reshape


def nhwc_to_nchw(t):
    return t.permute(0, 3, 1, 2)


# name, builder, layer module path, layout, prefix tokens, grad-cam reshape_transform
MODELS = [
    ("resnet", build_resnet, "layer4", "channels_first", 0, None),
    ("convnext", build_convnext, "stages.3", "channels_first", 0, None),
    ("vit", build_vit, "blocks.1.norm1", "tokens", 1, token_reshape(1)),
    ("deit", build_deit, "blocks.1.norm1", "tokens", 2, token_reshape(2)),
    ("swin", build_swin, "layers.1.blocks.1.norm1", "channels_last", 0, nhwc_to_nchw),
    ("mobilenetv3", build_mobilenetv3, "blocks.5", "channels_first", 0, None),
]


# ----------------------------------------------------------------------------------------------
# Export and onnxruntime
# ----------------------------------------------------------------------------------------------

def export(model, x, path, name):
    """Returns a dict describing the export."""
    info = {}
    if name == "resnet_dynamo":
        torch.onnx.export(model, (x,), path, dynamo=True, opset_version=18, input_names=["input"],
                          output_names=["logits"], external_data=False)
        info.update(exporter="dynamo", opset=18)
    else:
        kwargs = dict(dynamo=False, opset_version=17, input_names=["input"], output_names=["logits"])
        if name == "vit":
            kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
        if name == "resnet":
            # The TorchScript exporter folds eval-mode BatchNorm into the preceding Conv;
            # PRESERVE keeps explicit BatchNormalization nodes (with the module still in eval mode,
            # so they use the running statistics: training_mode=0).
            kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), path, **kwargs)
        info.update(exporter="torchscript", opset=17)
        info["batchnorm"] = "preserved (TrainingMode.PRESERVE)" if name == "resnet" else "exporter default (eval: folded into Conv)"
        if name == "vit":
            info["dynamic_axes"] = kwargs["dynamic_axes"]
    if name == "vit":
        m = onnx.load(path)
        meta = {"mean": "0.5,0.5,0.5", "std": "0.5,0.5,0.5", "input_size": "32",
                "class_names": json.dumps(CLASS_NAMES)}
        onnx.helper.set_model_props(m, meta)
        onnx.save(m, path)
        info["metadata_props"] = meta
    return info


def input_dependent(graph):
    """Names of node outputs that depend (transitively) on a graph input."""
    inits = {i.name for i in graph.initializer}
    live = {i.name for i in graph.input if i.name not in inits}
    for node in graph.node:  # exporters write nodes in topological order
        if any(i in live for i in node.input if i):
            live.update(o for o in node.output if o)
    return live


def run_all_outputs(path):
    """Runs the model with every input-dependent node output as a graph output.

    Returns (ordered list of (node, output name)), dict name -> np.ndarray.
    """
    model = onnx.load(path)
    graph = model.graph
    live = input_dependent(graph)
    existing = {o.name for o in graph.output}
    inferred = shape_inference.infer_shapes(model)
    known = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
    order = []
    for node in graph.node:
        for out in node.output:
            if not out or out not in live:
                continue
            order.append((node, out))
            if out in existing:
                continue
            graph.output.append(known[out] if out in known else helper.ValueInfoProto(name=out))
            existing.add(out)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return order, dict(zip(names, sess.run(None, {"input": INPUT.numpy()})))


def ort_logits(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess.run(["logits"], {"input": INPUT.numpy()})[0]


# ----------------------------------------------------------------------------------------------
# Module paths from ONNX node names / metadata
# ----------------------------------------------------------------------------------------------

def scope_of_torchscript(node_name: str, modules: set):
    """Torch module path of a TorchScript-exported node, from its name `/a/a.0/b/Op`.

    Every component but the last (the op) is one module call. The exporter names a module by its
    last non-numeric attribute plus any numeric tail (`layer4.0` for module layer4.0, `conv1` for
    layer4.0.conv1) and suffixes repeated calls of one module with `_<k>` (`relu_1` = second call
    of `relu`). Returns (module, call): `module` is the deepest component that resolves exactly to
    a module of the model (so `/layer4/layer4.0/relu_1/Relu` -> `layer4.0`); `call` is the module
    actually called when the next component is a repeated call (`layer4.0.relu#1`), else None.
    """
    parts = [p for p in node_name.split("/") if p][:-1]
    path = []
    for comp in parts:
        atoms = comp.split(".")
        # The full path F of the callee extends the caller path P and ends with `comp`:
        # F = P[:i] + atoms for some i (i = len(P): a plain attribute of P).
        hit = None
        for i in range(len(path), -1, -1):
            full = path[:i] + atoms
            if len(full) > len(path) and full[:len(path)] == path and ".".join(full) in modules:
                hit = full
                break
        if hit is None:
            mm = re.fullmatch(r"(.+)_(\d+)", comp)
            if mm and ".".join(path + [mm.group(1)]) in modules:
                return ".".join(path), ".".join(path + [mm.group(1)]) + "#" + mm.group(2)
            return ".".join(path), None
        path = hit
    return ".".join(path), None


def scope_of_dynamo(node, modules: set):
    """Torch module path of a dynamo-exported node from its `pkg.torch.onnx.name_scopes` metadata."""
    meta = {p.key: p.value for p in node.metadata_props}
    scopes = meta.get("pkg.torch.onnx.name_scopes")
    if scopes is None:
        return None, None
    scopes = json.loads(scopes.replace("'", '"'))
    path = ""
    for s in scopes[1:]:
        if s in modules:
            path = s
    return path, None


# ----------------------------------------------------------------------------------------------
# Reference explanations written from the papers
# ----------------------------------------------------------------------------------------------

def rollout(attns, prefix, fusion, discard_ratio):
    """Attention rollout; see ROLLOUT_DEFINITION."""
    n = attns[0].shape[-1]
    eye = np.eye(n)
    result = np.eye(n)
    for a in attns:
        a = a[0].astype(np.float64)  # [heads, N, N]
        fused = {"mean": a.mean(axis=0), "max": a.max(axis=0), "min": a.min(axis=0)}[fusion]
        if discard_ratio > 0:
            flat = fused.reshape(-1).copy()
            k = int(math.floor(flat.size * discard_ratio))
            drop = np.argsort(flat, kind="stable")[:k]
            drop = drop[drop != 0]  # never discard cls -> cls
            flat[drop] = 0.0
            fused = flat.reshape(n, n)
        aug = fused + eye  # residual connection
        aug = aug / aug.sum(axis=-1, keepdims=True)  # rows sum to 1
        result = aug @ result
    m = result[0, prefix:]
    g = int(round(math.sqrt(m.size)))
    return (m / m.max()).reshape(g, g)


def chefer(attns, grads, prefix):
    """Chefer et al. 2021 relevance for self-attention; see CHEFER_DEFINITION."""
    n = attns[0].shape[-1]
    r = np.eye(n)
    for a, gr in zip(attns, grads):
        cam = np.maximum(gr[0].astype(np.float64) * a[0].astype(np.float64), 0.0).mean(axis=0)
        r = r + cam @ r
    m = r[0, prefix:]
    g = int(round(math.sqrt(m.size)))
    return (m / m.max()).reshape(g, g)


# ----------------------------------------------------------------------------------------------
# One model
# ----------------------------------------------------------------------------------------------

def torch_pass(model, layer_path, attention):
    """Forward + backward of logits[target]: layer output, its gradient, attention probabilities and
    their gradients (vit/deit)."""
    store = {}
    handles = []
    layer = model.get_submodule(layer_path)

    def keep(key):
        def hook(_m, _i, out):
            out.retain_grad()
            store[key] = out
        return hook

    handles.append(layer.register_forward_hook(keep("layer")))
    if attention:
        for i, blk in enumerate(model.blocks):
            # timm's unfused Attention: attn = softmax(q k^T * scale); attn = self.attn_drop(attn).
            # attn_drop is the identity in eval mode, so its output is the softmax output.
            handles.append(blk.attn.attn_drop.register_forward_hook(keep(f"attn/{i}")))
    x = INPUT.clone()
    logits = model(x)
    target = int(logits[0].argmax())
    logits[0, target].backward()
    for h in handles:
        h.remove()
    out = {"layer": store["layer"].detach().numpy(), "grad": store["layer"].grad.numpy()}
    if attention:
        for i in range(len(model.blocks)):
            out[f"attn/{i}"] = store[f"attn/{i}"].detach().numpy()
            out[f"attn_grad/{i}"] = store[f"attn/{i}"].grad.numpy()
    model.zero_grad(set_to_none=True)
    return logits.detach().numpy(), target, out


def grad_cams(model, layer, target, reshape):
    maps = {}
    for key, cls in (("gradcam", GradCAM), ("gradcam++", GradCAMPlusPlus), ("scorecam", ScoreCAM)):
        with cls(model=model, target_layers=[layer], reshape_transform=reshape) as explainer:
            if key == "scorecam":
                explainer.batch_size = 16
            maps[key] = explainer(input_tensor=INPUT.clone(), targets=[ClassifierOutputTarget(target)])[0]
    return maps


def find_layer_tensor(layer_out, order, values, module_of, layer_path):
    """ONNX tensor whose value is the torch layer output (max abs diff < 1e-5): among matches, the
    last (in graph order) produced inside the layer's module scope, else the first match."""
    matches = []
    for node, name in order:
        v = values.get(name)
        if v is None or v.shape != layer_out.shape or v.dtype != np.float32:
            continue
        diff = float(np.abs(v - layer_out).max())
        if diff < 1e-5:
            matches.append((name, diff))
    if not matches:
        raise RuntimeError(f"no ONNX tensor matches {layer_path}")
    inside = [(n, d) for n, d in matches
              if module_of[n] is not None and (module_of[n] == layer_path or module_of[n].startswith(layer_path + "."))]
    name, diff = inside[-1] if inside else matches[0]
    return name, diff, [n for n, _ in matches]


def versions():
    import importlib.metadata as md
    return {"torch": torch.__version__, "timm": timm.__version__, "onnx": onnx.__version__,
            "onnxruntime": ort.__version__, "onnxscript": md.version("onnxscript"),
            "grad-cam": md.version("grad-cam"), "safetensors": safetensors.__version__,
            "numpy": np.__version__}


def make(name, model, layer_path, layout, prefix, reshape):
    model.eval()
    path = os.path.join(OUT, f"{name}.onnx")
    record = {"model": name, "versions": versions(), "input_seed": INPUT_SEED,
              "input": {"name": "input", "shape": [1, 3, 32, 32]}, "output": {"name": "logits", "shape": [1, 10]}}
    try:
        record.update(export(model, INPUT.clone(), path, name))
    except Exception as e:  # recorded, not fatal (the dynamo exporter is the fragile one)
        record["export_error"] = f"{type(e).__name__}: {e}"
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(record, f, indent=1)
        print(name, "EXPORT FAILED", record["export_error"])
        return record
    proto = onnx.load(path)
    record["op_histogram"] = dict(sorted(Counter(n.op_type for n in proto.graph.node).items()))
    record["onnx_bytes"] = os.path.getsize(path)

    attention = name in ("vit", "deit")
    torch_logits, target, tp = torch_pass(model, layer_path, attention)
    logits = ort_logits(path)
    diff = float(np.abs(torch_logits - logits).max())
    record["target"] = target
    top2 = np.sort(torch_logits[0])[-2:]
    record["target_margin"] = float(top2[1] - top2[0])
    record["torch_logits"] = [float(v) for v in torch_logits[0]]
    record["ort_logits"] = [float(v) for v in logits[0]]
    record["max_abs_diff_torch_ort"] = diff
    record["max_rel_diff_torch_ort"] = diff / float(np.abs(torch_logits).max())

    order, values = run_all_outputs(path)
    modules = {n for n, _ in model.named_modules() if n}
    module_of, call_of = {}, {}
    for node, out in order:
        if record["exporter"] == "dynamo":
            module_of[out], call_of[out] = scope_of_dynamo(node, modules)
        else:
            module_of[out], call_of[out] = scope_of_torchscript(node.name, modules)
    diff_all = float(np.abs(values["logits"] - logits).max())
    record["max_abs_diff_logits_unoptimised_vs_default_session"] = diff_all

    tensors = {"input": INPUT.numpy(), "logits": logits.astype(np.float32)}
    inter, skipped = [], []
    for node, out in order:
        v = values[out]
        if v.dtype != np.float32:
            continue
        if v.size > MAX_ELEMENTS:
            skipped.append(out)
            continue
        tensors[f"t/{out}"] = v
        entry = {"name": out, "shape": list(v.shape), "op": node.op_type, "node": node.name, "module": module_of[out]}
        if call_of[out]:
            entry["module_call"] = call_of[out]
        inter.append(entry)
    record["intermediates"] = inter
    record["intermediates_note"] = ("every float32 output of a node that depends on the input, in graph order "
                                    "(constant-only subgraphs such as Identity/Constant of weights are left out); "
                                    "values from onnxruntime with ORT_DISABLE_ALL; stored as t/<name>")
    if skipped:
        record["skipped_over_200k"] = skipped

    # One example per module (its first compute-op output), up to 12 spread over the graph, plus up
    # to two repeated-call examples.
    shape_ops = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Constant", "ConstantOfShape"}
    distinct, seen = [], set()
    for node, out in order:
        if module_of[out] and node.op_type not in shape_ops and module_of[out] not in seen:
            seen.add(module_of[out])
            distinct.append((node, out))
    picks = [distinct[i] for i in sorted({int(round(k * (len(distinct) - 1) / 11)) for k in range(12)})] if distinct else []
    calls = [(n, o) for n, o in order if call_of[o]]
    examples = []
    for node, out in calls[:2] + picks:
        ex = {"node": node.name, "output": out, "module": module_of[out]}
        if call_of[out]:
            ex["module_call"] = call_of[out]
        if record["exporter"] == "dynamo":
            ex["name_scopes"] = {p.key: p.value for p in node.metadata_props}.get("pkg.torch.onnx.name_scopes")
        examples.append(ex)
    record["scope_examples"] = examples
    record["module_path_rule"] = (
        "torchscript: node name /c1/c2/.../Op, each ci one module call named by its last non-numeric attribute "
        "plus numeric tail (layer4, layer4.0, conv1 -> layer4.0.conv1; blocks, blocks.0, blocks.0.0 -> blocks.0.0); `module` = deepest component that is a "
        "real module; a component <m>_<k> that is not a module is call k of module <m> (module_call <path>.<m>#<k>)"
        if record["exporter"] == "torchscript" else
        "dynamo: metadata_props pkg.torch.onnx.name_scopes lists the module paths outermost first ('' = root) "
        "then the op; `module` = the last entry that is a real module")

    name_t, match_diff, all_matches = find_layer_tensor(tp["layer"], order, values, module_of, layer_path)
    record["layer"] = {"module": layer_path, "onnx_tensor": name_t, "shape": list(tp["layer"].shape),
                       "prefix_tokens": prefix, "layout": layout, "max_abs_diff_torch": match_diff,
                       "all_matching_tensors": all_matches}
    tensors["grad"] = tp["grad"]

    maps = grad_cams(model, model.get_submodule(layer_path), target, reshape)
    for k, v in maps.items():
        tensors[f"cam/{k}"] = v
    record["cam"] = {
        "methods": list(maps), "library": "pytorch-grad-cam " + versions()["grad-cam"],
        "targets": f"ClassifierOutputTarget({target})", "scorecam_batch_size": 16,
        "reshape_transform": {"tokens": f"drop {prefix} prefix token(s), reshape N patch tokens row-major "
                                        "to (sqrt N, sqrt N, C), permute to [B, C, h, w]",
                              "channels_last": "[B, H, W, C] -> permute(0, 3, 1, 2) -> [B, C, H, W]",
                              "channels_first": "none"}[layout],
        "shape": list(maps["gradcam"].shape)}

    if attention:
        attns = [tp[f"attn/{i}"] for i in range(len(model.blocks))]
        grads = [tp[f"attn_grad/{i}"] for i in range(len(model.blocks))]
        for i, (a, gr) in enumerate(zip(attns, grads)):
            tensors[f"attn/{i}"] = a
            tensors[f"attn_grad/{i}"] = gr
        tensors["rollout/mean"] = rollout(attns, prefix, "mean", 0.0)
        tensors["rollout/max"] = rollout(attns, prefix, "max", 0.0)
        tensors["rollout/min"] = rollout(attns, prefix, "min", 0.0)
        tensors["rollout/mean_discard0.5"] = rollout(attns, prefix, "mean", 0.5)
        tensors["chefer"] = chefer(attns, grads, prefix)
        # Which ONNX tensors are the attention probabilities (Softmax outputs), for the Rust side.
        softmax_outs = [out for node, out in order if node.op_type == "Softmax"]
        attn_onnx = []
        for i, a in enumerate(attns):
            hit = [o for o in softmax_outs if values[o].shape == a.shape and float(np.abs(values[o] - a).max()) < 1e-5]
            attn_onnx.append(hit[0] if hit else None)
        record["attention"] = {"blocks": len(attns), "heads": int(attns[0].shape[1]), "tokens": int(attns[0].shape[-1]),
                               "prefix_tokens": prefix, "grid": int(round(math.sqrt(attns[0].shape[-1] - prefix))),
                               "softmax_onnx_tensors": attn_onnx}
        record["rollout_definition"] = ROLLOUT_DEFINITION
        record["chefer_definition"] = CHEFER_DEFINITION

    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    record["tensors"] = {k: list(v.shape) for k, v in tensors.items() if not k.startswith("t/")}
    safetensors.numpy.save_file(tensors, os.path.join(OUT, f"{name}.safetensors"))
    os.chmod(os.path.join(OUT, f"{name}.safetensors"), 0o644)  # safetensors creates it 0600
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"{name}: {record['onnx_bytes']} B onnx, target {target}, |torch-ort| {diff:.2e} "
          f"(rel {record['max_rel_diff_torch_ort']:.2e}), layer {name_t} {list(tp['layer'].shape)}, "
          f"{len(inter)} intermediates")
    return record


INPUT = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(INPUT_SEED))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # multi-threaded conv backward varies in the last bits from run to run
    timm.layers.set_fused_attn(False)
    only = set(sys.argv[1:])
    resnet = None
    for name, build, layer, layout, prefix, reshape in MODELS:
        if only and name not in only and not (name == "resnet" and "resnet_dynamo" in only):
            continue
        model = build().eval()
        if name == "resnet":
            resnet = model
        if not only or name in only:
            make(name, model, layer, layout, prefix, reshape)
    if resnet is not None and (not only or "resnet_dynamo" in only):
        make("resnet_dynamo", resnet, "layer4", "channels_first", 0, None)
    print("versions", versions())


if __name__ == "__main__":
    main()
