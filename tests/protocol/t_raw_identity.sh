#!/usr/bin/env bash
# --sink raw output is byte-identical to a --source raw: input for 1..4
# producers x 1,2,3,8 slots x four pixel formats at an odd size, and for
# odd sides where yuv420p chroma rounds up.  The input bytes come from a
# hash generator, not from framebroker.
. "$(dirname "$0")/../lib.sh"

W=322 H=242 N=12
run=0
for fmt in rgba rgb24 yuv420p gray; do
	F=$(frame_bytes $fmt $W $H)
	gen_bytes $((F * N)) "$fmt" > "$TMP/src.$fmt"
	for k in 1 2 3 4; do
		for s in 1 2 3 8; do
			run=$((run + 1))
			out=$TMP/out.raw
			if fb-render --size ${W}x${H} --pix-fmt $fmt --frames $N --workers $k \
				--slots $s --source raw:"$TMP/src.$fmt" --sink raw -o "$out" \
				--name /$TID-$run 2> "$TMP/err" && cmp -s "$out" "$TMP/src.$fmt"; then
				ok "raw identity $fmt K=$k S=$s"
			else
				not_ok "raw identity $fmt K=$k S=$s: $(cat "$TMP/err")"
			fi
		done
	done
done

# Odd sides: 321x241 yuv420p.  ffmpeg must agree on the frame size, or
# frame i would not be bytes [i*F, (i+1)*F) for it either.
W=321 H=241 fmt=yuv420p N=9
F=$(frame_bytes $fmt $W $H)
gen_bytes $((F * N)) odd > "$TMP/odd.raw"
nff=$(ffmpeg -v error -f rawvideo -pix_fmt $fmt -s ${W}x${H} -i "$TMP/odd.raw" -f framemd5 - | grep -vc '^#')
check "ffmpeg sees $N frames of $F bytes at ${W}x${H} $fmt" [ "$nff" = "$N" ]
fb-render --size ${W}x${H} --pix-fmt $fmt --frames $N --workers 3 --slots 2 \
	--source raw:"$TMP/odd.raw" --sink raw -o "$TMP/odd.out" --name /$TID-odd
check "raw identity at odd size ${W}x${H} $fmt" cmp -s "$TMP/odd.out" "$TMP/odd.raw"

# A longer file than asked for: only the first N frames come out.
gen_bytes $((F * N + 1000)) long > "$TMP/long.raw"
fb-render --size ${W}x${H} --pix-fmt $fmt --frames 5 --workers 2 \
	--source raw:"$TMP/long.raw" --sink raw -o "$TMP/long.out" --name /$TID-long
check "only the frames asked for" cmp -s "$TMP/long.out" <(head -c $((F * 5)) "$TMP/long.raw")

# Raw sink to stdout.
fb-render --size 64x48 --pix-fmt gray --frames 20 --workers 4 --slots 3 \
	--source raw:"$TMP/long.raw" --sink raw -o - --name /$TID-stdout > "$TMP/stdout.raw"
check "raw sink to stdout" cmp -s "$TMP/stdout.raw" <(head -c $((64 * 48 * 20)) "$TMP/long.raw")

check_clean "raw identity"
finish
