"""Seed corpora for the fuzz targets: tiny valid inputs of every format each target reads.

Writes fuzz/corpus/<target>/ (git-ignored; libFuzzer adds what it finds there). Needs Pillow,
NumPy, torch and pycocotools; run once before the first `cargo fuzz run`:

    python3 fuzz/make_seeds.py
"""

import io
import json
import struct
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as coco_mask

FUZZ = Path(__file__).resolve().parent
FIXTURES = FUZZ.parent / "tests" / "fixtures"


def target_dir(name):
    d = FUZZ / "corpus" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def image_seeds():
    out = target_dir("image_decode")
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB")
    tall = Image.fromarray(rng.integers(0, 256, (17, 3, 3), dtype=np.uint8), "RGB")
    variants = {
        "rgb.png": (rgb, "PNG", {}),
        "gray.png": (rgb.convert("L"), "PNG", {}),
        "rgba.png": (rgb.convert("RGBA"), "PNG", {}),
        "palette.png": (rgb.convert("P"), "PNG", {}),
        "gray16.png": (rgb.convert("I;16"), "PNG", {}),
        "tall.png": (tall, "PNG", {}),
        "baseline.jpg": (rgb, "JPEG", {"quality": 80}),
        "progressive.jpg": (rgb, "JPEG", {"quality": 80, "progressive": True}),
        "gray.jpg": (rgb.convert("L"), "JPEG", {}),
        "cmyk.jpg": (rgb.convert("CMYK"), "JPEG", {}),
        "lossy.webp": (rgb, "WEBP", {"quality": 50}),
        "lossless.webp": (rgb, "WEBP", {"lossless": True}),
        "rgb.bmp": (rgb, "BMP", {}),
        "palette.bmp": (rgb.convert("P"), "BMP", {}),
        "rgb.tiff": (rgb, "TIFF", {}),
        "deflate.tiff": (rgb, "TIFF", {"compression": "tiff_deflate"}),
        "gray.tiff": (rgb.convert("L"), "TIFF", {}),
        "frame.gif": (rgb, "GIF", {}),
    }
    for name, (img, fmt, kw) in variants.items():
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        (out / name).write_bytes(buf.getvalue())
    (out / "coffee_197x149.jpg").write_bytes((FIXTURES / "preprocess" / "coffee_197x149.jpg").read_bytes())


def safetensors_bytes(tensors):
    """The safetensors layout: u64 header length, JSON header, then the raw little-endian data."""
    header, data = {}, b""
    for name, (dtype, arr) in tensors.items():
        raw = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def state_dict_seeds():
    out = target_dir("state_dict")
    g = torch.Generator().manual_seed(0)
    small = {
        "fc.weight": torch.randn(2, 3, generator=g),
        "fc.bias": torch.zeros(2),
        "bn.running_var": torch.ones(2, dtype=torch.float64),
        "bn.weight": torch.ones(2, dtype=torch.float16),
        "bn.num_batches_tracked": torch.tensor(3),
    }
    resnet_like = {"conv1.weight": torch.randn(2, 3, 1, 1, generator=g), "layer1.0.conv1.weight": torch.randn(2, 2, 1, 1, generator=g)}
    dicts = {
        "small": small,
        "wrapped": {"state_dict": {f"module.{k}": v for k, v in small.items()}},
        "resnet_like": resnet_like,
        "bf16": {"w": torch.randn(4, generator=g).to(torch.bfloat16)},
        "strided": {"t": torch.randn(3, 4, generator=g).t()},
    }
    for name, d in dicts.items():
        buf = io.BytesIO()
        torch.save(d, buf)
        (out / f"{name}.pth").write_bytes(buf.getvalue())
        buf = io.BytesIO()
        torch.save(d, buf, _use_new_zipfile_serialization=False)
        (out / f"{name}_legacy.pth").write_bytes(buf.getvalue())
    f32 = np.arange(6, dtype="<f4").reshape(2, 3)
    (out / "small.safetensors").write_bytes(
        safetensors_bytes({"fc.weight": ("F32", f32), "fc.bias": ("F16", np.zeros(2, "<f2")), "n": ("I64", np.array([3], "<i8"))})
    )
    (out / "empty.safetensors").write_bytes(safetensors_bytes({}))


def pack(selector, parts):
    """The annotations target's input: a format selector byte, then files separated by NUL."""
    return bytes([selector]) + b"\0".join(parts)


def annotation_seeds():
    out = target_dir("annotations")
    cub = FIXTURES / "datasets" / "cub"
    files = ["classes.txt", "image_class_labels.txt", "bounding_boxes.txt", "train_test_split.txt"]
    parts = [(cub / f).read_bytes() for f in files] + [b"1 a.png\n2 a.png\n3 missing.png\n"]
    (out / "cub").write_bytes(pack(0, parts))
    (out / "cub_one").write_bytes(pack(0, [b"1 bird\n", b"1 1\n", b"1 0 0 4 4\n", b"1 0\n", b"1 a.png\n"]))
    voc = FIXTURES / "datasets" / "voc"
    xml = (voc / "Annotations" / "img1.xml").read_bytes()
    (out / "voc").write_bytes(pack(1, [xml]))
    (out / "voc_split").write_bytes(pack(1, [xml, b"a\n"]))
    coco = (FIXTURES / "datasets" / "coco" / "annotations.json").read_bytes()
    (out / "coco").write_bytes(pack(2, [coco]))
    m = np.zeros((12, 16), dtype=np.uint8, order="F")
    m[2:7, 3:11] = 1
    rle = coco_mask.encode(m)
    compressed = {
        "images": [{"id": 1, "file_name": "a.png", "width": 16, "height": 12}],
        "annotations": [
            {"image_id": 1, "category_id": 1, "bbox": [3, 2, 8, 5], "segmentation": {"size": [12, 16], "counts": rle["counts"].decode()}},
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "segmentation": [[0, 0, 2, 0, 2, 2]]},
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (out / "coco_compressed_rle").write_bytes(pack(2, [json.dumps(compressed).encode()]))


if __name__ == "__main__":
    image_seeds()
    state_dict_seeds()
    annotation_seeds()
    for d in sorted((FUZZ / "corpus").iterdir()):
        print(d.name, len(list(d.iterdir())), "seeds")
