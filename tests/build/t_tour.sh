#!/usr/bin/env bash
# The README's tour, run as written: its command lines are read out of
# README.md (the indented block under "## A 60-second tour") and run one
# after the other by one bash, in a fresh directory holding a copy of
# examples/, against an install into a temporary prefix (the first line,
# `make && sudo make install`, is replaced by `make install PREFIX=...` and
# PATH/PKG_CONFIG_PATH as the README says for a custom prefix).  Each line
# must succeed; each output is checked by ffprobe; each line's wall time is
# printed (the closing note of issue 13 quotes them).
#
# Deviations from a user at a terminal, invisible in the commands: the
# renders without --name go through lib.sh's shim (names of this test's
# own); and in a sanitizer build (FB_SAN) `cc` is a wrapper adding
# -fsanitize=FB_SAN with the suite's compiler, because the installed
# library is instrumented and a program linking it must carry the runtime.  The lines run as fast as bash runs them, as if pasted in one
# block: fb-stat, started right after the background render, waits for its
# segment to appear.
. "$(dirname "$0")/../lib.sh"

mapfile -t lines < <(awk '/^## A 60-second tour/ {on = 1; next}
	on && /^## / {exit}
	on && /^    / {sub(/^    /, ""); print}' "$ROOT/README.md")
check "README has a tour of ${#lines[@]} lines, the first one the install" \
	'[ ${#lines[@]} -ge 8 ] && [[ ${lines[0]} == "make && sudo make install"* ]]'

prefix=$TMP/prefix
make -s -C "$ROOT" CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" install PREFIX="$prefix" > "$TMP/install.log" 2>&1
check "make install PREFIX=$prefix" '[ $? -eq 0 ] || { cat "$TMP/install.log"; false; }'
mkdir "$TMP/tour" "$TMP/tourbin"
cp -r "$ROOT/examples" "$TMP/tour/"
if [ -n "${FB_SAN:-}" ]; then
	printf '#!/bin/sh\nexec %q -fsanitize=%q "$@"\n' "${FB_CC:-cc}" "$FB_SAN" > "$TMP/tourbin/cc"
	chmod +x "$TMP/tourbin/cc"
fi

# The script: every tour line verbatim, each followed by its exit status and
# wall time on fd 9, its stderr in err.N.  The shim runs the installed fb-render.
{
	echo 'set -u'
	echo 'since() { awk -v a="$1" -v b="$EPOCHREALTIME" "BEGIN { printf \"%.2f\", b - a }"; }'
	echo "export PATH=$TMP/tourbin:$TMP/shim:$prefix/bin:\$PATH PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
	echo "cd $TMP/tour"
	for ((i = 1; i < ${#lines[@]}; i++)); do
		echo "exec 2> $TMP/err.$i; t0=\$EPOCHREALTIME"
		printf '%s\n' "${lines[i]}"
		if [[ ${lines[i]} =~ \&[[:space:]]*(#.*)?$ ]]; then
			echo 'bg=$!'
			echo "echo \"$i 0 bg\" >&9"
		else
			echo "echo \"$i \$? \$(since \$t0)\" >&9"
		fi
	done
	echo 't0=$EPOCHREALTIME; wait $bg; echo "bg $? $(since $t0)" >&9'
	echo 'echo "pid $$" >&9'
} > "$TMP/tour.sh"
# A controller that answers is not ours to use: fb-farm must render here.
# Without a slurm.conf (the newcomer's case) scontrol fails at once; a
# SLURM_CONF naming no file would make it retry until fb-farm's ping timeout.
no_slurm=()
[ ! -e /etc/slurm/slurm.conf ] || no_slurm=(SLURM_CONF="$TMP/no-slurm.conf")
env -u SLURM_CONF "${no_slurm[@]}" FB_TEST_BIN="$prefix/bin" timeout 600 bash "$TMP/tour.sh" \
	9> "$TMP/results" > "$TMP/tour.out" 2> "$TMP/tour.err"
rc=$?
pid=$(awk '$1 == "pid" {print $2}' "$TMP/results")
rm -f "/dev/shm/tour-$pid" # the tour's own segment, should a failure leave it
check "the tour ran to its end (rc=$rc)" '[ $rc -eq 0 ] && [ -n "$pid" ]'
for ((i = 1; i < ${#lines[@]}; i++)); do
	read -r _ status secs < <(awk -v i=$i '$1 == i' "$TMP/results")
	check "tour line $i exits 0 (${secs:-?} s): ${lines[i]%%  #*}" '[ "${status:-x}" = 0 ]'
done
read -r _ status secs < <(awk '$1 == "bg"' "$TMP/results")
check "the background render exits 0 (${secs:-?} s more after the last line)" '[ "${status:-x}" = 0 ]'

# What the lines made, judged by ffprobe (frame counts as the lines ask).
frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
	-of csv=p=0 "$TMP/tour/$1" 2> /dev/null; }
for want in demo.mp4:300 long.mp4:600 py.mp4:90 png.mp4:300 lib.mp4:300 farm.mp4:300; do
	f=${want%%:*} n=${want#*:}
	got=$(frames "$f")
	check "$f holds $n frames (ffprobe: ${got:-none})" '[ "$got" = "$n" ]'
done
check "fb-stat tour-\$\$ showed the background render" 'grep -q "^/tour-$pid " "$TMP/tour.out"'
check "fb-stat --json --watch printed JSON objects of it" \
	'grep -q "^{\"name\":\"/tour-$pid\"" "$TMP/tour.out"'
check "the demo's last line says what it wrote ($(tail -1 "$TMP/err.1"))" \
	'tail -1 "$TMP/err.1" | grep -q "wrote demo.mp4"'
check "nothing of the tour is left in /dev/shm" '[ ! -e "/dev/shm/tour-$pid" ]'
for ((i = 1; i < ${#lines[@]}; i++)); do
	[ "$FAIL" -eq 0 ] || { echo "# line $i's stderr, last lines:"; tail -5 "$TMP/err.$i" | sed "s/^/#   /"; }
done
check_clean "tour"
finish
