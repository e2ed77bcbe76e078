#!/usr/bin/env python3
"""Generate the hand-made hostile weights files of `tests/fuzz_regressions.rs`: PyTorch files that
need torch to write, each small on disk and hostile in what it declares.

    python tests/reference/make_fuzz_fixtures.py

Outputs (tests/fixtures/fuzz/state_dict/hostile/):
  truncated_zip.pth     the first half of a valid zip-format `.pth` (torch.save of two tensors)
  expanded_legacy.pth   legacy pickle format: {"w": torch.zeros(1).expand(1_000_000)}, a view
                        with stride 0 whose storage holds one float but which materializes 4 MB
  expanded_zip.pth      the same in the zip format
  absurd_shape.pth      legacy pickle format: {"w": torch.zeros(1).expand(2**31, 2**31)}, a shape
                        of 2**62 elements (2**64 bytes as float32) over a one-float storage
"""
import io
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "fuzz" / "state_dict" / "hostile"


def saved(obj, zip_format):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    valid = saved({"fc.weight": torch.ones(4, 8), "fc.bias": torch.zeros(4)}, True)
    (OUT / "truncated_zip.pth").write_bytes(valid[: len(valid) // 2])
    expanded = {"w": torch.zeros(1).expand(1_000_000)}
    (OUT / "expanded_legacy.pth").write_bytes(saved(expanded, False))
    (OUT / "expanded_zip.pth").write_bytes(saved(expanded, True))
    (OUT / "absurd_shape.pth").write_bytes(saved({"w": torch.zeros(1).expand(2**31, 2**31)}, False))
    for p in sorted(OUT.iterdir()):
        print(p.name, p.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
