#!/usr/bin/env bash
# fb-farm on a real Slurm: a one-node cluster on loopback (munged, slurmctld,
# slurmd; config, key, state and sockets in the test's temp dir), a 4-chunk
# job array plus a stitch job afterok, one chunk's fb-render SIGKILLed
# once (Slurm requeues the task), a chunk that never succeeds (the stitch
# never runs), and the output compared frame by frame with one fb-render.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/farm/slurm_cluster.sh"
echo "# t_slurm.sh"

missing=""
for c in munged slurmctld slurmd sbatch scontrol sinfo; do
	command -v $c > /dev/null || missing="$missing $c"
done
[ -z "$missing" ] ||
	skip "Slurm is not installed (missing:$missing); make deps installs slurmctld slurmd slurm-client munge"
[ "$(id -u)" = 0 ] || skip "a test Slurm cluster runs its daemons as root; run as root (CI does)"

CL=$TMP/slurm
stop_cluster() { slurm_stop "$CL"; cleanup; }
trap stop_cluster EXIT
if ! slurm_start "$CL" 2 > "$TMP/start.log" 2>&1; then
	not_ok "one-node Slurm cluster starts: $(tail -1 "$TMP/start.log")"
	finish
	exit
fi
ok "one-node Slurm cluster up: $(sinfo -h -o '%P %D %T %c')"

W=160 H=120 N=60
LOSSLESS=(-c:v libx264rgb -qp 0)
GEOM=(--size ${W}x$H --pix-fmt rgb24 --fps 30 --frames $N --workers 2
	--source "exec:$ROOT/tests/farm/chunk_renderer.py")
fmd5() { frames_md5 -i "$1"; }
export KILL_MARK=$TMP/killed
touch "$KILL_MARK" # the reference render must not be killed
fb-render "${GEOM[@]}" -o "$TMP/ref.mp4" -- "${LOSSLESS[@]}"
rc=$?
check "reference: one fb-render of all $N frames, exit 0" '[ $rc -eq 0 ]'
fmd5 "$TMP/ref.mp4" > "$TMP/ref.fmd5"
check "reference: $N frames" '[ $(wc -l < "$TMP/ref.fmd5") -eq $N ]'

# chunk 1 is frames 15:30; its first run SIGKILLs its fb-render at frame 20
rm -f "$KILL_MARK"
export KILL_AT=20
fb-farm --slurm --chunks 4 --keep --partition fbtest --time 10 "${GEOM[@]}" \
	-o "$TMP/farm.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/farm.err"
rc=$?
check "fb-farm --slurm --chunks 4: exit 0" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || { cat "$TMP/farm.err"; tail -5 "$TMP"/farm.mp4.fbfarm/logs/*; }
check "fb-farm: submitted a job array and a stitch job afterok" \
	'grep -q "chunks job array [0-9]* (0-3), stitch job [0-9]* (afterok:[0-9]*)" "$TMP/farm.err"'
array=$(sed -n 's/.*chunks job array \([0-9]*\) .*/\1/p' "$TMP/farm.err")
check "the stitched output: every frame, pts and duration equal the single render's" \
	'[ "$(fmd5 "$TMP/farm.mp4")" = "$(cat "$TMP/ref.fmd5")" ]'
check "chunk 1's fb-render was SIGKILLed on its first run" \
	'[ -e "$KILL_MARK" ] && grep -q "fb-render exit 137" "$TMP/farm.mp4.fbfarm/logs/chunk-1.log"'
check "chunk 1 was requeued by Slurm and rendered on its second run" \
	'grep -q "requeued (retry 1 of 2)" "$TMP/farm.mp4.fbfarm/logs/chunk-1.log" && grep -q "attempt 2" "$TMP/farm.mp4.fbfarm/logs/chunk-1.log"'
restarts() { scontrol -o show job "${array}_$1" | grep -o 'Restarts=[0-9]*' | cut -d= -f2; }
check "Slurm counts one restart for task 1, none for tasks 0, 2, 3 (only the failed chunk reran)" \
	'[ "$(restarts 1)" = 1 ] && [ "$(restarts 0)$(restarts 2)$(restarts 3)" = 000 ]'
check "every array task COMPLETED" \
	'[ "$(scontrol -o show job "$array" | grep -c "JobState=COMPLETED")" -eq 4 ]'
check "the other chunks ran once" \
	'for i in 0 2 3; do [ "$(grep -c "frames .* on " "$TMP/farm.mp4.fbfarm/logs/chunk-$i.log")" -eq 1 ] || exit 1; done'
unset KILL_AT

# A chunk that can never be rendered: retried, then the array task fails,
# the stitch job is cancelled (its dependency can never be met), fb-farm
# exits 1 naming the task.
FAIL_AT=50 fb-farm --slurm --chunks 4 --retries 1 "${GEOM[@]}" -o "$TMP/fail.mp4" \
	-- "${LOSSLESS[@]}" 2> "$TMP/fail.err"
rc=$?
check "a chunk that always fails: fb-farm exits 1" '[ $rc -eq 1 ]'
check "...naming the task that did not complete (3) and the stitch job's end" \
	'grep -q "did not complete: 3 " "$TMP/fail.err" && grep -q "stitch job [0-9]* ended CANCELLED" "$TMP/fail.err"'
check "...after one requeue" 'grep -q "requeued (retry 1 of 1)" "$TMP/fail.mp4.fbfarm/logs/chunk-3.log"'
check "...and no output" '[ ! -e "$TMP/fail.mp4" ]'

# --no-wait prints the two job ids; the job finishes on its own.
fb-farm --slurm --no-wait --chunks 2 "${GEOM[@]}" -o "$TMP/nowait.mp4" -- "${LOSSLESS[@]}" \
	> "$TMP/ids" 2> /dev/null
rc=$?
check "--no-wait: exit 0, two job ids printed" '[ $rc -eq 0 ] && grep -qE "^[0-9]+ [0-9]+$" "$TMP/ids"'
stitch=$(cut -d' ' -f2 "$TMP/ids")
wait_until 60 'scontrol -o show job "$stitch" | grep -q "JobState=COMPLETED"'
check "--no-wait: the stitch job completes by itself and the output is exact" \
	'[ "$(fmd5 "$TMP/nowait.mp4")" = "$(cat "$TMP/ref.fmd5")" ]'

# No engine flag: the controller answers scontrol ping, so Slurm is chosen.
fb-farm --chunks 2 "${GEOM[@]}" -o "$TMP/auto.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/auto.err"
rc=$?
check "no engine flag, controller UP: Slurm chosen (array submitted), nothing about local, exit 0" \
	'[ $rc -eq 0 ] && grep -q "chunks job array [0-9]* (0-1)" "$TMP/auto.err" && ! grep -q "locally" "$TMP/auto.err"'
check "no engine flag: the output is exact" '[ "$(fmd5 "$TMP/auto.mp4")" = "$(cat "$TMP/ref.fmd5")" ]'

# The real sbatch refusing the array: one line with its reason, the work
# directory this run made removed.
fb-farm --slurm --chunks 2 --partition fbnosuch "${GEOM[@]}" -o "$TMP/refused.mp4" \
	-- "${LOSSLESS[@]}" 2> "$TMP/refused.err"
rc=$?
check "sbatch refuses (no such partition): exit 1, one line with sbatch's reason" \
	'[ $rc -eq 1 ] && [ $(wc -l < "$TMP/refused.err") -eq 1 ] && grep -q "sbatch refused the chunk array (.*[Pp]artition" "$TMP/refused.err"'
check "...its work directory is removed, no output" '[ ! -e "$TMP/refused.mp4.fbfarm" ] && [ ! -e "$TMP/refused.mp4" ]'
sed "s/^/# stderr: /" "$TMP/refused.err"

# A backslash in the path (sbatch reads one in --output as "no pattern
# substitution" and drops it): the tasks open their logs themselves inside
# the work directory; nothing is written where the path without the
# backslash points (a decoy directory here).
BS="$TMP/b\\s"
mkdir -m 0700 "$BS" && mkdir -p "$TMP/bs/o.mp4.fbfarm/logs"
fb-farm --slurm --chunks 2 --keep "${GEOM[@]}" -o "$BS/o.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/bs.err"
rc=$?
check "a backslash in the output's path: exit 0, the output exact" \
	'[ $rc -eq 0 ] && [ "$(fmd5 "$BS/o.mp4")" = "$(cat "$TMP/ref.fmd5")" ]'
check "...the tasks' logs are inside the work directory, nothing in the decoy" \
	'grep -q "chunk 0 done" "$BS/o.mp4.fbfarm/logs/chunk-0.log" && grep -q "chunk 1 done" "$BS/o.mp4.fbfarm/logs/chunk-1.log" && [ -e "$BS/o.mp4.fbfarm/logs/stitch.log" ] && [ -z "$(ls -A "$TMP/bs/o.mp4.fbfarm/logs")" ]'

check "no job left in the queue" '[ -z "$(squeue -h)" ]'
check_clean "t_slurm"
finish
