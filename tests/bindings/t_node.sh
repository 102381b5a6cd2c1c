#!/usr/bin/env bash
# The Node binding (bindings/node, issue 15): `make node` builds the addon
# with cc against the installed nodejs's N-API headers; `npm install
# ./bindings/node` installs it offline, for require() and import alike; the
# binding's own tests (`node --test`, bindings/node/test/*.test.mjs: real
# fb-broker and fb-encoder, segments named under this test's TID) pass, and
# their closing summary is printed; and fb-render --source 'attach:node
# example.mjs' renders with K = 2 Node producers, byte-exact against the
# ramp computed here, also when one of them gives its frame back and exits
# 4 (restarted).
#
# Under a sanitizer build (FB_SAN) the addon is instrumented: node, not
# built with the sanitizer, gets its runtime through LD_PRELOAD (a wrapper,
# $TMP/node/node, so that only node processes get it — fb-render and the
# other instrumented programs carry their own copy and refuse a second).
. "$(dirname "$0")/../lib.sh"

NODE=$(command -v node)
[ -n "$NODE" ] || skip "no node on PATH (the nodejs package)"
# nodesource's nodejs ships the N-API headers; Debian's own nodejs has them
# in libnode-dev.
[ -f /usr/include/node/node_api.h ] ||
	skip "no /usr/include/node/node_api.h (install libnode-dev, or nodesource's nodejs)"

make -s -C "$ROOT" CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" node > "$TMP/make.log" 2>&1
rc=$?
check "make node builds bindings/node/framebroker.node ($(tail -3 "$TMP/make.log" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && [ -s "$ROOT/bindings/node/framebroker.node" ]'
check "... exporting only the N-API entry points (no fb_* name)" \
	'! nm -D --defined-only "$ROOT/bindings/node/framebroker.node" | grep -q " fb_"'

mkdir "$TMP/node"
if [ -n "${FB_SAN:-}" ]; then
	case ${FB_CC:-cc} in
	*clang*) rt=$("${FB_CC}" -print-file-name=libclang_rt.asan-x86_64.so) ;;
	*) rt=$("${FB_CC:-cc}" -print-file-name=libasan.so) ;;
	esac
	[[ $FB_SAN == *address* ]] || rt=$("${FB_CC:-cc}" -print-file-name=libclang_rt.ubsan_standalone-x86_64.so)
	check "the sanitizer runtime for node: $rt" '[ -f "$rt" ]'
	# detect_leaks=0: node itself is not instrumented and keeps what it
	# allocates at exit; the addon's errors still abort (halt_on_error).
	printf '#!/bin/sh\nLD_PRELOAD=%q ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1 exec %q "$@"\n' \
		"$rt" "$NODE" > "$TMP/node/node"
	chmod +x "$TMP/node/node"
	export PATH="$TMP/node:$PATH"
fi

# npm install ./bindings/node, offline, into an application of our own.
mkdir "$TMP/app"
echo '{"name": "app", "version": "1.0.0", "private": true}' > "$TMP/app/package.json"
(cd "$TMP/app" && npm install --offline --no-audit --no-fund --loglevel=error "$ROOT/bindings/node") \
	> "$TMP/npm.log" 2>&1
rc=$?
echo 'const fb = require("framebroker"); console.log(typeof fb.attach, fb.version, fb.RESTART_EXIT_CODE)' > "$TMP/app/a.cjs"
echo 'import { attach, version } from "framebroker"; console.log(typeof attach, version)' > "$TMP/app/a.mjs"
version=$(awk '/define FB_VERSION_(MAJOR|MINOR|PATCH)/ {v = v s $3; s = "."} END {print v}' "$ROOT/include/framebroker.h")
check "npm install ./bindings/node (offline): require and import both load it ($(tr '\n' '~' < "$TMP/npm.log"))" \
	'[ $rc -eq 0 ] && [ "$(cd "$TMP/app" && node a.cjs)" = "function $version 4" ] &&
	 [ "$(cd "$TMP/app" && node a.mjs)" = "function $version" ]'

# The binding's tests.  Their closing summary ("# tests N" .. "# fail N")
# is printed as node wrote it.
(cd "$ROOT/bindings/node" && timeout 300 node --test --test-reporter=tap test/*.test.mjs) \
	> "$TMP/node-test.log" 2>&1
rc=$?
grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$TMP/node-test.log"
if [ $rc -ne 0 ]; then
	grep -B2 -A20 '^not ok\|^    not ok\|^# Subtest' "$TMP/node-test.log" | grep -v '^# Subtest' | head -120
fi
check "node --test bindings/node/test: exit $rc, none failed" \
	'[ $rc -eq 0 ] && grep -q "^# fail 0$" "$TMP/node-test.log" && grep -q "^# pass [1-9]" "$TMP/node-test.log"'

# want FRAMES SIZE: the ramp of examples/producer.c, computed here.
want() {
	python3 - "$1" "$2" > "$TMP/want.raw" << 'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
for f in range(n):
    out.write(bytes((f * 7 + j) % 251 for j in range(size)))
PY
}
W=48 H=32
want 40 $((W * H * 3))
fb-render --size ${W}x$H --pix-fmt rgb24 --frames 40 --workers 2 --slots 3 \
	--source "attach:node $ROOT/bindings/node/example.mjs" --sink raw -o "$TMP/a.raw" 2> "$TMP/err.a"
rc=$?
check "attach:node example.mjs, K=2: exit 0, output exact ($(tr '\n' '~' < "$TMP/err.a"))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/a.raw" "$TMP/want.raw" && grep -q "^fb-render: wrote " "$TMP/err.a"'

# Exit 4: the first producer started gives back the first frame >= 7 it
# claims and exits 4; it is restarted, the frame is rendered by someone,
# the output is exact.  One worker: with two, a loaded machine let the
# other render every frame before the flaky one claimed any (CI).  Into
# ffmpeg (ffv1), judged by ffmpeg's decode.  A slow encoder
# (--sink-jitter-ms) keeps frames left when fb-render reaps the one that
# exited, or no replacement is worth starting.
cat > "$TMP/flaky.sh" << SH
#!/bin/sh
mkdir "$TMP/once" 2> /dev/null && exec node "$ROOT/bindings/node/example.mjs" --give-back-at 7
exec node "$ROOT/bindings/node/example.mjs"
SH
chmod +x "$TMP/flaky.sh"
fb-render --size ${W}x$H --pix-fmt rgb24 --frames 40 --workers 1 --slots 3 --sink-jitter-ms 20 \
	--source "attach:$TMP/flaky.sh" -o "$TMP/b.mkv" -- -c:v ffv1 -pix_fmt rgb24 2> "$TMP/err.b"
rc=$?
ffmpeg -v error -i "$TMP/b.mkv" -f rawvideo -pix_fmt rgb24 - > "$TMP/b.raw" 2> /dev/null
check "a Node producer that gives a frame back and exits 4: restarted, exit 0, decoded output exact ($(tr '\n' '~' < "$TMP/err.b"))" \
	'[ $rc -eq 0 ] && grep -q "exited with status 4; starting a replacement (restart 1 of 10)" "$TMP/err.b" &&
	 cmp -s "$TMP/b.raw" "$TMP/want.raw"'

check_clean "node"
finish
