#!/usr/bin/env bash
# Build the web page into a static folder (default web/dist): index.html, lantern.js and
# lantern_bg.wasm, which any static host serves as they are:
#
#   web/build.sh                              # ~20 min the first time (burn and eframe for wasm)
#   python3 -m http.server -d web/dist 8080   # then open http://localhost:8080
#
# The same crate as the desktop app, compiled for wasm32-unknown-unknown with SIMD128, then bound
# to JavaScript by wasm-bindgen. Its command-line tool must be the version the crate links
# (Cargo.lock); it is installed under ~/.cache/lantern/tools when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-web/dist}"
target_dir="${CARGO_TARGET_DIR:-target}"
tools="$HOME/.cache/lantern/tools"
version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
bindgen="$tools/bin/wasm-bindgen"

if ! command -v rustup >/dev/null || ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ ! -x "$bindgen" ] || [ "$("$bindgen" --version | awk '{print $2}')" != "$version" ]; then
  echo "+ cargo install wasm-bindgen-cli --version $version"
  cargo install -q wasm-bindgen-cli --version "$version" --root "$tools"
fi

echo "+ cargo rustc --lib --release --target wasm32-unknown-unknown --crate-type cdylib"
RUSTFLAGS="-C target-feature=+simd128" \
  cargo rustc -q --lib --release --target wasm32-unknown-unknown --crate-type cdylib

rm -rf "$out"
mkdir -p "$out"
# Without wasm's name section (9 MB of function names; a panic's message is kept).
"$bindgen" --target web --no-typescript --remove-name-section --out-dir "$out" --out-name lantern \
  "$target_dir/wasm32-unknown-unknown/release/lantern.wasm"
cp web/index.html web/worker.js "$out/"
echo "built $out: $(du -sh "$out" | cut -f1) ($(du -h "$out/lantern_bg.wasm" | cut -f1) of wasm)"
