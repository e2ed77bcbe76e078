#!/usr/bin/env python3
"""Generate the fixture of wsolevaluation's evaluation protocol: how an image, its boxes and its
mask become the model's 224x224 frame (no center crop).

    python tests/reference/make_wsol_protocol_fixtures.py \
        --wsoleval-git /work/.mirror/clovaai+wsolevaluation/repo

Reference code (nothing re-implemented here):
  * image: data_loaders.py's `test` transform, torchvision `transforms.Resize((224, 224))` on the
    PIL image (PIL bilinear, antialiased); the 8-bit result is saved before ToTensor/Normalize.
  * boxes: evaluation.resize_bbox(box, (w, h), (224, 224)), as BoxEvaluator._load_resized_boxes.
  * mask:  evaluation.load_mask_image(path, (224, 224)) > 0.5, as get_mask (OpenCV INTER_NEAREST).

The images are drawn so that the sampling rules matter: 1-pixel stripes and checks in the mask,
sizes whose scale factors are not exact in binary (344 and 230 -> 224: OpenCV's nearest index
floor(x * (1 / (224 / 344))) differs from floor(x * 344 / 224) there), and many boxes.

Outputs (default tests/fixtures/wsol_protocol/):
  <name>.png          the RGB image, <name>_mask.png its mask (0, 1 or 255)
  <name>_224.png      the image after Resize((224, 224))
  <name>_mask_224.png the mask after load_mask_image > 0.5, as 0/255
  expected.json       sizes, original boxes and resized boxes per image, provenance
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wsol_fixtures import load_wsolevaluation  # noqa: E402

SEED = 20250611
SIDE = 224
SIZES = {'wide': (344, 230), 'cub_like': (500, 333)}


def draw(rng, w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    image = np.stack([
        255 * xx / (w - 1),
        255 * yy / (h - 1),
        127.5 + 127.5 * np.sin(xx / 7.0) * np.cos(yy / 5.0),
    ], axis=-1)
    # a few flat rectangles with sharp edges, so the resample's filter weights show
    for _ in range(6):
        x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
        x1, y1 = x0 + rng.integers(5, 60), y0 + rng.integers(5, 60)
        image[y0:y1, x0:x1] = rng.integers(0, 256, 3)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    mask = np.zeros((h, w), np.uint8)
    for _ in range(5):
        x0, y0 = rng.integers(0, w - 10), rng.integers(0, h - 10)
        mask[y0:y0 + rng.integers(3, 90), x0:x0 + rng.integers(3, 90)] = 255
    mask[10:60, 100:160][:, ::2] = 255                # 1-pixel vertical stripes
    mask[h - 60:h - 5, 20:80][::2, :] = 255           # 1-pixel horizontal stripes
    mask[h // 2:h // 2 + 40, w - 50:w - 5][(yy[:40, :45].astype(int) + xx[:40, :45].astype(int)) % 2 == 0] = 1
    boxes = []
    for _ in range(40):
        x0, x1 = sorted(rng.integers(0, w, 2))
        y0, y1 = sorted(rng.integers(0, h, 2))
        boxes.append([int(x0), int(y0), int(x1), int(y1)])
    boxes.append([0, 0, w - 1, h - 1])
    return image, mask, boxes


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--wsoleval-dir', default=os.environ.get('WSOLEVAL_DIR'))
    ap.add_argument('--wsoleval-git', default=os.environ.get('WSOLEVAL_GIT'))
    ap.add_argument('--out', default=os.path.join(here, '..', 'fixtures', 'wsol_protocol'))
    args = ap.parse_args()
    evaluation, _, provenance = load_wsolevaluation(args.wsoleval_dir, args.wsoleval_git)
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    resize = transforms.Resize((SIDE, SIDE))
    samples = []
    for name, (w, h) in SIZES.items():
        image, mask, boxes = draw(rng, w, h)
        Image.fromarray(image).save(os.path.join(args.out, name + '.png'))
        mask_path = os.path.join(args.out, name + '_mask.png')
        Image.fromarray(mask).save(mask_path)
        view = resize(Image.open(os.path.join(args.out, name + '.png')).convert('RGB'))
        view.save(os.path.join(args.out, name + '_224.png'))
        mask_224 = evaluation.load_mask_image(mask_path, (SIDE, SIDE)) > 0.5
        Image.fromarray(mask_224.astype(np.uint8) * 255).save(
            os.path.join(args.out, name + '_mask_224.png'))
        resized = [list(evaluation.resize_bbox(b, (w, h), (SIDE, SIDE))) for b in boxes]
        samples.append(dict(name=name, width=w, height=h, boxes=boxes, resized_boxes=resized))
    import cv2
    import torchvision
    expected = dict(
        meta=dict(seed=SEED, side=SIDE, wsolevaluation=provenance, cv2=cv2.__version__,
                  torchvision=torchvision.__version__, pillow=Image.__version__),
        samples=samples)
    with open(os.path.join(args.out, 'expected.json'), 'w') as f:
        json.dump(expected, f, separators=(',', ':'))
        f.write('\n')
    for s in samples:
        print(s['name'], s['width'], s['height'], len(s['boxes']), 'boxes')


if __name__ == '__main__':
    main()
