#!/usr/bin/env bash
# Checks that `tinyraft-harness replay --html` writes a page that renders in
# headless Chromium: the page's DOM after its scripts ran must hold the SVG
# timeline with one lane per node, and a screenshot is written for a person
# to look at.
#
# Usage (from the project root): harness/scripts/check-timeline.sh [SEED]
# Needs Chromium: `apt-get install -y chromium` (Debian's package).
set -euo pipefail
seed=${1:-7}
out=${OUT:-target/timeline-check}
mkdir -p "$out"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no chromium on PATH: apt-get install -y chromium"; exit 2; }

cargo run --quiet --release -p tinyraft-harness -- replay --seed "$seed" --html "$out/seed$seed.html" --trace "$out/seed$seed.jsonl"
page=$(realpath "$out/seed$seed.html")
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$(mktemp -d)")
"$browser" "${flags[@]}" --virtual-time-budget=3000 --dump-dom "file://$page" > "$out/dom.html" 2>/dev/null
"$browser" "${flags[@]}" --window-size=1400,900 --screenshot="$out/seed$seed.png" "file://$page" >/dev/null 2>&1

fail() { echo "timeline check FAILED: $*"; exit 1; }
grep -q "<svg" "$out/dom.html" || fail "no <svg> in the rendered DOM"
lanes=$(grep -o 'class="lane' "$out/dom.html" | wc -l)
[ "$lanes" -ge 3 ] || fail "expected a lane per node, found $lanes"
[ -s "$out/seed$seed.png" ] || fail "no screenshot written"
echo "timeline renders in headless Chromium: $lanes lanes; screenshot $out/seed$seed.png"
