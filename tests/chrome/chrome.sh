# tests/chrome/chrome.sh — what every Chrome-worker test needs first
# (sourced after ../lib.sh): chrome_setup MODULE... sets EX (html/), NODE
# and CHROME, skips the script (saying why) without node, chromium or one
# of the npm MODULEs in html/node_modules (make deps runs npm ci there;
# a test never installs), builds the Node binding (checked), and under a
# sanitizer build puts a node wrapper first on PATH that preloads the
# sanitizer runtime (the addon is instrumented; fb-render's own programs
# carry theirs, chromium must not get it: html/chrome.mjs drops it).
chrome_setup() {
	EX=$ROOT/html
	NODE=$(command -v node)
	CHROME=
	local c m rt
	for c in /usr/lib/chromium/chromium-headless-shell /usr/lib/chromium/chromium; do
		[ -x "$c" ] && CHROME=$c && break
	done
	[ -n "$NODE" ] && [ -n "$CHROME" ] ||
		skip "no ${NODE:+chromium}${NODE:-node} (make deps, or apt-get install nodejs chromium)"
	for m in puppeteer-core "$@"; do
		[ -d "$EX/node_modules/$m" ] || skip "no $m in html/node_modules (make deps runs npm ci there)"
	done
	make -s -C "$ROOT" CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" all node > "$TMP/make.log" 2>&1
	check "make all node ($(tail -3 "$TMP/make.log" | tr '\n' '~'))" '[ -s "$ROOT/bindings/node/framebroker.node" ]'
	[ -n "${FB_SAN:-}" ] || return 0
	case ${FB_CC:-cc} in
	*clang*) rt=$("${FB_CC}" -print-file-name=libclang_rt.asan-x86_64.so) ;;
	*) rt=$("${FB_CC:-cc}" -print-file-name=libasan.so) ;;
	esac
	[[ $FB_SAN == *address* ]] || rt=$("${FB_CC:-cc}" -print-file-name=libclang_rt.ubsan_standalone-x86_64.so)
	mkdir -p "$TMP/node"
	printf '#!/bin/sh\nLD_PRELOAD=%q ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1 exec %q "$@"\n' \
		"$rt" "$NODE" > "$TMP/node/node"
	chmod +x "$TMP/node/node"
	export PATH="$TMP/node:$PATH"
}
