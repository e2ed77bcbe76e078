#!/usr/bin/env bash
# The side-by-side speed table on a GPU: Lantern on wgpu (`lantern bench --device wgpu`) against
# the Python references on CUDA, in one run, with benches/compare_pytorch.py's rows.
#
#   benches/gpu_compare.sh            # both tables (Grad-CAM, then the attribution methods)
#   benches/gpu_compare.sh cam        # one of them
#
# Needs the release binary (`cargo build --release`), an NVIDIA GPU that PyTorch sees through CUDA,
# and a hardware adapter for wgpu. Without them it says what is missing and exits 0, measuring
# nothing: a CPU-only machine has benches/compare_pytorch.py.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
lantern="${LANTERN_BIN:-$target_dir/release/lantern}"
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(cam attribution)

skip() {
  echo "gpu_compare: skipped, $1; nothing was measured (the CPU table is benches/compare_pytorch.py)"
  exit 0
}

[ -x "$lantern" ] || skip "no release binary at $lantern (run cargo build --release)"
command -v nvidia-smi >/dev/null 2>&1 || skip "no NVIDIA driver here (nvidia-smi is missing)"
cuda=$(python3 -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "")' 2>/dev/null || true)
[ -n "$cuda" ] || skip "PyTorch sees no CUDA device (or torch is not installed)"
# `--device wgpu` falls back to a software rasterizer with only a warning in its description,
# so ask which adapter it takes first.
adapter=$("$lantern" layers --arch resnet50 --device wgpu 2>/dev/null | sed -n 's/^device: //p' || true)
[ -n "$adapter" ] || skip "wgpu finds no adapter"
case "$adapter" in
  *"software rasterizer"*) skip "wgpu finds only a software rasterizer ($adapter)" ;;
esac

echo "GPU: PyTorch on $cuda; Lantern on wgpu: $adapter"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
for suite in "${suites[@]}"; do
  python3 benches/compare_pytorch.py "$suite" --gpu --lantern "$lantern"
done
