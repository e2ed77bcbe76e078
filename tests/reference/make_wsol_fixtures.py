#!/usr/bin/env python3
"""Generate WSOL-metric reference fixtures with clovaai/wsolevaluation's own code.

The Rust WSOL metrics (MaxBoxAcc, MaxBoxAccV2, PxAP, top-1 / GT-known loc) are
tested against the numbers written here. Everything metric-related is computed
by wsolevaluation's functions/classes, imported from a checkout that is NOT part
of this repository:

    WSOLEVAL_DIR=/path/to/wsolevaluation python tests/reference/make_wsol_fixtures.py
    # or: a (bare) git repository, exported to a temp dir with `git archive`
    python tests/reference/make_wsol_fixtures.py \
        --wsoleval-git /work/.mirror/clovaai+wsolevaluation/repo

Used from wsolevaluation (evaluation.py, commit recorded in expected.json):
    compute_bboxes_from_scoremaps  (multi_contour_eval False -> V1, True -> V2)
    calculate_multiple_iou
    BoxEvaluator.__init__/accumulate/compute
    MaskEvaluator.__init__/accumulate/compute
    data_loaders.configure_metadata + metadata files written to a temp dir

Adaptations (none touches the metric code paths):
  * numpy >= 1.24 removed np.float; it is re-added as `float` before import.
  * `munch` (only used by configure_metadata), torch/torchvision/PIL (only used
    by data-loading classes we never instantiate) get minimal stand-ins when
    they are not installed.
  * BoxEvaluator.__init__ resizes GT boxes from the image size to 224x224.
    Our score maps are already in GT-box coordinates (48x64), so after
    __init__ the evaluator's gt_bboxes are set to its original_bboxes.
  * MaskEvaluator.accumulate obtains the GT mask via the module-level function
    evaluation.get_mask (PNG loading + resize to 224x224). It is replaced by a
    lookup returning our 48x64 uint8 mask (1 = fg, 0 = bg, 255 = ignore),
    i.e. exactly the array get_mask would return.

Outputs (default --out tests/fixtures/wsol next to this repo's tests/):
    scoremaps.npy  float32 [N, 48, 64], each map attains 0.0 and 1.0
    gt_masks.npy   uint8   [N, 48, 64], values in {0, 1, 255}
    expected.json  all expected values (see "meta"/"layout" inside)
"""
import argparse
import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np

H, W = 48, 64
SEED = 20240607
CAM_CURVE_INTERVAL = 0.01
IOU_THRESHOLD_LIST = [30, 50, 70]
# files of wsolevaluation that evaluation.py needs
_WSOL_FILES = ['evaluation.py', 'util.py', 'data_loaders.py', 'config.py']


# ----------------------------------------------------------------------------
# Loading wsolevaluation
# ----------------------------------------------------------------------------
def _export_git(git_dir, dest):
    """`git archive HEAD <files>` of a (bare) repository into dest."""
    archive = subprocess.run(
        ['git', '--git-dir', git_dir, 'archive', 'HEAD'] + _WSOL_FILES,
        check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', dest], input=archive, check=True)
    commit = subprocess.run(['git', '--git-dir', git_dir, 'rev-parse', 'HEAD'],
                            check=True, capture_output=True,
                            text=True).stdout.strip()
    return commit


def _stub_module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def _ensure_import_deps():
    # numpy >= 1.24 removed the deprecated alias used throughout wsolevaluation
    if 'float' not in np.__dict__:
        np.float = float
    try:
        import munch  # noqa: F401
    except ImportError:
        class Munch(dict):
            __getattr__ = dict.__getitem__
            __setattr__ = dict.__setitem__
        _stub_module('munch', Munch=Munch)
    try:
        import torch.utils.data  # noqa: F401
    except ImportError:
        torch = _stub_module('torch')
        torch.utils = _stub_module('torch.utils')
        torch.utils.data = _stub_module(
            'torch.utils.data', Dataset=object, DataLoader=None)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        _stub_module('torchvision').transforms = _stub_module(
            'torchvision.transforms')
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        _stub_module('PIL').Image = _stub_module('PIL.Image')


def load_wsolevaluation(wsol_dir=None, wsol_git=None):
    """Returns (evaluation module, data_loaders module, provenance dict)."""
    provenance = {}
    if wsol_dir is None:
        if wsol_git is None:
            raise SystemExit('Give WSOLEVAL_DIR / --wsoleval-dir (a checkout) '
                             'or WSOLEVAL_GIT / --wsoleval-git (a git repo).')
        wsol_dir = tempfile.mkdtemp(prefix='wsoleval_')
        atexit.register(shutil.rmtree, wsol_dir, ignore_errors=True)
        provenance['git_commit'] = _export_git(wsol_git, wsol_dir)
    else:
        provenance['git_commit'] = None
        try:   # only if wsol_dir is itself the top of a git checkout
            top, commit = subprocess.run(
                ['git', '-C', wsol_dir, 'rev-parse', '--show-toplevel',
                 'HEAD'], check=True, capture_output=True,
                text=True).stdout.split()
            if os.path.realpath(top) == os.path.realpath(wsol_dir):
                provenance['git_commit'] = commit
        except (subprocess.CalledProcessError, FileNotFoundError,
                ValueError):
            pass
    provenance['sha256'] = {}
    for fname in ['evaluation.py', 'util.py']:
        with open(os.path.join(wsol_dir, fname), 'rb') as f:
            provenance['sha256'][fname] = hashlib.sha256(f.read()).hexdigest()
    _ensure_import_deps()
    sys.path.insert(0, wsol_dir)
    import evaluation  # noqa: E402  (wsolevaluation/evaluation.py)
    import data_loaders  # noqa: E402
    return evaluation, data_loaders, provenance


# ----------------------------------------------------------------------------
# Score maps, GT boxes, GT masks
# ----------------------------------------------------------------------------
YY, XX = np.mgrid[0:H, 0:W].astype(np.float64)


def gauss(cy, cx, sy, sx, amp=1.0):
    return amp * np.exp(-((YY - cy) ** 2 / (2 * sy ** 2)
                          + (XX - cx) ** 2 / (2 * sx ** 2)))


def ellipse(cy, cx, ry, rx):
    return ((YY - cy) / ry) ** 2 + ((XX - cx) / rx) ** 2 <= 1.0


def rect(x0, y0, x1, y1):
    """Inclusive x0y0x1y1 rectangle as a boolean mask."""
    m = np.zeros((H, W), bool)
    m[y0:y1 + 1, x0:x1 + 1] = True
    return m


def normalize(f):
    f = np.asarray(f, np.float64)
    f = (f - f.min()) / (f.max() - f.min())
    return f.astype(np.float32)


def smooth(f, sigma):
    """Separable Gaussian blur (reflect padding), numpy only."""
    r = int(3 * sigma)
    k = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    g = np.pad(f, r, mode='reflect')
    g = np.apply_along_axis(lambda v: np.convolve(v, k, mode='valid'), 1, g)
    g = np.apply_along_axis(lambda v: np.convolve(v, k, mode='valid'), 0, g)
    return g


def make_mask(fg, ignore=None):
    """GT mask as wsolevaluation's get_mask returns it: fg -> 1, (ignore
    region minus fg) -> 255, else 0."""
    m = fg.astype(np.uint8)
    if ignore is not None:
        m[np.logical_and(ignore, np.logical_not(fg))] = 255
    return m


def build_maps(rng):
    maps = []

    def add(name, desc, scoremap, gt_boxes, mask, class_correct):
        scoremap = np.asarray(scoremap)
        assert scoremap.dtype == np.float32 and scoremap.shape == (H, W)
        assert scoremap.min() == 0.0 and scoremap.max() == 1.0, name
        maps.append(dict(name=name, description=desc, scoremap=scoremap,
                         gt_boxes=[list(map(int, b)) for b in gt_boxes],
                         gt_mask=mask, class_correct=bool(class_correct)))

    # 0 single Gaussian blob
    add('single_gaussian', 'one anisotropic Gaussian blob (sy=7, sx=9)',
        normalize(gauss(22, 30, 7, 9)), [[16, 11, 44, 33]],
        make_mask(ellipse(22, 30, 10, 13)), True)

    # 1 two blobs of different size and height
    f = gauss(20, 18, 8, 9) + 0.8 * gauss(34, 50, 3, 3.5)
    add('two_blobs', 'large blob (peak 1) + small blob (peak 0.8)',
        normalize(f), [[5, 6, 32, 34], [44, 28, 56, 40]],
        make_mask(ellipse(20, 18, 12, 13) | ellipse(34, 50, 5, 6),
                  rect(40, 24, 60, 44)), True)

    # 2 ring (blob with a hole); hole region is "ignore" for PxAP
    r = np.sqrt((YY - 24) ** 2 + ((XX - 32) * 0.9) ** 2)
    add('ring', 'annulus r0=13 (hole in the middle => hole contours)',
        normalize(np.exp(-(r - 13) ** 2 / (2 * 3.0 ** 2))), [[14, 8, 50, 40]],
        make_mask((r >= 9) & (r <= 17), r < 9), False)

    # 3 i.i.d. uniform noise, 2x2 blocks (keeps the V2 box lists small)
    f = np.kron(rng.uniform(size=(H // 2, W // 2)), np.ones((2, 2)))
    add('block_noise', 'uniform noise in 2x2 blocks (many contours/holes)',
        normalize(f), [[10, 10, 40, 30]],
        make_mask(rect(20, 12, 44, 36), rect(0, 0, W - 1, 3)), True)

    # 4 near-constant map with one peak, a single exact-0 pixel in a corner
    f = 0.4 + 0.002 * rng.uniform(size=(H, W)) + 0.6 * gauss(10, 50, 1.5, 1.5)
    f[0, 0] = 0.0
    add('near_constant_peak',
        'flat 0.4(+tiny noise) plateau, one sharp peak, f[0,0]=0',
        normalize(f), [[47, 7, 53, 13]], make_mask(ellipse(10, 50, 3, 3)),
        True)

    # 5 several equal-area (area 0) isolated pixels at high thresholds
    f = 0.25 * XX / (W - 1) + 0.5 * gauss(24, 44, 4, 4)
    for (y, x) in [(6, 9), (6, 40), (15, 25), (30, 5), (30, 58), (41, 33)]:
        f[y, x] = 1.0
    for (y, x) in [(12, 52), (36, 20)]:   # 2-pixel lines: also area 0
        f[y, x:x + 2] = 0.7
    add('equal_isolated_pixels',
        '6 isolated 1.0 pixels + 2 two-pixel 0.7 segments (all contour '
        'area 0 => V1 tie-break), weak gradient + blob underneath',
        normalize(f), [[8, 5, 10, 7], [57, 29, 59, 31]],
        make_mask(rect(8, 5, 10, 7) | rect(57, 29, 59, 31)), True)

    # 6 equal-area 3x3 plateaus (area 4 ties) + 2x2 plateaus
    f = 0.05 * YY / (H - 1)
    for (y, x) in [(5, 30), (5, 50), (20, 8), (33, 40)]:
        f[y:y + 3, x:x + 3] = 1.0
    for (y, x) in [(14, 20), (40, 12), (40, 56)]:
        f[y:y + 2, x:x + 2] = 0.6
    add('equal_area_squares',
        'four identical 3x3 plateaus (1.0), three 2x2 plateaus (0.6)',
        normalize(f), [[30, 5, 32, 7]],
        make_mask(rect(30, 5, 32, 7) | rect(50, 5, 52, 7)), False)

    # 7 blobs touching the image border (bottom-right corner and top edge)
    f = gauss(44, 60, 6, 7) + 0.9 * gauss(-2, 12, 5, 6)
    add('border_blobs', 'blob cut by bottom+right border, blob cut by top',
        normalize(f), [[48, 32, 63, 47], [3, 0, 22, 8]],
        make_mask(ellipse(44, 60, 9, 10) | ellipse(-2, 12, 8, 9),
                  rect(58, 0, 63, 20)), True)

    # 8 thin diagonal ridge (8-connectivity of diagonal pixels)
    p0, p1 = np.array([5.0, 5.0]), np.array([42.0, 58.0])   # (y, x)
    d = p1 - p0
    t = np.clip(((YY - p0[0]) * d[0] + (XX - p0[1]) * d[1]) / (d @ d), 0, 1)
    dist = np.hypot(YY - (p0[0] + t * d[0]), XX - (p0[1] + t * d[1]))
    add('diagonal_ridge', 'thin ridge from (x5,y5) to (x58,y42), rising',
        normalize(np.exp(-dist ** 2 / (2 * 1.3 ** 2)) * (0.6 + 0.4 * t)),
        [[5, 5, 58, 42]], make_mask(dist <= 2, dist <= 4), True)

    # 9 checkerboard of 4x4 squares: corner-touching => 8-connected + holes
    f = 0.1 * YY / (H - 1)
    fg = np.zeros((H, W), bool)
    for by in range(8):
        for bx in range(12):
            if (by + bx) % 2 == 0:
                y, x = 8 + 4 * by, 8 + 4 * bx
                if y + 4 <= 40 and x + 4 <= 56:
                    f[y:y + 4, x:x + 4] = 0.5 + 0.5 * bx / 11
                    fg[y:y + 4, x:x + 4] = True
    add('checkerboard', 'corner-touching 4x4 squares (one 8-connected '
        'component with many 4-connected holes), value rises with column',
        normalize(f), [[8, 8, 55, 39]], make_mask(fg), True)

    # 10 ring with an island inside the hole + small outside blob
    r = np.sqrt((YY - 24) ** 2 + (XX - 30) ** 2)
    f = (np.exp(-(r - 15) ** 2 / (2 * 2.5 ** 2))
         + 0.85 * gauss(24, 30, 2.5, 2.5) + 0.7 * gauss(40, 58, 2, 2))
    add('ring_with_island', 'ring r0=15, island peak 0.85 in the hole, '
        'small outside blob 0.7 (nested contour tree)',
        normalize(f), [[10, 4, 50, 44], [26, 20, 34, 28]],
        make_mask(((r >= 12) & (r <= 18)) | (r <= 3)), False)

    # 11 three blobs of decreasing height
    f = (gauss(12, 12, 3, 3) + 0.75 * gauss(30, 40, 6, 8)
         + 0.55 * gauss(38, 10, 4, 4))
    add('three_blobs', 'peaks 1.0 / 0.75 / 0.55',
        normalize(f), [[6, 6, 18, 18], [26, 20, 54, 40], [3, 30, 17, 46]],
        make_mask(ellipse(12, 12, 5, 5) | ellipse(30, 40, 9, 12)
                  | ellipse(38, 10, 6, 6), rect(0, 28, 22, 47)), True)

    # 12 smooth random field (CAM-like)
    f = smooth(rng.uniform(size=(H, W)), 4.0)
    add('smooth_random_field', 'uniform noise blurred with sigma=4',
        normalize(f), [[30, 10, 60, 40]],
        make_mask(rect(30, 10, 60, 40), rect(25, 5, 63, 45)), True)

    # 13 bands at quantisation boundaries: float32(k/255) and the float32
    #    just below it (which (x*255).astype(uint8) truncates to k-1)
    f = np.zeros((H, W), np.float32)
    ks = [1, 51, 52, 102, 127, 128, 153, 204, 229, 254]
    vals = []
    for k in ks:
        v = np.float32(k / 255.0)
        vals += [v, np.nextafter(v, np.float32(0))]
    for i, v in enumerate(vals):
        y = 4 + 2 * i
        f[y:y + 2, 2 + i:W - 2 - i] = v
    f[44:47, 30:34] = 1.0
    assert f.dtype == np.float32
    add('quantization_bands', '2-row bands of float32(k/255) and its '
        'predecessor for k in %s; 1.0 patch at the bottom' % ks,
        f, [[10, 20, 50, 40]],
        make_mask(rect(10, 20, 50, 40), rect(10, 41, 50, 44)), False)

    # 14 very wide, flat blob (thresholded region covers nearly everything)
    add('wide_flat_blob', 'Gaussian sy=30, sx=40 centred (boxes hit borders)',
        normalize(gauss(24, 32, 30, 40)), [[2, 2, 61, 45]],
        make_mask(rect(3, 3, W - 4, H - 4), ~rect(3, 3, W - 4, H - 4)), True)

    # 15 exactly mirror-symmetric twin blobs (equal areas at every threshold)
    left = gauss(24, 16, 5, 6) + 0.3 * gauss(30, 20, 2, 2)
    f = np.maximum(left, left[:, ::-1])
    add('mirror_twin_blobs', 'left-right mirror images (ties at every '
        'threshold); GT only on the left twin',
        normalize(f), [[8, 14, 26, 34]],
        make_mask(ellipse(24, 16, 9, 10), ellipse(24, W - 1 - 16, 9, 10)),
        True)
    return maps


# ----------------------------------------------------------------------------
# Evaluation with wsolevaluation
# ----------------------------------------------------------------------------
def _write_metadata(root, maps, kind):
    os.makedirs(root, exist_ok=True)
    ids = ['map_%02d' % i for i in range(len(maps))]
    with open(os.path.join(root, 'image_ids.txt'), 'w') as f:
        f.writelines(i + '\n' for i in ids)
    with open(os.path.join(root, 'class_labels.txt'), 'w') as f:
        f.writelines(i + ',0\n' for i in ids)
    with open(os.path.join(root, 'image_sizes.txt'), 'w') as f:
        f.writelines('%s,%d,%d\n' % (i, W, H) for i in ids)
    with open(os.path.join(root, 'localization.txt'), 'w') as f:
        for i, m in zip(ids, maps):
            if kind == 'box':
                for b in m['gt_boxes']:
                    f.write('%s,%d,%d,%d,%d\n' % (i, *b))
            else:
                f.write('%s,%s_mask.png,%s_ignore.png\n' % (i, i, i))
    return ids


def _box_evaluator(ev, dl, tmp, maps, multi_contour_eval, cam_thresholds):
    metadata = dl.configure_metadata(os.path.join(tmp, 'box_meta'))
    evaluator = ev.BoxEvaluator(metadata=metadata, dataset_name='CUB',
                                split='test',
                                cam_threshold_list=cam_thresholds,
                                iou_threshold_list=IOU_THRESHOLD_LIST,
                                mask_root=None,
                                multi_contour_eval=multi_contour_eval)
    # score maps are already in GT-box coordinates (no 224x224 resize)
    evaluator.gt_bboxes = {k: list(v) for k, v in
                           evaluator.original_bboxes.items()}
    return evaluator


def _jfloat(x):
    x = float(x)
    return None if np.isnan(x) else x


def run(ev, dl, maps, tmp):
    cam_thresholds = list(np.arange(0, 1, CAM_CURVE_INTERVAL))
    ids = _write_metadata(os.path.join(tmp, 'box_meta'), maps, 'box')
    _write_metadata(os.path.join(tmp, 'mask_meta'), maps, 'mask')

    out_maps = []
    for i, m in enumerate(maps):
        sm = m['scoremap'].astype(np.float64)   # wsolevaluation wants float64
        gt = np.array(m['gt_boxes'])
        rec = dict(index=i, id=ids[i], name=m['name'],
                   description=m['description'], gt_boxes=m['gt_boxes'],
                   class_correct=m['class_correct'],
                   mask_num_fg=int((m['gt_mask'] == 1).sum()),
                   mask_num_bg=int((m['gt_mask'] == 0).sum()),
                   mask_num_ignore=int((m['gt_mask'] == 255).sum()))
        for tag, multi in (('v1', False), ('v2', True)):
            boxes, nums = ev.compute_bboxes_from_scoremaps(
                scoremap=sm, scoremap_threshold_list=cam_thresholds,
                multi_contour_eval=multi)
            best = []
            for b in boxes:
                ious = ev.calculate_multiple_iou(np.asarray(b), gt)
                best.append(float(ious.max()))
            if tag == 'v1':
                assert all(n == 1 for n in nums)
                rec['v1_boxes'] = [b[0].tolist() for b in boxes]
            else:
                rec['v2_num_boxes'] = [int(n) for n in nums]
                rec['v2_boxes'] = [b.tolist() for b in boxes]
            rec[tag + '_best_iou'] = best
        out_maps.append(rec)

    # --- BoxEvaluator: V1 (largest contour) and V2 (all contours) ---------
    box_results = {}
    for tag, multi in (('v1', False), ('v2', True)):
        evaluator = _box_evaluator(ev, dl, tmp, maps, multi, cam_thresholds)
        for i, m in enumerate(maps):
            evaluator.accumulate(m['scoremap'].astype(np.float64), ids[i])
        max_box_acc = evaluator.compute()
        res = dict(multi_contour_eval=multi, cnt=evaluator.cnt,
                   num_correct={}, localization_accuracies={},
                   max_box_acc={}, optimal_threshold_index={})
        for thr, acc in zip(IOU_THRESHOLD_LIST, max_box_acc):
            nc = evaluator.num_correct[thr]
            accs = nc * 100. / float(evaluator.cnt)   # as in compute()
            assert accs.max() == acc
            # cross-check against the per-map best IoUs recorded above
            mine = np.zeros(len(cam_thresholds))
            for rec in out_maps:
                mine += np.asarray(rec[tag + '_best_iou']) >= thr / 100
            assert (mine == nc).all(), (tag, thr)
            res['num_correct'][str(thr)] = [int(v) for v in nc]
            res['localization_accuracies'][str(thr)] = [float(v) for v in accs]
            res['max_box_acc'][str(thr)] = float(acc)
            res['optimal_threshold_index'][str(thr)] = int(np.argmax(nc))
        res['mean_max_box_acc'] = float(np.average(max_box_acc))
        box_results[tag] = res
    box_results['MaxBoxAcc'] = box_results['v1']['max_box_acc']['50']
    box_results['MaxBoxAccV2'] = box_results['v2']['mean_max_box_acc']

    # --- MaskEvaluator: PxAP -------------------------------------------------
    masks = {ids[i]: m['gt_mask'] for i, m in enumerate(maps)}
    orig_get_mask = ev.get_mask
    ev.get_mask = lambda mask_root, mask_paths, ignore_path: \
        masks[mask_paths[0][:-len('_mask.png')]]
    try:
        metadata = dl.configure_metadata(os.path.join(tmp, 'mask_meta'))
        mev = ev.MaskEvaluator(metadata=metadata, dataset_name='OpenImages',
                               split='test', cam_threshold_list=cam_thresholds,
                               iou_threshold_list=IOU_THRESHOLD_LIST,
                               mask_root=tmp, multi_contour_eval=False)
        for i, m in enumerate(maps):
            mev.accumulate(m['scoremap'].astype(np.float64), ids[i])
        with np.errstate(invalid='ignore', divide='ignore'):
            pxap = mev.compute()
            # intermediate arrays, re-derived exactly as in compute()
            tp = mev.gt_true_score_hist[::-1].cumsum()
            fn = mev.gt_true_score_hist.sum() - tp
            fp = mev.gt_false_score_hist[::-1].cumsum()
            tn = mev.gt_false_score_hist.sum() - fp
            nz = (tp + fp) != 0
            precision = tp / (tp + fp)
            recall = tp / (tp + fn)
    finally:
        ev.get_mask = orig_get_mask
    pxap_res = dict(
        num_bins=int(mev.num_bins),
        threshold_list_right_edge=[float(v)
                                   for v in mev.threshold_list_right_edge],
        gt_true_score_hist=[int(v) for v in mev.gt_true_score_hist],
        gt_false_score_hist=[int(v) for v in mev.gt_false_score_hist],
        tp=[int(v) for v in tp], fn=[int(v) for v in fn],
        fp=[int(v) for v in fp], tn=[int(v) for v in tn],
        non_zero_indices=[bool(v) for v in nz],
        precision=[_jfloat(v) for v in precision],
        recall=[_jfloat(v) for v in recall],
        PxAP=float(pxap))

    # --- top-1 loc / GT-known loc (literature definitions; not in wsoleval) -
    loc = {}
    for tag in ('v1', 'v2'):
        k = box_results[tag]['optimal_threshold_index']['50']
        correct = [rec[tag + '_best_iou'][k] >= 0.5 for rec in out_maps]
        cls = [rec['class_correct'] for rec in out_maps]
        n = float(len(out_maps))
        loc[tag] = dict(
            optimal_threshold_index=k,
            optimal_threshold=float(cam_thresholds[k]),
            box_correct_iou50=correct,
            gt_known_loc=sum(correct) * 100. / n,
            top1_loc=sum(c and p for c, p in zip(correct, cls)) * 100. / n,
            top1_cls=sum(cls) * 100. / n)
        assert loc[tag]['gt_known_loc'] == box_results[tag]['max_box_acc']['50']
    return cam_thresholds, out_maps, box_results, pxap_res, loc


def extra_cases(ev):
    """Small inline edge cases (not part of the N-map fixture)."""
    import cv2
    thr = list(np.arange(0, 1, CAM_CURVE_INTERVAL))
    cases = []

    def box_case(name, desc, sm, gt):
        # rounded through float32 so the stored inputs do not depend on the
        # last-ulp behaviour of np.exp across numpy versions
        sm = np.asarray(sm, np.float32).astype(np.float64)
        rec = dict(name=name, description=desc, scoremap=sm.tolist(),
                   gt_boxes=gt,
                   max_quantized=int(np.max((sm * 255).astype(np.uint8))))
        for tag, multi in (('v1', False), ('v2', True)):
            boxes, nums = ev.compute_bboxes_from_scoremaps(sm, thr, multi)
            rec[tag + '_boxes'] = [b.tolist() for b in boxes]
            rec[tag + '_best_iou'] = [
                float(ev.calculate_multiple_iou(np.asarray(b),
                                                np.array(gt)).max())
                for b in boxes]
        cases.append(rec)

    box_case('all_zero', 'constant 0 map (what normalize_scoremap returns for '
             'a constant CAM): no contour => box [0,0,0,0] at every '
             'threshold; that box is the 1x1 pixel (0,0) under the +1 IoU',
             np.zeros((6, 8)), [[0, 0, 0, 0], [2, 1, 5, 4]])
    yy, xx = np.mgrid[0:8, 0:10]
    g = 0.5 * np.exp(-((yy - 3) ** 2 + (xx - 6) ** 2) / 8.0)
    box_case('max_below_one', 'Gaussian with max 0.5: thresholds are '
             'int(t * 127) (relative to the quantised max)', g,
             [[4, 1, 8, 5]])
    box_case('max_quantizes_to_zero', 'all values < 1/255: quantised image '
             'is all 0 => no contour even though the map is not zero',
             0.0039 * np.exp(-((yy - 3) ** 2 + (xx - 6) ** 2) / 8.0),
             [[4, 1, 8, 5]])
    ious = ev.calculate_multiple_iou(
        np.array([[0, 0, 0, 0], [1, 2, 5, 6], [0, 0, 2, 2]]),
        np.array([[0, 0, 0, 0], [3, 1, 4, 5], [3, 3, 4, 4]]))
    iou_case = dict(box_a=[[0, 0, 0, 0], [1, 2, 5, 6], [0, 0, 2, 2]],
                    box_b=[[0, 0, 0, 0], [3, 1, 4, 5], [3, 3, 4, 4]],
                    ious=ious.tolist())

    # raw OpenCV contour order (what max(contours, key=contourArea) sees)
    order_cases = []

    def order_case(name, img):
        img = (np.asarray(img) > 0).astype(np.uint8) * 255
        res = cv2.findContours(img.copy(), cv2.RETR_TREE,
                               cv2.CHAIN_APPROX_SIMPLE)
        cs, hier = res[-2], res[-1]

        def depth(k):
            d = 0
            while hier[0, k, 3] >= 0:
                k, d = hier[0, k, 3], d + 1
            return d
        order_cases.append(dict(
            name=name, image=(img > 0).astype(int).tolist(),
            contours=[dict(start=[int(v) for v in c[0, 0]],
                           is_hole=depth(k) % 2 == 1,
                           parent=int(hier[0, k, 3]),
                           area=float(cv2.contourArea(c)),
                           bounding_rect=[int(v) for v in cv2.boundingRect(c)],
                           points=c[:, 0].tolist())
                      for k, c in enumerate(cs)],
            v1_box_t0=ev.compute_bboxes_from_scoremaps(
                (img > 0).astype(np.float64), [0.0], False)[0][0].tolist()))

    a = np.zeros((8, 10), int)
    for (y, x) in [(1, 1), (1, 5), (1, 8), (4, 2), (4, 7), (6, 0), (7, 9)]:
        a[y, x] = 1
    order_case('isolated_pixels', a)
    a = np.zeros((10, 16), int)
    for (y, x) in [(5, 1), (1, 10), (1, 4), (5, 12)]:
        a[y:y + 2, x:x + 2] = 1
    order_case('equal_squares', a)
    a = np.zeros((14, 20), int)
    a[1:12, 1:12] = 1
    a[3:6, 3:6] = 0
    a[4, 4] = 1
    a[3:6, 7:10] = 0
    a[4, 8] = 1
    a[8:11, 3:10] = 0
    a[9, 4] = 1
    a[9, 7] = 1
    a[2:5, 14:17] = 1
    a[7:10, 14:19] = 1
    a[8, 16] = 0
    order_case('holes_and_islands', a)
    return dict(box_cases=cases, iou_case=iou_case,
                contour_order_cases=order_cases,
                contour_order_note=(
                    'cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE) output '
                    'in OpenCV order; is_hole = odd depth in the hierarchy; '
                    'v1_box_t0 = compute_bboxes_from_scoremaps(image, [0.0]) '
                    'V1 box (tie-break on equal areas).'))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--wsoleval-dir', default=os.environ.get('WSOLEVAL_DIR'))
    ap.add_argument('--wsoleval-git', default=os.environ.get('WSOLEVAL_GIT'))
    ap.add_argument('--out', default=os.path.join(here, '..', 'fixtures',
                                                  'wsol'))
    args = ap.parse_args()

    ev, dl, provenance = load_wsolevaluation(args.wsoleval_dir,
                                             args.wsoleval_git)
    import cv2

    rng = np.random.RandomState(SEED)
    maps = build_maps(rng)
    with tempfile.TemporaryDirectory(prefix='wsol_meta_') as tmp:
        cam_thresholds, out_maps, box_results, pxap_res, loc = run(
            ev, dl, maps, tmp)

    cv2_thresholds = [int(t * 255) for t in cam_thresholds]
    expected = dict(
        meta=dict(
            generator='tests/reference/make_wsol_fixtures.py',
            wsolevaluation=dict(repo='https://github.com/clovaai/wsolevaluation',
                                **provenance),
            versions=dict(python=sys.version.split()[0],
                          numpy=np.__version__, opencv=cv2.__version__),
            seed=SEED, num_maps=len(maps), height=H, width=W,
            cam_curve_interval=CAM_CURVE_INTERVAL,
            iou_threshold_list=IOU_THRESHOLD_LIST,
            layout={
                'boxes': 'x0y0x1y1 inclusive ints; v1_boxes[t] is one box; '
                         'v2_boxes[t] is a list of boxes (all contours, '
                         'holes included, OpenCV order)',
                'accuracies': 'percent, num_correct * 100. / cnt',
                'best_iou': 'per threshold, max IoU over (estimated boxes x '
                            'GT boxes), as BoxEvaluator.accumulate slices it',
                'precision': 'null where tp + fp == 0 (NaN in numpy)',
                'scoremaps': 'scoremaps.npy is float32; wsolevaluation is run '
                             'on scoremap.astype(float64)',
                'top1/gt-known': 'not defined in wsolevaluation; literature '
                                 'definitions at the MaxBoxAcc-optimal '
                                 'threshold (first argmax of num_correct[50])',
            }),
        cam_threshold_list=[float(t) for t in cam_thresholds],
        cv2_thresholds_for_max_255=cv2_thresholds,
        maps=out_maps,
        box=box_results,
        pxap=pxap_res,
        localization=loc,
        extra=extra_cases(ev),
    )

    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, 'scoremaps.npy'),
            np.stack([m['scoremap'] for m in maps]).astype(np.float32))
    np.save(os.path.join(args.out, 'gt_masks.npy'),
            np.stack([m['gt_mask'] for m in maps]).astype(np.uint8))
    with open(os.path.join(args.out, 'expected.json'), 'w') as f:
        json.dump(expected, f, separators=(',', ':'), allow_nan=False)
        f.write('\n')
    print('N =', len(maps))
    print('MaxBoxAcc (V1, IoU50) = %.6f' % box_results['MaxBoxAcc'])
    print('MaxBoxAccV2 =', {k: box_results['v2']['max_box_acc'][k]
                            for k in box_results['v2']['max_box_acc']},
          'mean = %.6f' % box_results['MaxBoxAccV2'])
    print('PxAP = %.6f' % pxap_res['PxAP'])
    print('top-1 loc (V1 opt thr) = %.4f, GT-known = %.4f' % (
        loc['v1']['top1_loc'], loc['v1']['gt_known_loc']))


if __name__ == '__main__':
    main()
