"""Lantern against the Python references on the same machine, in one run.

    python benches/compare_pytorch.py cam          # Grad-CAM: ResNet-50 and EfficientNet-Lite0
    python benches/compare_pytorch.py attribution  # Score-CAM, IG, Occlusion, RISE on ResNet-50,
                                                   # and the approximate Score-CAM and RISE

224x224, batch 1, CPU. ResNet-50 has seeded weights (timing does not depend on their values);
EfficientNet-Lite0 the real ImageNet weights from .ci/fetch-weights. Python times pytorch-grad-cam,
Captum and a PyTorch version of the RISE paper's code; Lantern runs `lantern bench` (the release
binary: `cargo build --release` first). Prints a Markdown table of medians and ratios
(Lantern / Python; below 1 means Lantern is faster).
Needs torch, torchvision, grad-cam, captum, scikit-image and efficientnet-lite-pytorch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from pytorch_grad_cam import GradCAM, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from seeded import seeded_state_dict  # noqa: E402

IMAGE = os.path.join(ROOT, "tests", "fixtures", "photos", "chelsea.jpg")


def timed(fn, repeat, warmup=True):
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def lantern(binary, extra, repeat):
    cmd = [binary, "bench", IMAGE, "--device", "cpu", "--repeat", str(repeat)] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def rise_pytorch(model, x, target, n=4000, s=7, p1=0.5, batch=100, seed=0):
    """The RISE paper's recipe in PyTorch: random s x s grids kept with probability p1,
    bilinear upsampling (skimage, mirror edges) to (s+1)*cell, random shifts, then
    sum_i softmax(model(x * M_i))[c] * M_i / (N p1)."""
    from skimage.transform import resize
    rng = np.random.RandomState(seed)
    h, w = x.shape[-2:]
    cell = np.ceil(np.array([h, w]) / s)
    up = ((s + 1) * cell).astype(int)
    grid = (rng.rand(n, s, s) < p1).astype("float32")
    masks = np.empty((n, h, w), dtype="float32")
    for i in range(n):
        dx, dy = rng.randint(0, cell[0]), rng.randint(0, cell[1])
        masks[i] = resize(grid[i], up, order=1, mode="reflect", anti_aliasing=False)[dx:dx + h, dy:dy + w]
    masks = torch.from_numpy(masks)[:, None]
    sal = torch.zeros(h * w)
    with torch.no_grad():
        for i in range(0, n, batch):
            m = masks[i:i + batch]
            p = torch.softmax(model(m * x), dim=1)[:, target]
            sal += p @ m.view(len(m), -1)
    return sal.view(h, w) / n / p1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("suite", choices=["cam", "attribution"])
    ap.add_argument("--repeat", type=int, default=20)
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--lantern", default=os.path.join(target_dir, "release", "lantern"))
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        resnet = torchvision.models.resnet50(weights=None)
        resnet.load_state_dict(seeded_state_dict(resnet, 7))
        resnet.eval()
        if args.suite == "cam":
            from efficientnet_lite_pytorch import EfficientNet
            lite = EfficientNet.from_name("efficientnet-lite0")
            weights = os.path.join(os.environ.get("LANTERN_WEIGHTS_DIR", os.path.expanduser("~/.cache/lantern/weights")), "efficientnet-lite0-57934424.pth")
            lite.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            lite.eval()
            print("| model | pytorch-grad-cam Grad-CAM | Lantern Grad-CAM | ratio | Lantern class switch | ratio |")
            print("|---|---|---|---|---|---|")
            for name, model, layer, flags in [
                ("ResNet-50", resnet, resnet.layer4, ["--arch", "resnet50", "--layer", "layer4"]),
                ("EfficientNet-Lite0", lite, lite._conv_head, ["--model", weights, "--layer", "_conv_head"]),
            ]:
                with GradCAM(model=model, target_layers=[layer]) as cam:
                    py = timed(lambda: cam(input_tensor=x, targets=[ClassifierOutputTarget(1)]), args.repeat)
                ln = lantern(args.lantern, flags + ["--method", "gradcam"], args.repeat)
                full, switch = ln["explain_ms"], ln["switch_class_ms"]
                print(f"| {name} | {py:.1f} ms | {full:.1f} ms | {full / py:.2f}x | {switch:.2f} ms | {switch / py:.3f}x |", flush=True)
            return
        from captum.attr import IntegratedGradients, Occlusion
        target = int(resnet(x).argmax())
        print("| method (ResNet-50) | Python reference | time | Lantern | ratio |")
        print("|---|---|---|---|---|")
        cases = [
            ("Score-CAM (layer4)", "pytorch-grad-cam ScoreCAM",
             lambda: ScoreCAM(model=resnet, target_layers=[resnet.layer4])(input_tensor=x, targets=[ClassifierOutputTarget(target)]),
             ["--method", "scorecam", "--layer", "layer4", "--batch", "32"]),
            ("Integrated Gradients (50 steps)", "Captum IntegratedGradients",
             lambda: IntegratedGradients(resnet).attribute(x, target=target, n_steps=50),
             ["--method", "integratedgradients", "--steps", "50", "--batch", "25"]),
            ("Occlusion (16 px window, stride 8)", "Captum Occlusion",
             lambda: Occlusion(resnet).attribute(x, target=target, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8)),
             ["--method", "occlusion", "--window", "16", "--stride", "8", "--batch", "32"]),
            ("RISE (4000 masks)", "PyTorch, RISE paper recipe",
             lambda: rise_pytorch(resnet, x, target),
             ["--method", "rise", "--masks", "4000", "--batch", "32"]),
            # Lantern's approximate modes against the same exact references.
            ("Score-CAM, top 256 channels (approximate)", "pytorch-grad-cam ScoreCAM (exact)",
             lambda: ScoreCAM(model=resnet, target_layers=[resnet.layer4])(input_tensor=x, targets=[ClassifierOutputTarget(target)]),
             ["--method", "scorecam-topk", "--top-k", "256", "--layer", "layer4", "--batch", "32"]),
            ("RISE, early stop at 0.001 (approximate)", "PyTorch, RISE paper recipe (exact)",
             lambda: rise_pytorch(resnet, x, target),
             ["--method", "rise-early-stop", "--masks", "4000", "--tolerance", "0.001", "--batch", "32"]),
        ]
        for name, ref, fn, flags in cases:
            py = timed(fn, args.repeat, warmup=args.repeat > 1)
            ln = lantern(args.lantern, ["--arch", "resnet50"] + flags, args.repeat)
            full = ln["explain_ms"]
            print(f"| {name} | {ref} | {py / 1000:.2f} s | {full / 1000:.2f} s | {full / py:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
