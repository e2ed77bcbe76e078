#!/usr/bin/env bash
# Start the real `lantern` window under Xvfb, wait until it has shown its first explanation,
# take a screenshot of the screen and check that it is not blank.
#   tests/gui_smoke.sh [path/to/lantern] [screenshot.png]
set -euo pipefail
bin="${1:-${CARGO_TARGET_DIR:-target}/debug/lantern}"
shot="${2:-$(mktemp -d)/lantern.png}"
log=$(mktemp)
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"

inner() {
  unset WAYLAND_DISPLAY
  LANTERN_REPORT_FIRST=1 "$bin" >"$log" 2>&1 &
  app=$!
  trap 'kill $app 2>/dev/null || true' EXIT
  for _ in $(seq 1 240); do
    if grep -q "first explanation shown" "$log"; then break; fi
    if ! kill -0 "$app" 2>/dev/null; then echo "lantern exited early:" >&2; cat "$log" >&2; exit 1; fi
    sleep 0.5
  done
  grep -q "first explanation shown" "$log" || { echo "no explanation within 120 s:" >&2; cat "$log" >&2; exit 1; }
  sleep 1
  xwd -root -silent | convert xwd:- png:"$shot"
}
export -f inner
export bin shot log
xvfb-run -a -s "-screen 0 1280x860x24" bash -c inner

stddev=$(convert "$shot" -colorspace Gray -format "%[fx:standard_deviation]" info:)
colours=$(convert "$shot" -format "%k" info:)
echo "screenshot $shot: grey standard deviation $stddev, $colours colours"
awk -v s="$stddev" -v c="$colours" 'BEGIN { exit !(s > 0.05 && c > 200) }' || { echo "the screenshot looks blank" >&2; exit 1; }
grep "first explanation shown" "$log"
