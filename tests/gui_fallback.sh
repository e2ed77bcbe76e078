#!/usr/bin/env bash
# Start the real `lantern` window under Xvfb with no file-dialog service (no session D-Bus, so no
# xdg-desktop-portal, and no zenity on the PATH), choose File ▸ Open audit… with the mouse, and
# check that the app says no dialog could be shown and opens the audit from the path typed into
# its typed-path window (Tab completes the file's name, Enter confirms).
#   tests/gui_fallback.sh [path/to/lantern] [screenshot.png]
set -euo pipefail

# Inside Xvfb (see tests/gui_smoke.sh for why the script calls itself).
if [ "${LANTERN_FALLBACK_INNER:-}" = 1 ]; then
  unset WAYLAND_DISPLAY
  export DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent
  LANTERN_REPORT_FIRST=1 "$FALLBACK_BIN" >"$FALLBACK_LOG" 2>&1 &
  app=$!
  trap 'kill $app 2>/dev/null || true' EXIT
  wait_line() {
    for _ in $(seq 1 240); do
      if grep -q "$1" "$FALLBACK_LOG"; then return 0; fi
      if ! kill -0 "$app" 2>/dev/null; then echo "lantern exited early:" >&2; cat "$FALLBACK_LOG" >&2; exit 1; fi
      sleep 0.5
    done
    echo "no '$1' within 120 s:" >&2; cat "$FALLBACK_LOG" >&2; exit 1
  }
  wait_line "first explanation shown"
  sleep 1
  xdotool mousemove 640 808
  xdotool search --name Lantern windowfocus --sync
  sleep 0.5
  # File, then Open audit… (the menu's eighth entry).
  xdotool mousemove "$FILE_X" "$FILE_Y" click 1
  sleep 1
  xwd -root -silent | convert xwd:- png:"${FALLBACK_SHOT%.png}-menu.png"
  xdotool mousemove "$OPEN_AUDIT_X" "$OPEN_AUDIT_Y" click 1
  sleep 1.5
  wait_line "No file dialog could be shown"
  xwd -root -silent | convert xwd:- png:"$FALLBACK_SHOT"
  # The typed-path window has the keyboard: type the folder and the name's start, Tab, Enter.
  xdotool type --delay 20 "$FALLBACK_DIR/au"
  sleep 0.5
  xdotool key Tab
  sleep 0.5
  xdotool key Return
  wait_line "lantern: opened Audit $FALLBACK_DIR/audit.db"
  exit 0
fi

bin="${1:-${CARGO_TARGET_DIR:-target}/debug/lantern}"
export FALLBACK_BIN="$bin"
export FALLBACK_SHOT="${2:-$(mktemp -d)/lantern-fallback.png}"
export FALLBACK_LOG=$(mktemp)
export FALLBACK_DIR=$(mktemp -d)
export FILE_X=18 FILE_Y=10 OPEN_AUDIT_X=60 OPEN_AUDIT_Y=190
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
# No zenity: rfd's fallback when there is no portal.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | while read -r dir; do [ -x "$dir/zenity" ] || printf '%s:' "$dir"; done)
export PATH="${PATH%:}"

"$bin" synth --out "$FALLBACK_DIR/data" --count 4 --seed 3 --size 112 >/dev/null
"$bin" audit new "$FALLBACK_DIR/audit.db" --data "$FALLBACK_DIR/data" --format synth >/dev/null
LANTERN_FALLBACK_INNER=1 xvfb-run -a -s "-screen 0 1280x860x24" bash "$0"
grep "No file dialog could be shown\|opened Audit" "$FALLBACK_LOG"
