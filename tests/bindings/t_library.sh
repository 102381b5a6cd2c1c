#!/usr/bin/env bash
# libframebroker as others use it: `make install` into a temporary prefix,
# examples/producer.c built against the *installed* library with pkg-config,
# two copies of it as a render's producers (broker and encoder started by
# hand), output checked byte for byte against bytes computed here; the .so
# has its soname and exports only the public API; `make uninstall` (and a
# DESTDIR install/uninstall) leave no file behind.
. "$(dirname "$0")/../lib.sh"

mk() { make -s -C "$ROOT" CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" "$@"; }
prefix=$TMP/prefix
mk install PREFIX="$prefix" > "$TMP/install.log" 2>&1
rc=$?
check "make install PREFIX=$prefix (rc=$rc)" '[ $rc -eq 0 ] || { cat "$TMP/install.log"; false; }'
for f in bin/fb-render bin/fb-broker bin/fb-producer bin/fb-encoder lib/libframebroker.a \
	lib/libframebroker.so.0 include/framebroker.h lib/pkgconfig/framebroker.pc bin/fb-stat \
	share/man/man1/fb-render.1 share/man/man1/fb-stat.1 share/man/man3/framebroker.3; do
	check "installed $f" '[ -e "$prefix/'$f'" ]'
done
so=$(readlink -f "$prefix/lib/libframebroker.so")
check "soname is libframebroker.so.0" 'readelf -d "$so" | grep -q "SONAME.*\[libframebroker.so.0\]"'
exports=$(nm -D --defined-only "$so" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort | tr '\n' ' ')
# The public API: the functions the installed header declares, read as
# tests/build/t_layout.sh reads the source tree's (tests/helpers/api_names.py).
api=$(python3 "$ROOT/tests/helpers/api_names.py" "$prefix/include/framebroker.h" 2> "$TMP/api.err" | tr '\n' ' ')
check "the installed header declares the API ($api$(head -c 300 "$TMP/api.err"))" \
	'[[ " $api" == *" fb_claim "* ]] && [[ " $api" == *" fb_publish "* ]]'
check "the .so exports exactly the public API ($exports)" '[ "$exports" = "$api" ]'
# The installed archive hides the internals too: its only global
# definitions (any kind: code, data, bss) are the public calls.
aglobals=$(nm -g --defined-only "$prefix/lib/libframebroker.a" | awk 'NF == 3 {print $3}' | sort | tr '\n' ' ')
check "the installed .a defines exactly the public API as global ($aglobals)" '[ "$aglobals" = "$api" ]'

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
san=()
[ -n "${FB_SAN:-}" ] && san=(-fsanitize="$FB_SAN")
# Exactly what a user types: no -Wl,-rpath of our own, no LD_LIBRARY_PATH.
# shellcheck disable=SC2046
"${FB_CC:-cc}" -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$TMP/producer" \
	"$ROOT/examples/producer.c" $(pkg-config --cflags --libs framebroker) 2> "$TMP/cc.log"
check "examples/producer.c builds with pkg-config --cflags --libs framebroker" \
	'[ -x "$TMP/producer" ] || { cat "$TMP/cc.log"; false; }'
check "a custom prefix: pkg-config --libs carries an rpath to $prefix/lib" \
	'pkg-config --libs framebroker | grep -q -- "-Wl,-rpath,$prefix/lib"'
check "in a clean environment it finds the installed libframebroker.so.0" \
	'env -i ldd "$TMP/producer" | grep -q "libframebroker.so.0 => $prefix/lib/"'

# A render whose producers are two copies of the example.
W=200 H=100 N=60
name=/$TID-lib
"$prefix/bin/fb-broker" --name $name --size ${W}x$H --pix-fmt rgb24 --frames $N --slots 3 \
	--ready-fd 3 3> "$TMP/ready" &
broker=$!
wait_until 10 '[ -s "$TMP/ready" ]'
check "broker ready" '[ -s "$TMP/ready" ]'
# Both run with nothing inherited (env -i); the second names the segment
# without its leading '/', as shm_open users write it.
env -i "$TMP/producer" $name & p1=$!
env -i "$TMP/producer" "${name#/}" & p2=$!
timeout 60 "$prefix/bin/fb-encoder" --name $name --sink raw -o "$TMP/out.raw"
rc=$?
# Whatever happened, nothing waits forever: the encoder is done or gone.
kill $broker 2> /dev/null
wait $p1; r1=$?
wait $p2; r2=$?
wait $broker
python3 - "$TMP/want.raw" $((W * H * 3)) $N <<'PY'
import sys
path, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "wb") as f:
    for fr in range(n):
        f.write(bytes((fr * 7 + j) % 251 for j in range(size)))
PY
check "render with two external producers: encoder 0, producers $r1 $r2, output exact" \
	'[ $rc -eq 0 ] && [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && cmp -s "$TMP/out.raw" "$TMP/want.raw"'
"$TMP/producer" /$TID-none > /dev/null 2> "$TMP/err"
rc=$?
check "attaching to no render: exit 1, one line ($(cat "$TMP/err"))" \
	'[ $rc -eq 1 ] && [ "$(wc -l < "$TMP/err")" = 1 ] && grep -q "no such segment" "$TMP/err"'

# The default prefix (/usr/local), as `sudo make install` does it, in a
# private mount namespace whose /usr/local and /etc are overlays: the
# machine's own are never written.  ldconfig must make the library known;
# with LDCONFIG=true (no ldconfig) the same program cannot start, which
# shows that this check can fail.
system_install() { # LDCONFIG: the program's output and "exit N"
	rm -rf "$TMP/ov"
	mkdir -p "$TMP"/ov/etc/u "$TMP"/ov/etc/w "$TMP"/ov/loc/u "$TMP"/ov/loc/w
	unshare -m bash -s "$1" > "$TMP/sys.out" 2>&1 <<- EOF
		set -e
		unset PKG_CONFIG_PATH LD_LIBRARY_PATH
		mount -t overlay overlay -o lowerdir=/etc,upperdir=$TMP/ov/etc/u,workdir=$TMP/ov/etc/w /etc
		mount -t overlay overlay -o lowerdir=/usr/local,upperdir=$TMP/ov/loc/u,workdir=$TMP/ov/loc/w /usr/local
		make -s -C "$ROOT" CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" LDCONFIG="\$1" install > "$TMP/sys-install.log" 2>&1
		cd "$TMP"
		"${FB_CC:-cc}" ${san[*]} "$ROOT/examples/producer.c" \$(pkg-config --cflags --libs framebroker) -o my-producer
		set +e
		env -i ./my-producer /$TID-none
		echo "exit \$?"
	EOF
	rm -rf "$TMP/ov"
}
if [ "$(id -u)" = 0 ] && unshare -m true 2> /dev/null; then
	before=$(ls -la /usr/local/lib /etc/ld.so.cache 2>&1 | md5sum)
	system_install ldconfig
	check "make install into /usr/local runs ldconfig: the program starts under env -i ($(tail -2 "$TMP/sys.out" | tr '\n' ' '))" \
		'grep -q "no such segment" "$TMP/sys.out" && grep -qx "exit 1" "$TMP/sys.out"'
	system_install true
	check "without ldconfig the same program cannot start (so the check above can fail)" \
		'grep -q "libframebroker.so.0: cannot open shared object" "$TMP/sys.out" && grep -qx "exit 127" "$TMP/sys.out"'
	check "the machine's own /usr/local/lib and ld.so.cache are untouched" \
		'[ "$(ls -la /usr/local/lib /etc/ld.so.cache 2>&1 | md5sum)" = "$before" ]'
else
	ok "# skip: the /usr/local install needs root and unshare -m"
fi

mk uninstall PREFIX="$prefix" > /dev/null 2>&1
left=$(find "$prefix" -type f -o -type l)
check "make uninstall leaves no file ($left)" '[ -z "$left" ]'
mk install PREFIX=/usr DESTDIR="$TMP/dest" > /dev/null 2>&1
check "DESTDIR install puts the header under DESTDIR/usr" '[ -f "$TMP/dest/usr/include/framebroker.h" ]'
mk uninstall PREFIX=/usr DESTDIR="$TMP/dest" > /dev/null 2>&1
left=$(find "$TMP/dest" -type f -o -type l)
check "DESTDIR uninstall leaves no file ($left)" '[ -z "$left" ]'

check_clean "library"
finish
