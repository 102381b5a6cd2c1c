#!/usr/bin/env bash
# valgrind memcheck on fb-broker, fb-producer and fb-encoder in a real
# render (started by hand, as a script would, each under its own valgrind):
# no memory error and no leak in any of them, and the output is exact.
. "$(dirname "$0")/../lib.sh"

# ASan/UBSan binaries cannot run under valgrind; the plain build's run of
# this test is the one that counts.
[ -z "${FB_SAN:-}" ] || skip "valgrind does not run sanitizer builds (SAN=$FB_SAN)"
if ! command -v valgrind > /dev/null; then
	not_ok "valgrind is not installed (scripts/install-deps.sh installs it)"
	finish
	exit
fi
F=$(frame_bytes rgb24 96 64)
gen_bytes $((F * 60)) valgrind > "$TMP/src.raw"
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible --track-fds=no)

# Workers get the segment as an open descriptor, as fb-pipeline.sh does: a
# producer that valgrind starts slowly may find the render already over,
# and then attaches, sees DONE and exits 0 instead of finding no name.
start_broker() { # NAME FRAMES SLOTS LOG
	"${vg[@]}" --log-file="$4" "$BIN/fb-broker" --name "$1" --size 96x64 --pix-fmt rgb24 \
		--frames "$2" --slots "$3" --ready-fd 3 3> "$TMP/ready.${1#/}" &
	bpid=$!
	wait_until 30 "[ -s '$TMP/ready.${1#/}' ]"
	# Only once the broker made it (a redirection would create it).
	if [ -e "/dev/shm$1" ]; then exec 4<> "/dev/shm$1"; else exec 4< /dev/null; fi
}
start_broker /$TID-vg 60 3 "$TMP/vg.broker"
for _ in 1 2; do
	"${vg[@]}" --log-file="$TMP/vg.producer.%p" "$BIN/fb-producer" --name /$TID-vg --fd 4 \
		--source raw:"$TMP/src.raw" &
done
"${vg[@]}" --log-file="$TMP/vg.encoder" "$BIN/fb-encoder" --name /$TID-vg --fd 4 \
	--sink raw -o "$TMP/out.raw"
erc=$?
exec 4<&-
wait $bpid
brc=$?
prc=0
for p in $(jobs -p); do wait "$p" || prc=$?; done
check "under valgrind: encoder exit $erc, broker exit $brc, producers $prc" \
	'[ $erc -eq 0 ] && [ $brc -eq 0 ] && [ $prc -eq 0 ]'
check "under valgrind: output byte-identical" cmp -s "$TMP/out.raw" "$TMP/src.raw"
# valgrind 3.19 does not know pidfd_open (syscall 434) and says so in
# "--PID--" lines; framebroker falls back to /proc then.  Errors and leaks
# are the "==PID==" lines.
memcheck_clean() { ! grep -q '^==[0-9]*==' "$1"; }
for f in "$TMP"/vg.*; do
	check "memcheck clean: $(basename "$f")" memcheck_clean "$f"
	memcheck_clean "$f" || grep '^==' "$f" | head -20
done

# The ffmpeg path too (the encoder's spawn, pipe and stderr memfd).
start_broker /$TID-vgf 20 2 "$TMP/vgff.broker"
"${vg[@]}" --log-file="$TMP/vgff.producer" "$BIN/fb-producer" --name /$TID-vgf --fd 4 \
	--source raw:"$TMP/src.raw" &
ppid=$!
"${vg[@]}" --trace-children=no --log-file="$TMP/vgff.encoder" "$BIN/fb-encoder" --name /$TID-vgf \
	--fd 4 -o "$TMP/out.md5" -- -f framemd5
erc=$?
exec 4<&-
wait $bpid; brc=$?
wait $ppid; prc=$?
check "ffmpeg sink under valgrind: exits $erc/$brc/$prc" '[ $erc -eq 0 ] && [ $brc -eq 0 ] && [ $prc -eq 0 ]'
for f in "$TMP"/vgff.*; do
	check "memcheck clean: $(basename "$f")" memcheck_clean "$f"
	memcheck_clean "$f" || grep '^==' "$f" | head -20
done
check_clean "valgrind"
finish
