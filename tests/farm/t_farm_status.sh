#!/usr/bin/env bash
# fb-farm --status: progress across the farm from the plan, the chunk files,
# each chunk's run record (WORK/logs/chunk-0000I.runs) and its fb-render
# --progress file (WORK/logs/chunk-0000I.progress) — and the line fb-farm prints
# for a chunk it rendered again.  Expected values come from the test: the
# frame ranges from N and K (i*N/K), the host from hostname(1), the kills
# from the pids the test itself signalled.
. "$(dirname "$0")/../lib.sh"
echo "# t_farm_status.sh"

HOST=$(hostname)
REND=(--source "exec:$ROOT/tests/farm/chunk_renderer.py")
SMALL=(--size 64x48 --pix-fmt rgb24 --fps 30 --workers 1)
noidx() { env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX -u AWS_BATCH_JOB_ARRAY_INDEX \
	-u CLOUD_RUN_TASK_INDEX -u SLURM_ARRAY_JOB_ID -u SLURM_JOB_ID "$@"; }
# js FILE EXPR: python3's json reads FILE (fb-farm --status --json); exit 0
# when EXPR (over d) holds.
js() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not eval(sys.argv[2]))' "$1" "$2"; }
status() { fb-farm --status "$1" > "$TMP/st.txt" 2> "$TMP/st.err"; }
status_json() { fb-farm --status "$1" --json > "$TMP/st.json" 2> "$TMP/st.err"; }

# ---- a finished farm (--keep): every chunk done, frames = total
N=30 K=3
noidx fb-farm --local --chunks $K --frames $N "${SMALL[@]}" --keep -o "$TMP/fin.mp4" 2> "$TMP/err"
rc=$?
W=$TMP/fin.mp4.fbfarm
check "finished farm: exit 0" '[ $rc -eq 0 ]'
check "finished farm: no redo line (no chunk ran twice)" '! grep -q "rendered again" "$TMP/err"'
check "finished farm: one start and one end line per chunk record" \
	'for i in 0 1 2; do [ "$(cut -d" " -f1 "$W/logs/chunk-0000$i.runs" | tr "\n" " ")" = "start end " ] || exit 1; done'
status "$W"
rc=$?
check "--status of a finished farm: exit 0, nothing on stderr" '[ $rc -eq 0 ] && [ ! -s "$TMP/st.err" ]'
check "--status: '3 done, 0 running, 0 failed, 0 pending of 3'" 'grep -q "3 done, 0 running, 0 failed, 0 pending of 3" "$TMP/st.txt"'
check "--status: 'frames 30 of 30 (100%)'" 'grep -q "frames *30 of 30 (100%)" "$TMP/st.txt"'
check "--status: one aligned line per chunk, its range of the render" \
	'[ "$(grep "^chunk [0-9]" "$TMP/st.txt" | tr -s " ")" = "$(printf "chunk 0 frames 0:10 done\nchunk 1 frames 10:20 done\nchunk 2 frames 20:30 done")" ]'
status_json "$W"
rc=$?
check "--status --json: exit 0, one JSON object python3 reads" '[ $rc -eq 0 ] && js "$TMP/st.json" "isinstance(d, dict)"'
check "--status --json: totals (3 chunks done, 30 of 30 frames, eta 0)" \
	'js "$TMP/st.json" "d[\"chunks_total\"] == 3 and d[\"chunks_done\"] == 3 and d[\"chunks_running\"] == d[\"chunks_failed\"] == d[\"chunks_pending\"] == d[\"chunks_requeued\"] == 0 and d[\"frames_total\"] == d[\"frames_done\"] == 30 and d[\"eta_s\"] == 0 and d[\"notes\"] == [] and d[\"elapsed_s\"] >= 0"'
check "--status --json: each chunk done, its range i*N/K, one run, on this host, no job" \
	'js "$TMP/st.json" "[(c[\"index\"], c[\"first_frame\"], c[\"end_frame\"], c[\"state\"], c[\"runs\"], c[\"host\"], c[\"job\"], c[\"frames_done\"]) for c in d[\"chunks\"]] == [(i, i * 30 // 3, (i + 1) * 30 // 3, \"done\", 1, \"$HOST\", None, 10) for i in range(3)]"'

# A job id from the engine that gave the index: Slurm's ARRAY_TASK, a pod's name.
rm "$W/chunk-00002.mp4"
noidx SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_JOB_ID=14 fb-farm --run-chunk "$W" > /dev/null 2>&1
rm "$W/chunk-00001.mp4"
noidx JOB_COMPLETION_INDEX=1 HOSTNAME=fb-chunks-1-x7k fb-farm --run-chunk "$W" > /dev/null 2>&1
status_json "$W"
check "--run-chunk as Slurm task 14_2 and as pod fb-chunks-1-x7k: each run's job recorded" \
	'js "$TMP/st.json" "d[\"chunks\"][2][\"job\"] == \"14_2\" and d[\"chunks\"][1][\"job\"] == \"fb-chunks-1-x7k\" and d[\"chunks\"][2][\"runs\"] == 2 and d[\"chunks_done\"] == 3"'

# Nothing started yet: every chunk pending, the ETA unknown.
cp -a "$W" "$TMP/pend.fbfarm"
rm "$TMP/pend.fbfarm"/chunk-*.mp4 "$TMP/pend.fbfarm"/logs/*.runs
status "$TMP/pend.fbfarm"
check "nothing started: 3 pending, 0 of 30 frames, ETA unknown" \
	'grep -q "0 done, 0 running, 0 failed, 3 pending of 3" "$TMP/st.txt" && grep -q "0 of 30 (0%).*ETA unknown" "$TMP/st.txt"'
status_json "$TMP/pend.fbfarm"
check "nothing started, --json: eta_s and elapsed_s null" 'js "$TMP/st.json" "d[\"eta_s\"] is None and d[\"elapsed_s\"] is None and d[\"chunks_pending\"] == 3"'

# ---- run records and progress files are input: garbage counted, never trusted
C=$TMP/bad.fbfarm
cp -a "$W" "$C"
printf 'garbage\nstart time=x host=a job= pid=1 attempt=1\n' >> "$C/logs/chunk-00001.runs"
head -c 100000 /dev/zero | tr '\0' a >> "$C/logs/chunk-00002.runs"
status "$C"
rc=$?
check "garbage in two records: exit 0, still 3 done" '[ $rc -eq 0 ] && grep -q "3 done" "$TMP/st.txt"'
check "...'2 unreadable lines in chunk-00001.runs', '1 unreadable line in chunk-00002.runs'" \
	'grep -q "2 unreadable lines in chunk-00001.runs" "$TMP/st.txt" && grep -q "1 unreadable line in chunk-00002.runs" "$TMP/st.txt"'
head -c $((3 << 20)) /dev/zero | tr '\0' b >> "$C/logs/chunk-00001.runs"
status "$C"
rc=$?
check "a record larger than 1 MiB: exit 0, said so, no traceback" \
	'[ $rc -eq 0 ] && grep -q "chunk-00001.runs is larger than 1 MiB" "$TMP/st.txt" && ! grep -q Traceback "$TMP/st.err"'
# A running chunk, made by hand: a start with no end, a progress file
# holding garbage around one whole block (frame 3 of 10).
rm "$C/chunk-00000.mp4"
echo "start time=$(date +%s) host=fbnode7 job=9_0 pid=4242 attempt=1" > "$C/logs/chunk-00000.runs"
printf 'frame=9\nnonsense line\nframe=3\ntotal_frames=10\nprogress=continue\nframe=5\n\001\002\n' > "$C/logs/chunk-00000.progress"
status "$C"
check "a start with no end: running on fbnode7 (job 9_0), 3 of 10 frames from the last whole block" \
	'grep -q "^chunk 0 .*running on fbnode7 (job 9_0): 3 of 10 frames$" "$TMP/st.txt"'
check "...'2 unreadable lines in chunk-00000.progress'" 'grep -q "2 unreadable lines in chunk-00000.progress" "$TMP/st.txt"'
printf 'frame=7\ntotal_frames=11\nprogress=continue\n' > "$C/logs/chunk-00000.progress"
status "$C"
check "a progress block of another range (total_frames 11 for 10): not believed, 0 of 10" \
	'grep -q "running on fbnode7 (job 9_0): 0 of 10 frames$" "$TMP/st.txt"'
{ printf 'frame=4\ntotal_frames=10\nprogress=continue\n'; head -c 100000 /dev/zero | tr '\0' c; } > "$C/logs/chunk-00000.progress"
status "$C"
rc=$?
check "a huge progress line: one unreadable line, exit 0" '[ $rc -eq 0 ] && grep -q "1 unreadable line in chunk-00000.progress" "$TMP/st.txt"'
printf 'frame=8\ntotal_frames=10\nprogress=continue\n' > "$TMP/elsewhere"
rm "$C/logs/chunk-00000.progress" && ln -s "$TMP/elsewhere" "$C/logs/chunk-00000.progress"
status "$C"
check "a progress file that is a symlink: not followed (0 of 10, not 8), said so" \
	'grep -q "running on fbnode7 (job 9_0): 0 of 10 frames" "$TMP/st.txt" && grep -q "chunk-00000.progress is a symbolic link: not followed" "$TMP/st.txt"'
printf 'frame=8\ntotal_frames=10\nprogress=continue\n' > "$C/logs/chunk-00000.progress.x" && rm "$C/logs/chunk-00000.progress" &&
	mv "$C/logs/chunk-00000.progress.x" "$C/logs/chunk-00000.progress"
touch -d '2 minutes ago' "$C/logs/chunk-00000.progress"
status "$C"
check "a progress file not updated for 2 minutes: 'stalled?'" \
	'grep -q "running on fbnode7 (job 9_0): 8 of 10 frames, stalled? (no progress for 1[0-9][0-9] s)" "$TMP/st.txt" && grep -q "1 running (1 stalled?)" "$TMP/st.txt"'
echo "start time=1 host=planted job= pid=1 attempt=1" > "$TMP/runs.target"
cp "$TMP/runs.target" "$TMP/runs.orig"
rm "$C/logs/chunk-00002.runs" && ln -s "$TMP/runs.target" "$C/logs/chunk-00002.runs"
status_json "$C"
check "a record that is a symlink: not followed (chunk 2 has no runs), noted" \
	'js "$TMP/st.json" "d[\"chunks\"][2][\"runs\"] == 0 and any(\"chunk-00002.runs is a symbolic link\" in n for n in d[\"notes\"])"'
rm "$C/chunk-00002.mp4"
noidx fb-farm --run-chunk "$C" --index 2 > /dev/null 2> "$TMP/err"
rc=$?
check "--run-chunk with its record a symlink: refused (exit 2), the target untouched, nothing rendered" \
	'[ $rc -eq 2 ] && grep -q "chunk-00002.runs" "$TMP/err" && cmp -s "$TMP/runs.target" "$TMP/runs.orig" && [ ! -e "$C/chunk-00002.mp4" ]'
printf 'precious\n' > "$TMP/prog.target"
rm -f "$C/logs/chunk-00000.progress" && ln -s "$TMP/prog.target" "$C/logs/chunk-00000.progress"
noidx fb-farm --run-chunk "$C" --index 0 > /dev/null 2>&1
rc=$?
check "--run-chunk with its progress file a symlink: rendered, the link replaced by a file, its target untouched" \
	'[ $rc -eq 0 ] && [ -s "$C/chunk-00000.mp4" ] && [ ! -L "$C/logs/chunk-00000.progress" ] && grep -q "^frame=10$" "$C/logs/chunk-00000.progress" && [ "$(cat "$TMP/prog.target")" = precious ]'
rm -rf "$C" "$TMP/pend.fbfarm"

# ---- the work directory is input: the same refusals as every fb-farm
one_line_2() { [ "$1" -eq 2 ] && [ "$(wc -l < "$TMP/st.err")" -eq 1 ] && [ ! -s "$TMP/st.txt" ]; }
chmod o+w "$W"
status "$W"
rc=$?
check "--status of an other-writable work dir: exit 2, one line, 'not safe'" 'one_line_2 $rc && grep -q "not safe" "$TMP/st.err"'
chmod o-w "$W"
mkdir -m 700 "$TMP/notfarm"
status "$TMP/notfarm"
rc=$?
check "--status of a directory that is not a farm's: exit 2, one line" 'one_line_2 $rc && grep -q "has no plan" "$TMP/st.err"'
echo '{"format": "fb-farm plan 1", "render": {}}' > "$TMP/notfarm/plan"
status "$TMP/notfarm"
rc=$?
check "--status with a bad plan: exit 2, one line" 'one_line_2 $rc && grep -q "not a plan this fb-farm wrote" "$TMP/st.err"'
ln -s "$W" "$TMP/link.fbfarm"
status "$TMP/link.fbfarm"
rc=$?
check "--status of a symlink to a work dir: exit 2, one line" 'one_line_2 $rc && grep -q "symbolic link" "$TMP/st.err"'
status "$TMP/none"
rc=$?
check "--status of no directory: exit 2, one line" 'one_line_2 $rc'
fb-farm --status > "$TMP/st.txt" 2> "$TMP/st.err"
rc=$?
check "--status without a directory: exit 2, one line" 'one_line_2 $rc'
fb-farm --status "$W" --bogus > "$TMP/st.txt" 2> "$TMP/st.err"
rc=$?
check "--status W --bogus: exit 2, one line" 'one_line_2 $rc'
rm -rf "$W" "$TMP/notfarm" "$TMP/link.fbfarm"

# ---- fb-render SIGKILLed mid-chunk (KILL_AT): rendered again, and said why
KILL_AT=20 KILL_MARK=$TMP/killed noidx fb-farm --local --chunks 4 --frames 60 "${SMALL[@]}" "${REND[@]}" \
	--keep -o "$TMP/kill.mp4" 2> "$TMP/err"
rc=$?
W=$TMP/kill.mp4.fbfarm
check "KILL_AT 20: exit 0, the kill happened" '[ $rc -eq 0 ] && [ -e "$TMP/killed" ]'
check "KILL_AT 20: 'chunk 1 rendered again on $HOST: its run on $HOST ended with fb-render exit 137'" \
	'grep -qx "fb-farm: chunk 1 rendered again on $HOST: its run on $HOST ended with fb-render exit 137" "$TMP/err" && [ "$(grep -c "rendered again" "$TMP/err")" -eq 1 ]'
status_json "$W"
check "KILL_AT 20, --json: chunk 1 done, requeued, 2 runs, the first 'fb-render exit 137'" \
	'js "$TMP/st.json" "d[\"chunks_requeued\"] == 1 and d[\"chunks_done\"] == 4 and d[\"frames_done\"] == 60 and d[\"chunks\"][1][\"requeued\"] and d[\"chunks\"][1][\"runs\"] == 2 and d[\"chunks\"][1][\"earlier_runs\"][0][\"rc\"] == 137 and \"fb-render exit 137\" in d[\"chunks\"][1][\"earlier_runs\"][0][\"ended\"] and [c[\"runs\"] for c in d[\"chunks\"]] == [1, 2, 1, 1]"'
status "$W"
check "KILL_AT 20: '1 requeued', chunk 1 'done; run 1 on $HOST ended with fb-render exit 137 (2 runs)'" \
	'grep -q "; 1 requeued" "$TMP/st.txt" && grep -q "^chunk 1 .*done; run 1 on $HOST ended with fb-render exit 137 (2 runs)$" "$TMP/st.txt"'
rm -rf "$W" "$TMP/kill.mp4"

# ---- a chunk that always fails (FAIL_AT): failed, its runs counted
FAIL_AT=15 noidx fb-farm --local --chunks 2 --retries 1 --frames 20 "${SMALL[@]}" "${REND[@]}" \
	-o "$TMP/fail.mp4" 2> "$TMP/err"
rc=$?
W=$TMP/fail.mp4.fbfarm
check "FAIL_AT 15: exit 1" '[ $rc -eq 1 ]'
check "FAIL_AT 15: 'chunk 1 rendered again' (its retry), the first run's fb-render exit said" \
	'grep -q "^fb-farm: chunk 1 rendered again on $HOST: its run on $HOST ended with fb-render exit [1-9]" "$TMP/err"'
status_json "$W"
check "FAIL_AT 15, --json: chunk 0 done, chunk 1 failed after 2 runs, rc non-zero, 1 failed" \
	'js "$TMP/st.json" "d[\"chunks\"][0][\"state\"] == \"done\" and d[\"chunks\"][1][\"state\"] == \"failed\" and d[\"chunks\"][1][\"runs\"] == 2 and d[\"chunks\"][1][\"rc\"] not in (None, 0) and d[\"chunks_failed\"] == 1 and d[\"frames_done\"] == 10"'
status "$W"
check "FAIL_AT 15: 'chunk 1 ... failed: its run on $HOST ended with fb-render exit N'" \
	'grep -q "^chunk 1 .*failed: its run on $HOST ended with fb-render exit [1-9][0-9]*; run 1 on $HOST ended with fb-render exit [1-9]" "$TMP/st.txt" && grep -q "1 done, 0 running, 1 failed, 0 pending of 2" "$TMP/st.txt"'
rm -rf "$W"

# ---- during a farm: a chunk paused mid-range is running with frames
# 1..range-1; a --run-chunk killed outright (SIGKILL, no word) leaves a
# start with no end, and the next fb-farm renders it again, saying so.
FARM=(--local --chunks 2 --jobs 2 --retries 0 --frames 600 "${SMALL[@]}" --delay-ms 20 --keep -o "$TMP/live.mp4")
W=$TMP/live.mp4.fbfarm
noidx fb-farm "${FARM[@]}" 2> "$TMP/live.err" &
farm=$!
# Both chunks' fb-render pids first (a scan of /proc takes a while under
# load); chunk 1's stopped at once (it must not finish before its
# --run-chunk is killed), chunk 0's as soon as its progress file (read
# here by the test itself) shows a frame done.
r0='' r1=''
both() {
	r0=$(own_pids --match "fb-render .*--range 0:300" | head -1)
	r1=$(own_pids --match "fb-render .*--range 300:600" | head -1)
	[ -n "$r0" ] && [ -n "$r1" ]
}
wait_until 60 both
[ -n "$r1" ] && kill -STOP "$r1"
wait_until 60 'grep -q "^frame=[1-9]" "$W/logs/chunk-00000.progress" 2> /dev/null'
[ -n "$r0" ] && kill -STOP "$r0"
status "$W"
f=$(sed -n 's/^chunk 0 .*running on [^:]*: \([0-9]*\) of 300 frames$/\1/p' "$TMP/st.txt")
check "a farm paused mid-chunk: chunk 0 running on $HOST, $f of 300 frames (1..299)" \
	'[ -n "$r0" ] && [ -n "$f" ] && [ "$f" -ge 1 ] && [ "$f" -le 299 ]'
check "...chunk 1 running too, both counted: '2 running'" \
	'grep -q "^chunk 1 .*running on $HOST: [0-9]* of 300 frames" "$TMP/st.txt" && grep -q "0 done, 2 running, 0 failed, 0 pending of 2" "$TMP/st.txt"'
status_json "$W"
check "...--json: chunk 0 running, not stalled, frames_done $f; totals count it" \
	'js "$TMP/st.json" "d[\"chunks\"][0][\"state\"] == \"running\" and d[\"chunks\"][0][\"host\"] == \"$HOST\" and not d[\"chunks\"][0][\"stalled\"] and d[\"chunks\"][0][\"frames_done\"] == $f and d[\"frames_done\"] >= $f and d[\"chunks_running\"] == 2 and d[\"eta_s\"] > 0"'
touch -d '2 minutes ago' "$W/logs/chunk-00000.progress"
status "$W"
check "...its progress file 2 minutes old: 'stalled?'" 'grep -q "^chunk 0 .*running on $HOST: $f of 300 frames, stalled?" "$TMP/st.txt"'
# chunk 1: its --run-chunk SIGKILLed, then its (stopped) fb-render
c1=$(own_pids --match "fb-farm --run-chunk .* --index 1$" | head -1)
[ -n "$c1" ] && kill -KILL "$c1"
[ -n "$r1" ] && kill -KILL "$r1"
[ -n "$r0" ] && kill -CONT "$r0"
wait $farm
rc=$?
rm -f "/dev/shm/$TID-auto$r1"
check "--run-chunk of chunk 1 SIGKILLed: the farm exits 1" '[ -n "$c1" ] && [ -n "$r1" ] && [ $rc -eq 1 ]'
status_json "$W"
check "...--json: chunk 0 done; chunk 1's record a start with no end (running, 1 run)" \
	'js "$TMP/st.json" "d[\"chunks\"][0][\"state\"] == \"done\" and d[\"chunks\"][1][\"state\"] == \"running\" and d[\"chunks\"][1][\"runs\"] == 1"'
noidx fb-farm "${FARM[@]}" 2> "$TMP/live.err"
rc=$?
check "the same farm again: exit 0" '[ $rc -eq 0 ]'
check "...'chunk 1 rendered again on $HOST: its run on $HOST ended without a word (the node or the process died)'" \
	'grep -qx "fb-farm: chunk 1 rendered again on $HOST: its run on $HOST ended without a word (the node or the process died)" "$TMP/live.err" && [ "$(grep -c "rendered again" "$TMP/live.err")" -eq 1 ]'
status "$W"
check "...--status: all done, 600 of 600, chunk 1 requeued 'ended without a word'" \
	'grep -q "2 done, 0 running, 0 failed, 0 pending of 2; 1 requeued" "$TMP/st.txt" && grep -q "frames *600 of 600" "$TMP/st.txt" && grep -q "^chunk 1 .*done; run 1 on $HOST ended without a word (the node or the process died) (2 runs)$" "$TMP/st.txt"'
status_json "$W"
check "...--json: chunk 1's earlier run ended without a word (rc null)" \
	'js "$TMP/st.json" "d[\"chunks\"][1][\"earlier_runs\"][0][\"rc\"] is None and \"without a word\" in d[\"chunks\"][1][\"earlier_runs\"][0][\"ended\"] and d[\"chunks_done\"] == 2"'
rm -rf "$W" "$TMP/live.mp4"

# Without --keep the stitch removes the records and progress files with the rest.
noidx fb-farm --local --chunks 2 --frames 10 "${SMALL[@]}" -o "$TMP/gone.mp4" 2> /dev/null
rc=$?
check "a farm without --keep: exit 0, work directory (records, progress files) removed" \
	'[ $rc -eq 0 ] && [ ! -e "$TMP/gone.mp4.fbfarm" ]'

# ---- the redo line when fb-farm waits on Slurm: a fake Slurm (any machine)
# that runs each array task here with the variables Slurm sets, reruns a
# task that asked `scontrol requeue` (killing it, as Slurm does) with
# SLURM_RESTART_COUNT + 1, and runs the stitch job once every task
# COMPLETED.  Without --keep the stitch removes the run records before
# fb-farm sees the job COMPLETED: the line must be there anyway.
export FS=$TMP/fakeslurm # the fake scripts find their state by it
mkdir -p "$FS/bin"
cat > "$FS/bin/sbatch" << 'FAKE'
#!/usr/bin/env bash
# fake sbatch: --array=0-N or --dependency=afterok:ID; the script on stdin
script=$(cat)
id=$(($(cat "$FS/next" 2> /dev/null || echo 1)))
echo $((id + 1)) > "$FS/next"
array= dep=
for a; do
	case $a in --array=*) array=${a#--array=0-} ;; --dependency=afterok:*) dep=${a#*afterok:} ;; esac
done
if [ -n "$array" ]; then
	for i in $(seq 0 "$array"); do
		echo RUNNING > "$FS/$id.task.$i"
		(
			r=0
			while :; do
				SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=$((id + 100 + i)) \
					SLURM_RESTART_COUNT=$r sh -c "$script"
				rc=$?
				[ -e "$FS/requeue.${id}_$i" ] || break
				rm "$FS/requeue.${id}_$i"
				r=$((r + 1))
			done
			if [ $rc -eq 0 ]; then echo COMPLETED; else echo FAILED; fi > "$FS/$id.task.$i"
		) > /dev/null 2>&1 &
	done
else
	echo PENDING > "$FS/$id.job"
	(
		# the fake's own scheduling loop (not a test's wait): afterok DEP,
		# given up (cancelled) after 10 minutes
		n=0
		while grep -qv COMPLETED "$FS/$dep".task.*; do
			n=$((n + 1))
			if grep -q FAILED "$FS/$dep".task.* || [ $n -gt 6000 ]; then
				echo CANCELLED > "$FS/$id.job"
				exit
			fi
			sleep 0.1
		done
		echo RUNNING > "$FS/$id.job"
		if sh -c "$script"; then echo COMPLETED; else echo FAILED; fi > "$FS/$id.job"
	) > /dev/null 2>&1 &
fi
echo "$id"
FAKE
cat > "$FS/bin/scontrol" << 'FAKE'
#!/usr/bin/env bash
# fake scontrol: ping, -o show job ID, requeue ID_TASK (kills the caller's task)
case $1 in
ping) echo "Slurmctld(primary) at fakectl is UP" ;;
requeue) touch "$FS/requeue.$2" && kill -TERM $PPID ;;
-o)
	id=$4
	if [ -e "$FS/$id.job" ]; then
		echo "JobId=$id JobName=fb-stitch JobState=$(cat "$FS/$id.job")"
	elif ls "$FS/$id".task.* > /dev/null 2>&1; then
		for t in "$FS/$id".task.*; do echo "JobId=$id ArrayJobId=$id ArrayTaskId=${t##*.} JobState=$(cat "$t")"; done
	else
		echo "slurm_load_jobs error: Invalid job id specified" >&2
		exit 1
	fi
	;;
esac
FAKE
printf '#!/bin/sh\n:\n' > "$FS/bin/scancel"
chmod +x "$FS/bin/"*
rm -f "$TMP/killed2"
PATH="$FS/bin:$PATH" KILL_AT=14 KILL_MARK=$TMP/killed2 noidx fb-farm --slurm --chunks 2 --frames 20 \
	"${SMALL[@]}" "${REND[@]}" -o "$TMP/fake.mp4" 2> "$TMP/fake.err"
rc=$?
check "fake Slurm, chunk 1's fb-render SIGKILLed once: exit 0, requeued, output written, work dir removed" \
	'[ $rc -eq 0 ] && [ -e "$TMP/killed2" ] && [ -s "$TMP/fake.mp4" ] && [ ! -e "$TMP/fake.mp4.fbfarm" ] && ls "$FS" | grep -q "^1.task.1$"'
check "...'chunk 1 rendered again on $HOST: its run on $HOST (job 1_1) ended with fb-render exit 137', once" \
	'grep -qx "fb-farm: chunk 1 rendered again on $HOST: its run on $HOST (job 1_1) ended with fb-render exit 137" "$TMP/fake.err" && [ "$(grep -c "rendered again" "$TMP/fake.err")" -eq 1 ]'
grep -q "rendered again" "$TMP/fake.err" || sed 's/^/# stderr: /' "$TMP/fake.err"

check_clean "t_farm_status"
finish
