#!/usr/bin/env bash
# bench/scaleout.sh — wall time of one render as 1, 2, 4 (and more) chunks
# on this machine (fb-farm --local), against one plain fb-render of the same
# frames in the same run, and the size cost of the extra keyframes.
# Usage: bench/scaleout.sh [RUNS] [K...]   (default 3 runs; K = 1 2 4 8)
#   SCALE_ONE_CORE=1: every render (the reference and each chunk) uses one
#   producer and one x264 thread, as if each chunk had a node of one core:
#   how chunks scale when the machines, not the cores of one, are the unit.
# Prints a markdown table; docs/scale-out.md quotes it.
set -eu
cd "$(dirname "$0")/.."
BIN=${FB_BIN:-$PWD/bin}
runs=${1:-3}
shift || true
ks=("$@")
[ ${#ks[@]} -gt 0 ] || ks=(1 2 4 8)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The render: 720p test card through the default x264 (veryfast, crf 20),
# plus 8 ms of renderer CPU per frame: a render engine is rarely free.
R=(--size 1280x720 --frames 600 --cpu-us 8000)
FF=()
if [ "${SCALE_ONE_CORE:-0}" = 1 ]; then
	R+=(--workers 1)
	FF=(-- -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -threads 1)
fi
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
time_of() { # time_of CMD...: seconds, one run
	local t0
	t0=$(now)
	"$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
	calc "$(now) - $t0"
}
declare -A t size
for ((r = 0; r < runs; r++)); do
	# interleaved, so a slow patch of the machine hits every row alike
	t[ref]+="$(time_of "$BIN/fb-render" "${R[@]}" -o "$tmp/ref.mp4" "${FF[@]}") "
	size[ref]=$(stat -c %s "$tmp/ref.mp4")
	for k in "${ks[@]}"; do
		t[$k]+="$(time_of "$BIN/fb-farm" --local --chunks "$k" "${R[@]}" -o "$tmp/k$k.mp4" "${FF[@]}") "
		size[$k]=$(stat -c %s "$tmp/k$k.mp4")
	done
done
ref=$(tr ' ' '\n' <<< "${t[ref]}" | grep . | median)
echo "| render | chunks at once | wall s (median of $runs) | speedup vs one fb-render | output bytes | size vs one fb-render |"
echo "|---|---|---|---|---|---|"
printf '| one fb-render | - | %.2f | 1.00x | %d | 1.000x |\n' "$ref" "${size[ref]}"
ncpu=$(nproc)
for k in "${ks[@]}"; do
	m=$(tr ' ' '\n' <<< "${t[$k]}" | grep . | median)
	printf '| fb-farm --local --chunks %d | %d | %.2f | %.2fx | %d | %.3fx |\n' "$k" \
		$((k < ncpu ? k : ncpu)) "$m" "$(calc "$ref / $m")" "${size[$k]}" \
		"$(calc "${size[$k]} / ${size[ref]}")"
done
echo
echo "(${SCALE_ONE_CORE:+one core per render; }${ncpu} CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); commit $(git rev-parse --short HEAD))"
