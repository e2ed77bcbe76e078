#!/usr/bin/env bash
# The web page in a real browser. Serve the built folder (web/build.sh) on the loopback address,
# open it in headless Chromium driven through chromedriver's WebDriver HTTP API, and wait until
# the page's title says the demo's first map is drawn. Then:
#   - take a screenshot and check it is not blank;
#   - press M (hide the map) and check the canvas changed over a large area while the menu bar
#     did not;
#   - drop a photo on the page, as a person drags a file from their desktop, and wait until its
#     map is drawn;
#   - drop an ONNX model (the demo ViT) and wait until the photo's map with that model is drawn;
#   - ask for RISE in the page's address and check the page stays responsive while it computes;
#   - ask for WebGPU compute in the page's address (`?device=webgpu`; Chromium's adapter here is
#     SwiftShader, a software one, which `auto` does not take) and check its Grad-CAM is drawn like
#     the CPU's.
#   tests/web_smoke.sh [web/dist] [screenshot.png]
set -euo pipefail
cd "$(dirname "$0")/.."

dist="${1:-web/dist}"
shot="${2:-$(mktemp -d)/web.png}"
photo=tests/fixtures/photos/chelsea.jpg
onnx=assets/demo/lantern_vit.onnx
[ -f "$dist/lantern_bg.wasm" ] || { echo "no web build in $dist: run web/build.sh first" >&2; exit 1; }
for tool in chromium chromedriver curl convert compare python3; do
  command -v "$tool" >/dev/null || { echo "web_smoke needs $tool" >&2; exit 1; }
done

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
driver_port=$(free_port)
# A plain static server, as any host would be (it sends .wasm as application/wasm).
python3 -m http.server --bind 127.0.0.1 --directory "$dist" "$port" >"$work/http.log" 2>&1 &
server=$!
chromedriver --port="$driver_port" >"$work/driver.log" 2>&1 &
driver=$!
session=""
cleanup() {
  status=$?
  [ -n "$session" ] && wd DELETE "/session/$session" >/dev/null 2>&1
  kill "$server" "$driver" 2>/dev/null || true
  # A passing run leaves only its screenshots (the browser profile alone is about 60 MB per run);
  # a failing one keeps its logs and profile to read.
  if [ "$status" -eq 0 ]; then rm -rf "$work" 2>/dev/null || true; else echo "web_smoke: logs kept in $work" >&2; fi
}
trap cleanup EXIT

# One WebDriver call: method, path, JSON body (a file with @file).
wd() { curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$driver_port$2"; }
# The string "value" of a WebDriver answer.
value() { sed -n 's/.*"value":"\([^"]*\)".*/\1/p'; }

for _ in $(seq 1 100); do wd GET /status >/dev/null 2>&1 && break; sleep 0.1; done
args='"--headless","--enable-unsafe-webgpu","--no-sandbox","--no-first-run","--disable-background-networking","--disable-component-update","--disable-sync","--use-angle=swiftshader","--enable-unsafe-swiftshader","--window-size=1280,800"'
session=$(wd POST /session "{\"capabilities\":{\"alwaysMatch\":{\"browserName\":\"chrome\",\"goog:chromeOptions\":{\"binary\":\"$(command -v chromium)\",\"args\":[$args,\"--user-data-dir=$work/profile\"]}}}}" |
  sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
[ -n "$session" ] || { echo "chromedriver gave no session:" >&2; cat "$work/driver.log" >&2; exit 1; }
s="/session/$session"
wd POST "$s/url" "{\"url\":\"http://127.0.0.1:$port/\"}" >/dev/null

title() { wd POST "$s/execute/sync" '{"script":"return document.title","args":[]}' | value; }
# Wait until the title matches $1 (the map of the image it names is drawn), at most $2 seconds.
wait_title() {
  local t=""
  for _ in $(seq 1 $(($2 * 4))); do
    t=$(title)
    if grep -q "$1" <<<"$t"; then echo "$t"; return 0; fi
    if grep -q "failed" <<<"$t"; then break; fi
    sleep 0.25
  done
  echo "the page's title is '$t', not '$1' after $2 s" >&2
  wd POST "$s/execute/sync" '{"script":"return document.getElementById(\"status\").textContent","args":[]}' >&2 || true
  return 1
}
screenshot() { wd GET "$s/screenshot" | value | base64 -d >"$1"; }

start=$(date +%s)
first=$(wait_title ' in [0-9]* ms' 180)
echo "first map after $(($(date +%s) - start)) s: $first"
sleep 1
screenshot "$shot"
stddev=$(convert "$shot" -colorspace Gray -format "%[fx:standard_deviation]" info:)
colours=$(convert "$shot" -format "%k" info:)
echo "screenshot $shot: grey standard deviation $stddev, $colours colours"
awk -v s="$stddev" -v c="$colours" 'BEGIN { exit !(s > 0.05 && c > 200) }' || { echo "the page looks blank" >&2; exit 1; }

# M hides the map: keys go to the canvas, which takes focus like any focusable element.
wd POST "$s/execute/sync" '{"script":"document.getElementById(\"lantern\").focus()","args":[]}' >/dev/null
wd POST "$s/actions" '{"actions":[{"type":"key","id":"keys","actions":[{"type":"keyDown","value":"m"},{"type":"keyUp","value":"m"}]}]}' >/dev/null
sleep 1.5
bare="${shot%.png}-bare.png"
screenshot "$bare"
changed() {
  convert "$shot" -crop "$1" +repage "$work/a.png"
  convert "$bare" -crop "$1" +repage "$work/b.png"
  { compare -metric AE -fuzz 8% "$work/a.png" "$work/b.png" null: 2>&1 || true; } | awk '{print int($1)}'
}
canvas=$(changed 560x500+300+150)
menu=$(changed 1280x24+0+0)
echo "map check: $canvas of 280000 canvas pixels change when the map is hidden; $menu of 30720 in the menu bar"
awk -v c="$canvas" -v m="$menu" 'BEGIN { exit !(c > 28000 && m < 1000) }' || { echo "the map does not seem to be drawn over the image" >&2; exit 1; }
wd POST "$s/actions" '{"actions":[{"type":"key","id":"keys","actions":[{"type":"keyDown","value":"m"},{"type":"keyUp","value":"m"}]}]}' >/dev/null

# Drop the photo on the canvas: the drag events a browser sends for a file from the desktop.
drop_file() {
  local script='const [b64, name, type] = arguments; const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)); const dt = new DataTransfer(); dt.items.add(new File([bytes], name, {type})); const c = document.getElementById(\"lantern\"); for (const t of [\"dragenter\", \"dragover\", \"drop\"]) c.dispatchEvent(new DragEvent(t, {dataTransfer: dt, bubbles: true, cancelable: true}));'
  printf '{"script":"%s","args":["%s","%s","%s"]}' "$script" "$(base64 -w0 "$1")" "$(basename "$1")" "$2" >"$work/drop.json"
  wd POST "$s/execute/sync" "@$work/drop.json" >/dev/null
}
drop_file "$photo" image/jpeg
dropped=$(wait_title "$(basename "$photo"): .* in [0-9]* ms" 180)
echo "dropped $(basename "$photo"): $dropped"
sleep 1
screenshot "${shot%.png}-dropped.png"

# Drop an ONNX model (the demo Vision Transformer): the page reads its graph from the file's bytes
# and explains the open photo with it.
drop_file "$onnx" application/octet-stream
vit=$(wait_title "$(basename "$onnx") · $(basename "$photo"): .* in [0-9]* ms" 180)
echo "dropped $(basename "$onnx"): $vit"
sleep 1
screenshot "${shot%.png}-onnx.png"
cmp -s "${shot%.png}-dropped.png" "${shot%.png}-onnx.png" && { echo "the ONNX model's map looks like the demo's" >&2; exit 1; }

# RISE with 1000 masks, named in the page's address: it runs in the page's compute worker, so the
# page's own thread stays free while it computes. Over 3 s of the computation, a timer asked to
# fire every 50 ms must never wait a second (a page computing on its own thread would make it
# wait for the whole computation). The title shows the progress ("RISE 12 %") while it runs.
wd POST "$s/url" "{\"url\":\"http://127.0.0.1:$port/?method=rise&masks=1000\"}" >/dev/null
started=$(wait_title "RISE [0-9]* %" 180)
echo "computing: $started"
gaps='const done = arguments[arguments.length - 1]; const t0 = performance.now(); let last = t0, worst = 0, ticks = 0; const id = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; ticks++; if (now - t0 > 3000) { clearInterval(id); done([Math.round(worst), ticks, document.title]); } }, 50);'
free=$(wd POST "$s/execute/async" "{\"script\":\"$gaps\",\"args\":[]}" | sed -n 's/.*"value":\[\([0-9]*\),\([0-9]*\),"\([^"]*\)"\].*/\1 \2 \3/p')
read -r worst ticks during <<<"$free"
rise=$(wait_title "RISE in [0-9]* ms" 600)
echo "RISE, 1000 masks: $rise; while it computed ('$during'), a 50 ms timer fired $ticks times in 3 s, the longest wait $worst ms"
case "$during" in
  *"RISE in"*) echo "RISE finished within the 3 s window: the wait says nothing" ;;
  *) [ "$worst" -lt 1000 ] || { echo "the page froze while RISE computed (a timer waited $worst ms)" >&2; exit 1; } ;;
esac
# WebGPU compute in the page's worker, then the same explanation on the CPU: the two screenshots'
# views (the image and its map) must agree; the side panel and status line, which say the device
# and the time, are left out.
wd POST "$s/url" "{\"url\":\"http://127.0.0.1:$port/?method=gradcam&device=webgpu\"}" >/dev/null
webgpu=$(wait_title " in [0-9]* ms on WebGPU" 300)
echo "WebGPU: $webgpu"
sleep 1
screenshot "${shot%.png}-webgpu.png"
wd POST "$s/url" "{\"url\":\"http://127.0.0.1:$port/?method=gradcam&device=cpu\"}" >/dev/null
cpu=$(wait_title "Grad-CAM in [0-9]* ms$" 180)
echo "CPU: $cpu"
sleep 1
screenshot "${shot%.png}-cpu.png"
convert "${shot%.png}-webgpu.png" -crop 780x560+10+30 +repage "$work/gpu.png"
convert "${shot%.png}-cpu.png" -crop 780x560+10+30 +repage "$work/cpu.png"
differ=$({ compare -metric AE -fuzz 3% "$work/gpu.png" "$work/cpu.png" null: 2>&1 || true; } | awk '{print int($1)}')
echo "WebGPU vs CPU: $differ of 436800 view pixels differ by more than 3 %"
[ "$differ" -lt 2184 ] || { echo "the WebGPU map does not look like the CPU's" >&2; exit 1; }
echo "web smoke test passed"
