#!/usr/bin/env bash
# The vmsplice path into ffmpeg (encoder/sink.h).  Frames go into ffmpeg's
# pipe by reference, so a slot may be released only once ffmpeg has read all
# of that frame's bytes.  Here producers race to reuse few slots while ffmpeg
# reads slowly (its realtime filter), so any early release would let a
# producer overwrite pages still queued in the pipe: ffmpeg's rawvideo
# output must still be byte-for-byte the source file.
. "$(dirname "$0")/../lib.sh"

# render NAME SIZE FMT N K S [FFMPEG_FILTER_OPTS...]: raw source -> ffmpeg ->
# rawvideo file; compared with the source itself.
render() {
	local name=$1 size=$2 fmt=$3 n=$4 k=$5 s=$6
	shift 6
	local w=${size%x*} h=${size#*x} f
	f=$(frame_bytes "$fmt" "$w" "$h")
	gen_bytes $((f * n)) "vs$name" > "$TMP/$name.src"
	fb-render --size "$size" --pix-fmt "$fmt" --fps 400 --frames "$n" --workers "$k" \
		--slots "$s" --source raw:"$TMP/$name.src" -o "$TMP/$name.out" --name "/$TID-$name" \
		-- "$@" -f rawvideo 2> "$TMP/$name.err"
}

# 1. Frames of 76,800 bytes: the 1 MiB pipe holds 13 of them, far more than
# the 2 slots, so nearly every release waits on ffmpeg's reads.
render small 160x120 rgba 240 4 2 -vf realtime
check "spliced frames, 2 slots, 4 producers, slow reader: output is the source" \
	'cmp -s "$TMP/small.src" "$TMP/small.out"'

# 2. A frame size that is not a multiple of the page (232,083 bytes): each
# frame's last page is shared with nothing, but the offsets must still add up.
render odd 321x241 rgb24 120 3 3 -vf realtime
check "odd-sized spliced frames: output is the source" 'cmp -s "$TMP/odd.src" "$TMP/odd.out"'

# 3. Large frames, unthrottled, one slot: every frame waits for the last.
render big 1280x720 rgba 30 2 1
check "720p frames through 1 slot: output is the source" 'cmp -s "$TMP/big.src" "$TMP/big.out"'

# 4. The path really is vmsplice (strace counts the calls that moved bytes:
# a vmsplice that fails makes the encoder fall back to copying, silently),
# and with FB_VMSPLICE=0 the copy path gives the same bytes.
strace -f -qq -e trace=vmsplice -o "$TMP/trace" \
	fb-render --size 160x120 --fps 400 --frames 40 --workers 2 --slots 2 \
	--source raw:"$TMP/small.src" -o "$TMP/traced.out" --name "/$TID-traced" -- -f rawvideo 2> /dev/null
calls=$(grep -cE 'vmsplice\(.*= [1-9][0-9]*$' "$TMP/trace")
check "encoder feeds ffmpeg with vmsplice ($calls calls moved bytes)" '[ "$calls" -gt 0 ]'
head -c $((76800 * 40)) "$TMP/small.src" > "$TMP/small40.src"
check "traced render is the source too" 'cmp -s "$TMP/small40.src" "$TMP/traced.out"'
FB_VMSPLICE=0 strace -f -qq -e trace=vmsplice -o "$TMP/trace0" \
	fb-render --size 160x120 --fps 400 --frames 40 --workers 2 --slots 2 \
	--source raw:"$TMP/small.src" -o "$TMP/copy.out" --name "/$TID-copy" -- -f rawvideo 2> /dev/null
check "FB_VMSPLICE=0: no vmsplice, same bytes" \
	'! grep -q "vmsplice(" "$TMP/trace0" && cmp -s "$TMP/small40.src" "$TMP/copy.out"'

# 5. ffmpeg dying while frames sit in its pipe: a clean error, nothing left.
fb-render --size 160x120 --fps 400 --frames 100000 --workers 2 --slots 2 --source fill \
	-o "$TMP/dies.out" --name "/$TID-dies" -- -vf realtime -f rawvideo 2> "$TMP/dies.err" &
pid=$!
# frames in ffmpeg's pipe: it runs, and the encoder has pushed 40 at it
wait_until 10 "pgrep -f '^ffmpeg .*$TMP/dies.out' > /dev/null && rendering /$TID-dies 40"
pkill -KILL -f "^ffmpeg .*$TMP/dies.out"
wait $pid
rc=$?
check "ffmpeg killed mid-pipe: exit 1 with its cause (rc=$rc: $(head -c 200 "$TMP/dies.err"))" \
	'[ $rc -eq 1 ] && grep -q "ffmpeg killed by signal 9" "$TMP/dies.err"'

check_clean "vmsplice"
finish
