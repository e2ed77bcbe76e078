"""Lantern's approximate modes against their exact methods, in one run on the same machine.

    python benches/approximate_modes.py [--lantern BIN] [--repeat N]

EfficientNet-Lite0 with its real ImageNet weights (.ci/fetch-weights), the test photos at
224x224, CPU. For each photo: Score-CAM, then Score-CAM on the top-k channels for several k;
RISE (4000 masks), then RISE with early stop for several tolerances. Reports, per setting, the
median time of the whole explanation (forward pass and method, from the JSON record; the median
over photos of the median over repeats), its ratio to the exact method, how much it skipped, and
the Pearson correlation of its map with the exact map (median over photos, and the lowest).
Needs numpy; uses `lantern explain`, so any build of the binary works (the dev build by default).
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
    ("scorecam", "scorecam", []),
    ("scorecam", "scorecam-topk", ["--top-k", "512"]),
    ("scorecam", "scorecam-topk", ["--top-k", "256"]),
    ("scorecam", "scorecam-topk", ["--top-k", "128"]),
    ("rise", "rise", []),
    ("rise", "rise-early-stop", ["--tolerance", "0.0003"]),
    ("rise", "rise-early-stop", ["--tolerance", "0.001"]),
    ("rise", "rise-early-stop", ["--tolerance", "0.003"]),
]


def explain(binary, photo, method, extra, out):
    cmd = [binary, "explain", os.path.join(ROOT, "tests", "fixtures", "photos", photo), "--model", WEIGHTS,
           "--arch", "efficientnet_lite0", "--device", "cpu", "--method", method, "--out", out, "--json"] + extra
    record = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)[0]
    ms = record["timing_ms"]["forward_ms"] + record["timing_ms"]["method_ms"]
    return ms, np.load(record["files"]["npy"]).ravel(), record.get("approximation")


def main():
    ap = argparse.ArgumentParser()
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--lantern", default=os.path.join(target_dir, "debug", "lantern"))
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as out:
        for photo in PHOTOS:
            exact_maps = {}
            for exact, method, extra in SETTINGS:
                times, notes = [], None
                for _ in range(args.repeat):
                    ms, m, notes = explain(args.lantern, photo, method, extra, out)
                    times.append(ms)
                if method == exact:
                    exact_maps[exact] = (m, statistics.median(times))
                e_map, e_ms = exact_maps[exact]
                r = float(np.corrcoef(m, e_map)[0, 1]) if np.std(m) > 0 and np.std(e_map) > 0 else float("nan")
                key = (method, " ".join(extra))
                rows.setdefault(key, []).append((statistics.median(times), statistics.median(times) / e_ms, r, notes))
                print(f"{photo:14} {method:16} {' '.join(extra):18} {statistics.median(times):9.0f} ms  r={r:.4f}  {notes or ''}", flush=True)
    print()
    print("| method | setting | time (median) | time / exact | Pearson r with exact (median, min) | skipped (one photo) |")
    print("|---|---|---|---|---|---|")
    for (method, setting), v in rows.items():
        ms = statistics.median(x[0] for x in v)
        ratio = statistics.median(x[1] for x in v)
        rs = [x[2] for x in v]
        note = next((x[3] for x in v if x[3]), "-")
        print(f"| {method} | {setting or 'exact'} | {ms / 1000:.2f} s | {ratio:.2f}x | {statistics.median(rs):.4f}, {min(rs):.4f} | {note} |")


if __name__ == "__main__":
    main()
