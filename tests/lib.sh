# tests/lib.sh — shared helpers for the integration tests (sourced).
#
# Every test gets a private temp dir and a segment-name prefix; an EXIT trap
# kills whatever the test started and removes its segments even when the
# test fails.  check_clean asserts that nothing is left behind.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/bin
TID=fbt$$
TMP=$(mktemp -d "/tmp/$TID.XXXXXX")
PASS=0
FAIL=0
export PATH="$BIN:$PATH"

cleanup() {
	pkill -KILL -f -- "--name /$TID" 2>/dev/null
	pkill -KILL -P $$ 2>/dev/null
	rm -f /dev/shm/"$TID"* 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND [ARG...]: pass if the command succeeds.
# check DESCRIPTION 'CONDITION': with one string, it is eval'ed, so compound
# conditions (a && b) are judged whole — pass them single-quoted.
check() {
	local d=$1
	shift
	if [ $# -eq 1 ]; then
		if eval "$1"; then ok "$d"; else not_ok "$d"; fi
	elif "$@"; then ok "$d"; else not_ok "$d"; fi
}

# Nothing of ours may survive a test: no segment, no process, no zombie.
check_clean() {
	local what=$1 left procs zombies
	# Up to 2 s: exits and reaping (by init, for orphans) are not instant.
	for _ in $(seq 20); do
		sleep 0.1
		left=$(ls /dev/shm | grep -E "^($TID|fb-render-)" || true)
		procs=$(pgrep -a -f "$BIN/fb-(broker|producer|encoder|render)" || true)
		zombies=$(ps -eo stat=,comm= | awk '$1 ~ /^Z/ && $2 ~ /^(fb-|ffmpeg)/' || true)
		[ -z "$left$procs$zombies" ] && break
	done
	if [ -z "$left" ] && [ -z "$procs" ] && [ -z "$zombies" ]; then
		ok "$what: no segment, process or zombie left"
	else
		not_ok "$what: left behind: ${left} ${procs} ${zombies}"
		pkill -KILL -f "$BIN/fb-" 2>/dev/null
		rm -f /dev/shm/"$TID"* /dev/shm/fb-render-* 2>/dev/null
	fi
}

# Deterministic bytes not produced by framebroker: N bytes from seed S.
gen_bytes() {
	python3 -c '
import hashlib, sys
n, seed = int(sys.argv[1]), sys.argv[2].encode()
out = sys.stdout.buffer
i = 0
while n > 0:
    b = hashlib.sha256(seed + i.to_bytes(8, "little")).digest() * 128
    out.write(b[:n]); n -= len(b[:n]); i += 1
' "$1" "$2"
}

# frames_md5 [FFMPEG_INPUT_OPTIONS...] -i INPUT: one line per video frame of
# INPUT as ffmpeg decodes it to rgb24 (framemd5: stream, dts, pts, duration,
# size, md5; comments dropped).  ffmpeg is the judge, not framebroker.
frames_md5() { ffmpeg -v error "$@" -map 0:v -f framemd5 -pix_fmt rgb24 - | grep -v '^#'; }

# Bytes of one frame: frame_bytes FMT W H (mirrors ffmpeg rawvideo sizing).
frame_bytes() {
	case $1 in
	rgba|bgra) echo $(($2 * $3 * 4)) ;;
	rgb24) echo $(($2 * $3 * 3)) ;;
	gray) echo $(($2 * $3)) ;;
	yuv420p) echo $(($2 * $3 + 2 * (($2 + 1) / 2) * (($3 + 1) / 2))) ;;
	rgb48le) echo $(($2 * $3 * 6)) ;;
	yuv420p10le) echo $((2 * ($2 * $3 + 2 * (($2 + 1) / 2) * (($3 + 1) / 2)))) ;;
	esac
}

finish() {
	echo "# $(basename "$0"): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
