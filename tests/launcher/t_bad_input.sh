#!/usr/bin/env bash
# Bad input: a one-line error naming the problem, the documented exit code,
# and nothing created — no segment, no process, no output file.
. "$(dirname "$0")/../lib.sh"

gen_bytes $((64 * 48 * 4 * 3)) short > "$TMP/short.raw"

# expect CODE PATTERN DESCRIPTION -- fb-render ARGS...
expect() {
	local code=$1 pat=$2 desc=$3 rc lines
	shift 4
	rm -f "$TMP/out.mp4"
	"$@" -o "${OUT:-$TMP/out.mp4}" > /dev/null 2> "$TMP/err"
	rc=$?
	lines=$(wc -l < "$TMP/err")
	if [ $rc -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$TMP/err" &&
		[ ! -e "$TMP/out.mp4" ]; then
		ok "$desc: exit $code, '$(cat "$TMP/err")'"
	else
		not_ok "$desc: exit $rc (want $code), $lines line(s): $(cat "$TMP/err")"
	fi
}

expect 2 "unknown option"  "unknown option"        -- fb-render --bogus
expect 2 "unexpected argument" "stray argument"    -- fb-render extra
expect 2 "\-\-size '0x10'" "zero width"            -- fb-render --size 0x10
expect 2 "\-\-size '-5x10'" "negative width"       -- fb-render --size -5x10
expect 2 "\-\-size '100000x100000'" "overflowing size" -- fb-render --size 100000x100000
expect 2 "\-\-size '99999999999999999999x2'" "size over 64 bits" -- fb-render --size 99999999999999999999x2
expect 2 "\-\-size '12x'"  "size without height"   -- fb-render --size 12x
expect 2 "segment limit"   "segment over the size limit" -- fb-render --size 16384x16384 --slots 256
expect 2 "\-\-slots '0'"   "S = 0"                 -- fb-render --slots 0
expect 2 "\-\-slots '257'" "S too large"           -- fb-render --slots 257
expect 2 "\-\-workers '0'" "K = 0"                 -- fb-render --workers 0
expect 2 "\-\-workers '-1'" "K negative"           -- fb-render --workers -1
expect 2 "\-\-frames '0'"  "zero frames"           -- fb-render --frames 0
expect 2 "\-\-fps '0'"     "zero fps"              -- fb-render --fps 0
expect 2 "\-\-pix-fmt 'nv12'" "unknown pixel format" -- fb-render --pix-fmt nv12
expect 2 "\-\-sink 'gif'"  "unknown sink"          -- fb-render --sink gif
expect 2 "\-\-source 'file.raw'" "unknown source"  -- fb-render --source file.raw
expect 2 "\-\-cpu-us '-5'" "negative --cpu-us"   -- fb-render --cpu-us -5
expect 2 "\-\-source 'fill:x'" "unknown producer source" -- fb-producer --name /x --source fill:x
expect 2 "\-\-name 'a b'" "bad segment name"  -- fb-render --name 'a b'
expect 2 "\-\-name '/a/b'" "segment name with slash" -- fb-render --name /a/b
expect 2 "cannot read raw source $TMP/missing.raw" "missing raw file" \
	-- fb-render --source raw:"$TMP/missing.raw"
expect 2 "not a regular file" "raw source is a directory" -- fb-render --source raw:"$TMP"
OUT=/nonexistent/dir/out.mp4 expect 2 "cannot write output /nonexistent/dir/out.mp4" \
	"unwritable output path" -- fb-render
OUT=$TMP expect 2 "is a directory" "output is a directory" -- fb-render
expect 2 "needs about 532 descriptors" "more workers than descriptors" \
	-- bash -c 'ulimit -n 256; exec "$0" --workers 500 "$@"' "$TMP/shim/fb-render"
expect 2 "make no sense with --sink raw" "ffmpeg options with raw sink" \
	-- fb-render --sink raw -- -c:v ffv1

# A segment name that exists (held by a live broker) is refused, and that
# broker's segment is left alone.
fb-broker --name /$TID-taken --frames 5 --size 16x16 &
bpid=$!
wait_until 60 'fb-stat /$TID-taken > /dev/null 2>&1' # created whole, not being created
expect 2 "segment /$TID-taken already exists" "segment name that exists" \
	-- fb-render --name /$TID-taken --size 16x16
fb-broker --name /$TID-taken 2> "$TMP/err"
rc=$?
check "fb-broker on a taken name: exit 2 ($(cat "$TMP/err"))" '[ $rc -eq 2 ] && grep -q "already exists" "$TMP/err"' 
check "the existing segment survived" [ -e /dev/shm/$TID-taken ]
kill -TERM $bpid
wait $bpid
rc=$?
check "fb-broker exits 143 on SIGTERM and unlinks" '[ $rc -eq 143 ] && [ ! -e /dev/shm/$TID-taken ]' 

# Runtime failures: exit 1 with a one-line cause.
expect 1 "too short: 36864 bytes, but 300 frames of 12288 bytes" "raw file shorter than the frames" \
	-- fb-render --size 64x48 --source raw:"$TMP/short.raw"
expect 1 "ffmpeg not found on PATH" "ffmpeg missing" -- env PATH=/nonexistent "$BIN/fb-render" --name /$TID-noffmpeg
# ffmpeg itself refuses: its own message is quoted.  (ffmpeg may create
# nothing, but we only check the cause and the cleanup here.)
rm -f "$TMP/bad.mp4"
fb-render --size 64x48 --frames 10 --name /$TID-ff -o "$TMP/bad.mp4" -- -c:v nosuchcodec 2> "$TMP/err"
rc=$?
check "ffmpeg failure: exit 1 quoting ffmpeg ($(cat "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -q "ffmpeg exited with status 1: .*nosuchcodec" "$TMP/err" && [ "$(wc -l < "$TMP/err")" -eq 1 ]' 

# ffmpeg that ends early on its own (-t) leaves frames unwritten: an error.
fb-render --size 64x48 --frames 300 --name /$TID-short -o "$TMP/short.mp4" -- -t 0.2 -c:v libx264 2> "$TMP/err"
rc=$?
check "ffmpeg closing its input early: exit 1 ($(cat "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -q "ffmpeg exited 0 but stopped reading its input" "$TMP/err"'

# The other programs reject bad options with exit 2 too.
for p in fb-broker fb-producer fb-encoder fb-render; do
	"$p" --bogus 2> "$TMP/err"
	rc=$?
	check "$p --bogus: exit 2 naming the option" '[ $rc -eq 2 ] && grep -q -- "--bogus" "$TMP/err"' 
	"$p" --name /$TID-x --size 2> "$TMP/err"
	rc=$?
	check "$p with a missing option value: exit 2 ($(cat "$TMP/err"))" [ $rc -eq 2 ]
done
fb-producer --name /$TID-none --attach-timeout 0 2> "$TMP/err"
rc=$?
check "fb-producer on a missing segment: exit 1 ($(cat "$TMP/err"))" [ $rc -eq 1 ]

check_clean "bad input"
finish
