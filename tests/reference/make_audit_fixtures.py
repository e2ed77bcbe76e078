#!/usr/bin/env python3
"""Reference fixtures for Lantern's audit store (tests/audit_store.rs, tests/audit_cli.rs).

1. kappa.json: pairs of accept/reject label lists (seeded random raters of varied
   size, bias and correlation, plus edge cases) with scikit-learn's
   `sklearn.metrics.cohen_kappa_score`; null where scikit-learn's kappa is NaN
   (undefined: both raters gave one and the same label to everything).

2. coco_export.json + coco_commands.json: runs the `lantern` binary given with
   --lantern through the commands in COMMANDS (a small procedural dataset, a new
   audit, verdicts with corrected boxes, `lantern audit export --format coco`),
   loads the export with pycocotools and checks it: the file loads (COCO()),
   every annotation's mask (annToMask) covers exactly its bbox area, bboxes match
   the corrected boxes with the +1 pixel convention, and COCOeval scores the
   annotations against themselves at AP = 1.0. The checked export and the
   command list are written beside kappa.json; the Rust test replays the
   commands and asserts its export equals the checked one.

How it was run (CPU only, no GPU needed):

    pip install scikit-learn pycocotools
    export CARGO_TARGET_DIR=$HOME/.cache/lantern/target
    cargo build --bin lantern
    python3 tests/reference/make_audit_fixtures.py --lantern $CARGO_TARGET_DIR/debug/lantern

Versions used are recorded in the fixtures ("generator").
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import tempfile
import warnings
from importlib.metadata import version

import numpy as np
from sklearn.metrics import cohen_kappa_score

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "audit")

# {data}, {audit} and {out} are replaced by temporary paths.
COMMANDS = [
    ["synth", "--out", "{data}", "--count", "6", "--seed", "13", "--size", "64"],
    ["audit", "new", "{audit}", "--data", "{data}", "--format", "synth", "--method", "gradcam", "--threshold", "0.4", "--annotator", "ana"],
    ["audit", "record", "{audit}", "000000", "accept"],
    ["audit", "record", "{audit}", "000001", "reject", "--box", "3,4,40,50", "--comment", "shifted", "--iou", "0.31"],
    ["audit", "record", "{audit}", "000002", "accept", "--box", "0,0,63,63"],
    ["audit", "record", "{audit}", "000003", "flag", "--comment", "two shapes?"],
    ["audit", "record", "{audit}", "000004", "reject", "--box", "10,12,20,30", "--annotator", "ben"],
    ["audit", "record", "{audit}", "000004", "reject", "--box", "11,12,21,30", "--annotator", "ben"],
    ["audit", "record", "{audit}", "000005", "reject"],
    ["audit", "export", "{audit}", "--format", "coco", "--out", "{out}"],
]
# Corrected box (x0, y0, x1, y1) of each image that must be exported, from COMMANDS.
EXPECTED_BOXES = {"000001": (3, 4, 40, 50), "000002": (0, 0, 63, 63), "000004": (11, 12, 21, 30)}


def kappa_cases():
    rng = np.random.RandomState(20260113)
    cases = []
    for n, p_accept, agree in [(5, 0.5, 0.8), (20, 0.7, 0.9), (50, 0.5, 0.5), (100, 0.9, 0.95), (400, 0.3, 0.7), (37, 0.6, 0.2)]:
        a = rng.rand(n) < p_accept
        b = np.where(rng.rand(n) < agree, a, rng.rand(n) < p_accept)
        cases.append((f"random n={n} p={p_accept} agree={agree}", a, b))
    t, f = True, False
    cases += [
        ("identical", np.array([t, f, t, t, f]), np.array([t, f, t, t, f])),
        ("opposite", np.array([t, f, t, f]), np.array([f, t, f, t])),
        ("one rater constant", np.array([t, t, t, t, t, t]), np.array([t, f, t, t, f, t])),
        ("both constant, same label (undefined)", np.array([t, t, t]), np.array([t, t, t])),
        ("both constant, different labels", np.array([t, t, t]), np.array([f, f, f])),
        ("single item", np.array([f]), np.array([f])),
    ]
    out = []
    for name, a, b in cases:
        la = ["accept" if x else "reject" for x in a]
        lb = ["accept" if x else "reject" for x in b]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the undefined case warns and returns NaN
            k = float(cohen_kappa_score(la, lb))
        out.append({"name": name, "a": la, "b": lb, "kappa": None if math.isnan(k) else k})
    return out


def check_coco(lantern):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    tmp = tempfile.mkdtemp()
    try:
        paths = {"data": os.path.join(tmp, "data"), "audit": os.path.join(tmp, "a.db"), "out": os.path.join(tmp, "coco.json")}
        for cmd in COMMANDS:
            args = [a.format(**paths) for a in cmd]
            subprocess.run([lantern] + args, check=True, stdout=subprocess.DEVNULL)
        coco = COCO(paths["out"])
        assert len(coco.getImgIds()) == 6, coco.getImgIds()
        assert len(coco.getCatIds()) >= 1
        anns = coco.loadAnns(coco.getAnnIds())
        assert len(anns) == len(EXPECTED_BOXES), anns
        by_image = {img["id"]: img for img in coco.loadImgs(coco.getImgIds())}
        for ann in anns:
            img = by_image[ann["image_id"]]
            x0, y0, x1, y1 = EXPECTED_BOXES[img["lantern_id"]]
            assert ann["bbox"] == [x0, y0, x1 - x0 + 1, y1 - y0 + 1], ann
            mask = coco.annToMask(ann)
            assert mask.shape == (img["height"], img["width"]), mask.shape
            assert mask.sum() == ann["area"] == (x1 - x0 + 1) * (y1 - y0 + 1), (mask.sum(), ann)
            ys, xs = np.nonzero(mask)
            assert (xs.min(), ys.min(), xs.max(), ys.max()) == (x0, y0, x1, y1), ann
        dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0} for a in anns]
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        assert abs(ev.stats[0] - 1.0) < 1e-9, ev.stats
        shutil.copyfile(paths["out"], os.path.join(OUT, "coco_export.json"))
        with open(os.path.join(OUT, "coco_commands.json"), "w") as f:
            json.dump({"generator": f"make_audit_fixtures.py, pycocotools {version('pycocotools')}", "commands": COMMANDS}, f, indent=1)
            f.write("\n")
        print(f"pycocotools loaded the export: {len(anns)} annotations on {len(by_image)} images, AP {ev.stats[0]:.3f}")
    finally:
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lantern", help="the lantern binary, for the COCO export check")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    cases = kappa_cases()
    with open(os.path.join(OUT, "kappa.json"), "w") as f:
        json.dump({"generator": f"make_audit_fixtures.py, scikit-learn {version('scikit-learn')}", "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} kappa cases")
    if args.lantern:
        check_coco(args.lantern)


if __name__ == "__main__":
    main()
