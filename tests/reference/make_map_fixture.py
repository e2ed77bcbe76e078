#!/usr/bin/env python3
"""Reference fixture for Lantern's mean average precision (tests/map_metric.rs).

Writes tests/fixtures/map/cases.json: multi-label score matrices (float32) with their
truth, and scikit-learn's `average_precision_score(truth, scores, average=None)` per
label and `average="macro"` over labels. The cases cover random scores, heavy ties
(scores rounded to one decimal, and constant columns), a label that every item has,
and a label that no item has (scikit-learn warns and gives 0, as Lantern does).

How it was run (CPU only):

    pip install scikit-learn
    python3 tests/reference/make_map_fixture.py

Versions used are recorded in the fixture ("generator").
"""
import json
import os
import warnings
from importlib.metadata import version

import numpy as np
from sklearn.metrics import average_precision_score

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "map", "cases.json")


def case(name, scores, truth):
    scores = np.asarray(scores, dtype=np.float32)
    truth = np.asarray(truth, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_label = average_precision_score(truth, scores, average=None)
        macro = average_precision_score(truth, scores, average="macro")
    assert np.all(np.isfinite(per_label)), name
    return {
        "name": name,
        "labels": int(scores.shape[1]),
        "scores": [float(v) for v in scores.ravel()],
        "truth": [bool(v) for v in truth.ravel()],
        "per_label": [float(v) for v in per_label],
        "macro": float(macro),
    }


def main():
    rng = np.random.default_rng(12)
    cases = []
    # Random scores, 6 labels, some correlation between score and truth.
    truth = rng.random((40, 6)) < 0.35
    scores = rng.random((40, 6)) + 0.6 * truth
    cases.append(case("random", scores, truth))
    # Heavy ties: scores rounded to one decimal, a constant column.
    truth = rng.random((50, 5)) < 0.4
    scores = np.round(rng.random((50, 5)) * 0.7 + 0.3 * truth, 1)
    scores[:, 2] = 0.5
    cases.append(case("ties", scores, truth))
    # Sigmoid-like probabilities with exact duplicates, a label every item has and one no item has.
    truth = rng.random((30, 4)) < 0.5
    truth[:, 1] = True
    truth[:, 3] = False
    logits = rng.normal(size=(30, 4)) + 1.5 * truth
    scores = (1 / (1 + np.exp(-np.round(logits, 1)))).astype(np.float32)
    cases.append(case("degenerate_labels", scores, truth))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    record = {
        "generator": f"tests/reference/make_map_fixture.py, scikit-learn {version('scikit-learn')}, numpy {version('numpy')}",
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(record, f, indent=0)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
