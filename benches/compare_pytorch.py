"""Lantern against the Python references on the same machine, in one run.

    python benches/compare_pytorch.py cam          # Grad-CAM on ResNet-50 and EfficientNet-Lite0,
                                                   # and PyTorch's bare forward pass
    python benches/compare_pytorch.py attribution  # Score-CAM, IG, SmoothGrad, Occlusion, RISE,
                                                   # Ablation-CAM on ResNet-50, and the approximate
                                                   # Score-CAM and RISE
    python benches/compare_pytorch.py attribution --only rise,occlusion

224x224, batch 1, CPU. ResNet-50 and VGG-16 have seeded weights (timing does not depend on their values);
EfficientNet-Lite0 the real ImageNet weights from .ci/fetch-weights. Python times pytorch-grad-cam,
Captum and a PyTorch version of the RISE paper's code, each with its library's defaults (as a new
user would run it); Lantern runs `lantern bench` with its defaults (the release binary:
`cargo build --release` first). Every measurement is its own process, so the peak RSS of each
(ru_maxrss of the child) is the method's own. Methods that take under a minute get a warm-up and
`--repeat` timed runs on both sides (median); the slow ones (thousands of forward passes) one run.
Prints Markdown tables of medians and ratios (Lantern / Python; below 1 means Lantern is faster),
after the CPU, its vector extensions and the thread count both sides use (`--threads`, default
all cores: torch.set_num_threads and RAYON_NUM_THREADS). Each row also gives the fraction of the
machine's peak FP32 FLOP/s the Lantern run reaches: the method's arithmetic counted as forward
passes of the network (ResNet-50: 4.09 GMAC = 8.18 GFLOP per 224x224 image; a backward pass
counted as two forward passes) over its time, against cores x clock x FLOP per cycle per core
(two FMA units: 64 with AVX-512, 32 with AVX2; the clock is the model name's nominal one, or
/proc/cpuinfo's "cpu MHz" when the name gives none).
Needs torch, torchvision, grad-cam, captum, scikit-image and efficientnet-lite-pytorch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMAGE = os.path.join(ROOT, "tests", "fixtures", "photos", "chelsea.jpg")
WEIGHTS = os.path.join(os.environ.get("LANTERN_WEIGHTS_DIR", os.path.expanduser("~/.cache/lantern/weights")), "efficientnet-lite0-57934424.pth")

# name: (row title, Python reference, Lantern flags on ResNet-50, slow)
ATTRIBUTION = {
    "scorecam": ("Score-CAM (`layer4`, 2048 channels)", "pytorch-grad-cam ScoreCAM (batch 16)",
                 ["--method", "scorecam", "--layer", "layer4"], True),
    "ig": ("Integrated Gradients (50 steps)", "Captum IntegratedGradients (one batch of 50)",
           ["--method", "integratedgradients", "--steps", "50"], False),
    "smoothgrad": ("SmoothGrad (50 samples, sigma 0.15)", "Captum NoiseTunnel(Saliency) (one batch of 50)",
                   ["--method", "smoothgrad", "--samples", "50", "--sigma", "0.15"], False),
    "occlusion": ("Occlusion (16 px window, stride 8; 729 windows)", "Captum Occlusion (1 window per pass)",
                  ["--method", "occlusion", "--window", "16", "--stride", "8"], True),
    "rise": ("RISE (4000 masks, s = 7, p = 0.5)", "PyTorch, RISE paper recipe (batch 100)",
             ["--method", "rise", "--masks", "4000"], True),
    "ablationcam": ("Ablation-CAM (`layer4`, 2048 channels)", "pytorch-grad-cam AblationCAM (batch 32)",
                    ["--method", "ablationcam", "--layer", "layer4"], True),
    # Lantern's approximate modes, against the same exact references.
    "scorecam-topk": ("Score-CAM, top 256 channels (approximate)", "pytorch-grad-cam ScoreCAM (exact)",
                      ["--method", "scorecam-topk", "--top-k", "256", "--layer", "layer4"], True),
    "rise-early-stop": ("RISE, early stop at 0.01 (approximate)", "PyTorch, RISE paper recipe (exact)",
                        ["--method", "rise-early-stop", "--masks", "4000", "--tolerance", "0.01"], True),
}
# The approximate rows reuse the exact reference's Python measurement.
PYTHON_OF = {"scorecam-topk": "scorecam", "rise-early-stop": "rise"}


# GFLOP of one forward pass at 224x224 (2 x multiply-accumulates).
GFLOP = {"resnet50": 8.18, "lite0": 0.81, "vgg16": 30.95}
# Work of each attribution case in forward-pass equivalents on ResNet-50 (a backward pass to the input
# = 1 forward: the gradient with respect to the input only, which is all Captum's torch.autograd.grad
# and Lantern's planned backward pass compute, no weight gradients); None where the passes run only
# the head (Ablation-CAM ablates layer4's channels before the pool).
FORWARDS = {"scorecam": 2049, "ig": 100, "smoothgrad": 100, "occlusion": 730, "rise": 4000, "ablationcam": None,
            "scorecam-topk": 257, "rise-early-stop": None}


def cpu():
    """(description, peak FP32 GFLOP/s) of this machine from /proc/cpuinfo."""
    info = open("/proc/cpuinfo").read()
    field = lambda k: next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith(k)), "")
    name, flags = field("model name"), field("flags").split()
    vector = [f for f in ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile"] if f in flags]
    per_cycle = 64 if "avx512f" in flags else 32 if "avx2" in flags and "fma" in flags else 8
    import re
    ghz = re.search(r"@\s*([0-9.]+)\s*GHz", name)
    ghz = float(ghz.group(1)) if ghz else float(field("cpu MHz") or 0) / 1000
    cores = os.cpu_count()
    peak = cores * ghz * per_cycle
    return (f"{name}; {cores} cores; {' '.join(vector)}; peak FP32 {peak:.0f} GFLOP/s "
            f"({cores} x {ghz:.2f} GHz x {per_cycle} FLOP/cycle)"), peak


def fraction(gflop, ms, peak):
    return f"{gflop / (ms / 1000) / peak * 100:.0f} %" if gflop else "—"


def timed(fn, repeat, warmup=True, sync=lambda: None):
    """Median milliseconds of `repeat` runs; `sync` waits for queued GPU work (CUDA runs async)."""
    if warmup:
        fn()
        sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measured(cmd):
    """stdout JSON and peak RSS (MB) of one child process."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with status {status}")
    return json.loads(out), usage.ru_maxrss / 1024


def lantern(binary, flags, repeat):
    device = "wgpu" if os.environ.get("LANTERN_BENCH_GPU") == "1" else "cpu"
    cmd = [binary, "bench", IMAGE, "--device", device, "--repeat", str(repeat)] + flags
    return measured(cmd)


def python_case(suite_case, repeat):
    return measured([sys.executable, os.path.abspath(__file__), "_case", suite_case, "--repeat", str(repeat)])


def vgg16():
    import torchvision
    sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
    from seeded import seeded_state_dict
    model = torchvision.models.vgg16(weights=None)
    model.load_state_dict(seeded_state_dict(model, 7))
    return model.eval()


def rise_pytorch(model, x, target, n=4000, s=7, p1=0.5, batch=100, seed=0):
    """The RISE paper's recipe in PyTorch: random s x s grids kept with probability p1,
    bilinear upsampling (skimage, mirror edges) to (s+1)*cell, random shifts, then
    sum_i softmax(model(x * M_i))[c] * M_i / (N p1). The masks are made on the CPU as the
    paper's code does, then moved to x's device."""
    import torch
    from skimage.transform import resize
    rng = np.random.RandomState(seed)
    h, w = x.shape[-2:]
    cell = np.ceil(np.array([h, w]) / s)
    up = ((s + 1) * cell).astype(int)
    grid = (rng.rand(n, s, s) < p1).astype("float32")
    masks = np.empty((n, h, w), dtype="float32")
    for i in range(n):
        dx, dy = rng.randint(0, cell[0]), rng.randint(0, cell[1])
        masks[i] = resize(grid[i], up, order=1, mode="reflect", anti_aliasing=False)[dx:dx + h, dy:dy + w]
    masks = torch.from_numpy(masks)[:, None].to(x.device)
    sal = torch.zeros(h * w, device=x.device)
    with torch.no_grad():
        for i in range(0, n, batch):
            m = masks[i:i + batch]
            p = torch.softmax(model(m * x), dim=1)[:, target]
            sal += p @ m.view(len(m), -1)
    return sal.view(h, w) / n / p1


def resnet50():
    import torchvision
    sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
    from seeded import seeded_state_dict
    model = torchvision.models.resnet50(weights=None)
    model.load_state_dict(seeded_state_dict(model, 7))
    return model.eval()


def lite0():
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()


def run_case(case, repeat):
    """In a child process: build the model, time one Python reference, print {"ms": median}."""
    import torch
    torch.set_num_threads(int(os.environ["RAYON_NUM_THREADS"]))
    from pytorch_grad_cam import AblationCAM, GradCAM, ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency
    torch.manual_seed(0)
    gpu = os.environ.get("LANTERN_BENCH_GPU") == "1"
    device = "cuda" if gpu else "cpu"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    x = torch.randn(1, 3, 224, 224).to(device)
    model = lite0() if case.endswith("lite0") else vgg16() if case.endswith("vgg16") else resnet50()
    model = model.to(device)
    with torch.no_grad():
        target = int(model(x).argmax())
    targets = [ClassifierOutputTarget(target)]
    layer = model._conv_head if case.endswith("lite0") else model.features[29] if case.endswith("vgg16") else model.layer4

    def forward():
        with torch.no_grad():
            model(x)

    def cam(kind):
        def go():
            with kind(model=model, target_layers=[layer]) as c:
                c(input_tensor=x, targets=targets)
        return go

    fns = {
        "gradcam-resnet50": cam(GradCAM),
        "gradcam-lite0": cam(GradCAM),
        "gradcam-vgg16": cam(GradCAM),
        "forward-resnet50": forward,
        "forward-lite0": forward,
        "forward-vgg16": forward,
        "scorecam": cam(ScoreCAM),
        "ablationcam": cam(AblationCAM),
        "ig": lambda: IntegratedGradients(model).attribute(x, target=target, n_steps=50),
        "smoothgrad": lambda: NoiseTunnel(Saliency(model)).attribute(x, target=target, nt_type="smoothgrad",
                                                                     nt_samples=50, stdevs=0.15),
        "occlusion": lambda: Occlusion(model).attribute(x, target=target, sliding_window_shapes=(3, 16, 16),
                                                        strides=(3, 8, 8)),
        "rise": lambda: rise_pytorch(model, x, target),
    }
    print(json.dumps({"ms": timed(fns[case], repeat, warmup=repeat > 1, sync=sync), "threads": torch.get_num_threads(),
                      "torch": torch.__version__ + (f", CUDA on {torch.cuda.get_device_name()}" if gpu else "")}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("suite", choices=["cam", "attribution", "_case"])
    ap.add_argument("case", nargs="?")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs of the fast methods (default 20 cam, 3 attribution)")
    ap.add_argument("--only", default=None, help="comma-separated attribution cases: " + ",".join(ATTRIBUTION))
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--lantern", default=os.path.join(target_dir, "release", "lantern"))
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads on both sides (default: all cores)")
    ap.add_argument("--gpu", action="store_true",
                    help="Lantern on wgpu (--device wgpu) and the Python references on CUDA (benches/gpu_compare.sh)")
    args = ap.parse_args()
    if args.suite == "_case":
        return run_case(args.case, args.repeat)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    if args.gpu:
        os.environ["LANTERN_BENCH_GPU"] = "1"
    description, peak = cpu()
    print(f"CPU: {description}\nthreads: {args.threads} on both sides; Lantern: {args.lantern}"
          f"{'; GPU: Lantern on wgpu, Python on CUDA (the FLOP/s fractions are of the CPU peak)' if args.gpu else ''}\n")
    if args.suite == "cam":
        repeat = args.repeat or 20
        info, _ = python_case("forward-resnet50", 1)
        print(f"torch {info['torch']}, {info['threads']} threads; {repeat} timed runs after a warm-up\n")
        print("| model | pytorch-grad-cam Grad-CAM | torch forward pass | Lantern Grad-CAM | / Grad-CAM | / forward | Lantern class switch | peak RSS Python, Lantern | of peak FLOP/s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, key, flags in [
            ("ResNet-50", "resnet50", ["--arch", "resnet50", "--layer", "layer4"]),
            ("EfficientNet-Lite0", "lite0", ["--model", WEIGHTS, "--layer", "_conv_head"]),
            ("VGG-16", "vgg16", ["--arch", "vgg16"]),
        ]:
            py, py_rss = python_case(f"gradcam-{key}", repeat)
            fwd, _ = python_case(f"forward-{key}", repeat)
            ln, ln_rss = lantern(args.lantern, flags + ["--method", "gradcam"], repeat)
            full, switch = ln["explain_ms"], ln["switch_class_ms"]
            print(f"| {name} | {py['ms']:.1f} ms | {fwd['ms']:.1f} ms | {full:.1f} ms | {full / py['ms']:.2f}x | {full / fwd['ms']:.2f}x "
                  f"| {switch:.2f} ms | {py_rss:.0f} MB, {ln_rss:.0f} MB | {fraction(GFLOP[key], full, peak)} |", flush=True)
        return
    repeat = args.repeat or 3
    cases = args.only.split(",") if args.only else list(ATTRIBUTION)
    print(f"ResNet-50, 224x224, CPU; fast methods: warm-up + median of {repeat}, slow: one run\n")
    print("| method (ResNet-50) | Python reference | Python time | Lantern time | ratio | peak RSS Python, Lantern | of peak FLOP/s |")
    print("|---|---|---|---|---|---|---|")
    python = {}
    for case in cases:
        title, ref, flags, slow = ATTRIBUTION[case]
        runs = 1 if slow else repeat
        source = PYTHON_OF.get(case, case)
        if source not in python:
            python[source] = python_case(source, runs)
        (py, py_rss) = python[source]
        ln, ln_rss = lantern(args.lantern, ["--arch", "resnet50", "--no-switch"] + flags, runs)
        full = ln["explain_ms"]
        work = FORWARDS[case] and FORWARDS[case] * GFLOP["resnet50"]
        print(f"| {title} | {ref} | {py['ms'] / 1000:.2f} s | {full / 1000:.2f} s | {full / py['ms']:.2f}x | {py_rss:.0f} MB, {ln_rss:.0f} MB "
              f"| {fraction(work, full, peak)} |", flush=True)


if __name__ == "__main__":
    main()
