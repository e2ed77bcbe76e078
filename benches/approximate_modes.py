"""Lantern's approximate modes against their exact methods, in one run on the same machine.

    python benches/approximate_modes.py [--lantern BIN] [--repeat N] [--python]

EfficientNet-Lite0 with its real ImageNet weights (.ci/fetch-weights), the test photos at
224x224, CPU. For each photo: Score-CAM, then Score-CAM on the top-k channels for several k;
RISE (4000 masks), then RISE with early stop for several tolerances. Reports, per setting, the
median time of the whole explanation (forward pass and method, from the JSON record; the median
over photos of the median over repeats), its ratio to the exact method, how much it skipped, and
the Pearson correlation of its map with the exact map (median over photos, and the lowest), and
the peak RSS of the process (/usr/bin/time).
Needs numpy; uses `lantern explain`, so any build of the binary works (the dev build by default).
With --python it also times the exact Python references on the same photos in the same run
(pytorch-grad-cam's ScoreCAM on `_conv_head`, the RISE paper's recipe with 4000 masks, as in
compare_pytorch.py; torch, torchvision, grad-cam, scikit-image and efficientnet-lite-pytorch) and
gives every row's ratio to its exact reference.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PHOTOS = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]
WEIGHTS = os.path.join(os.environ.get("LANTERN_WEIGHTS_DIR", os.path.expanduser("~/.cache/lantern/weights")), "efficientnet-lite0-57934424.pth")

SETTINGS = [
    ("scorecam", "scorecam", ["--layer", "_conv_head"]),
    ("scorecam", "scorecam-topk", ["--layer", "_conv_head", "--top-k", "256"]),
    ("scorecam", "scorecam-topk", ["--layer", "_conv_head", "--top-k", "128"]),
    ("rise", "rise", []),
    ("rise", "rise-early-stop", ["--tolerance", "0.005"]),
    ("rise", "rise-early-stop", ["--tolerance", "0.01"]),
    ("rise", "rise-early-stop", ["--tolerance", "0.02"]),
]


def explain(binary, photo, method, extra, out):
    """Time, map, approximation note and peak RSS (MB, by /usr/bin/time) of one explanation."""
    rss_file = os.path.join(out, "rss.txt")
    cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file, binary, "explain", os.path.join(ROOT, "tests", "fixtures", "photos", photo),
           "--model", WEIGHTS, "--arch", "efficientnet_lite0", "--device", "cpu", "--method", method, "--out", out, "--json"] + extra
    record = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)[0]
    ms = record["timing_ms"]["forward_ms"] + record["timing_ms"]["method_ms"]
    rss = int(open(rss_file).read().split()[-1]) / 1024
    return ms, np.load(record["files"]["npy"]).ravel(), record.get("approximation"), rss


def python_references(photos, repeat):
    """Median time (ms) of each exact Python reference on each photo: {"scorecam": [...], "rise": [...]}."""
    import sys
    import torch
    import torchvision.transforms as T
    from PIL import Image
    from efficientnet_lite_pytorch import EfficientNet
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    sys.path.insert(0, HERE)
    from compare_pytorch import rise_pytorch, timed
    lite = EfficientNet.from_name("efficientnet-lite0")
    lite.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    lite.eval()
    prep = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    out = {"scorecam": [], "rise": []}
    for photo in photos:
        x = prep(Image.open(os.path.join(ROOT, "tests", "fixtures", "photos", photo)).convert("RGB"))[None]
        with torch.no_grad():
            target = int(lite(x).argmax())
        with ScoreCAM(model=lite, target_layers=[lite._conv_head]) as cam:
            out["scorecam"].append(timed(lambda: cam(input_tensor=x, targets=[ClassifierOutputTarget(target)]), repeat, warmup=repeat > 1))
        out["rise"].append(timed(lambda: rise_pytorch(lite, x, target), repeat, warmup=repeat > 1))
        print(f"{photo:14} python: Score-CAM {out['scorecam'][-1]:.0f} ms, RISE {out['rise'][-1]:.0f} ms", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--lantern", default=os.path.join(target_dir, "debug", "lantern"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--python", action="store_true", help="also time the exact Python references")
    ap.add_argument("--photos", default=",".join(PHOTOS), help="comma-separated, from tests/fixtures/photos")
    args = ap.parse_args()
    photos = args.photos.split(",")
    reference = python_references(photos, args.repeat) if args.python else None
    rows = {}
    with tempfile.TemporaryDirectory() as out:
        for photo in photos:
            exact_maps = {}
            for exact, method, extra in SETTINGS:
                times, notes, rss = [], None, 0.0
                for _ in range(args.repeat):
                    ms, m, notes, peak = explain(args.lantern, photo, method, extra, out)
                    times.append(ms)
                    rss = max(rss, peak)
                if method == exact:
                    exact_maps[exact] = (m, statistics.median(times))
                e_map, e_ms = exact_maps[exact]
                r = float(np.corrcoef(m, e_map)[0, 1]) if np.std(m) > 0 and np.std(e_map) > 0 else float("nan")
                key = (method, " ".join(extra))
                py = reference[exact][photos.index(photo)] if reference else float("nan")
                rows.setdefault(key, []).append((statistics.median(times), statistics.median(times) / e_ms, r, notes, rss, statistics.median(times) / py))
                print(f"{photo:14} {method:16} {' '.join(extra):18} {statistics.median(times):9.0f} ms  r={r:.4f}  {rss:.0f} MB  {notes or ''}", flush=True)
    print()
    print("| method | setting | time (median) | time / exact | time / Python reference | Pearson r with exact (median, min) | peak RSS | skipped (one photo) |")
    print("|---|---|---|---|---|---|---|---|")
    for (method, setting), v in rows.items():
        ms = statistics.median(x[0] for x in v)
        ratio = statistics.median(x[1] for x in v)
        rs = [x[2] for x in v]
        note = next((x[3] for x in v if x[3]), "-")
        rss = max(x[4] for x in v)
        py = statistics.median(x[5] for x in v)
        setting = " ".join(a for a in setting.split() if a not in ("--layer", "_conv_head"))
        print(f"| {method} | {setting or 'exact'} | {ms / 1000:.2f} s | {ratio:.2f}x | {py:.2f}x | {statistics.median(rs):.4f}, {min(rs):.4f} | {rss:.0f} MB | {note} |")


if __name__ == "__main__":
    main()
