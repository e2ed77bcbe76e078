#!/usr/bin/env bash
# Start the real `lantern` window under Xvfb, wait until it has shown its first explanation,
# take a screenshot of the screen and check that it is not blank; then press M (hide the map),
# take a second one and check that the map was really drawn: the canvas differs between the two
# over a large area, and the rest of the window barely does.
#   tests/gui_smoke.sh [path/to/lantern] [screenshot.png]
set -euo pipefail

# Inside Xvfb (xvfb-run goes through /bin/sh, which drops exported bash functions, so the
# script calls itself): start the app, wait for its first explanation, grab the screen.
if [ "${LANTERN_SMOKE_INNER:-}" = 1 ]; then
  unset WAYLAND_DISPLAY
  LANTERN_REPORT_FIRST=1 "$SMOKE_BIN" >"$SMOKE_LOG" 2>&1 &
  app=$!
  trap 'kill $app 2>/dev/null || true' EXIT
  for _ in $(seq 1 240); do
    if grep -q "first explanation shown" "$SMOKE_LOG"; then break; fi
    if ! kill -0 "$app" 2>/dev/null; then echo "lantern exited early:" >&2; cat "$SMOKE_LOG" >&2; exit 1; fi
    sleep 0.5
  done
  grep -q "first explanation shown" "$SMOKE_LOG" || { echo "no explanation within 120 s:" >&2; cat "$SMOKE_LOG" >&2; exit 1; }
  sleep 1
  # No window manager gives the window keyboard focus: give it, with the pointer on the status bar.
  xdotool mousemove 640 808
  xdotool search --name Lantern windowfocus --sync
  sleep 0.5
  xwd -root -silent | convert xwd:- png:"$SMOKE_SHOT"
  xdotool key m
  sleep 1.5
  xwd -root -silent | convert xwd:- png:"${SMOKE_SHOT%.png}-bare.png"
  exit 0
fi

export SMOKE_BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/lantern}"
export SMOKE_SHOT="${2:-$(mktemp -d)/lantern.png}"
export SMOKE_LOG=$(mktemp)
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
LANTERN_SMOKE_INNER=1 xvfb-run -a -s "-screen 0 1280x860x24" bash "$0"

stddev=$(convert "$SMOKE_SHOT" -colorspace Gray -format "%[fx:standard_deviation]" info:)
colours=$(convert "$SMOKE_SHOT" -format "%k" info:)
echo "screenshot $SMOKE_SHOT: grey standard deviation $stddev, $colours colours"
awk -v s="$stddev" -v c="$colours" 'BEGIN { exit !(s > 0.05 && c > 200) }' || { echo "the screenshot looks blank" >&2; exit 1; }
grep "first explanation shown" "$SMOKE_LOG"

# The canvas is the window's centre (between the thumbnails and the inspector); pixels that change
# by more than 8 % when the map is hidden are the map's.
bare="${SMOKE_SHOT%.png}-bare.png"
crops=$(mktemp -d)
changed() {
  convert "$SMOKE_SHOT" -crop "$1" +repage "$crops/a.png"
  convert "$bare" -crop "$1" +repage "$crops/b.png"
  # compare exits 1 when the images differ; the count is what matters.
  { compare -metric AE -fuzz 8% "$crops/a.png" "$crops/b.png" null: 2>&1 || true; } | awk '{print int($1)}'
}
canvas=$(changed 560x500+300+180)
margin=$(( $(changed 1280x24+0+0) + $(changed 290x100+985+30) ))
echo "map check: $canvas of 280000 canvas pixels change when the map is hidden; $margin of 59720 in the menu bar and the inspector's top"
awk -v c="$canvas" -v m="$margin" 'BEGIN { exit !(c > 28000 && m < 2000) }' || { echo "the map does not seem to be drawn over the image" >&2; exit 1; }
