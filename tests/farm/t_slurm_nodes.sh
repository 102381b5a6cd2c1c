#!/usr/bin/env bash
# fb-farm on a Slurm cluster of 4 nodes, each apart (tests/farm/slurm_nodes.sh:
# own network, hostname, /dev/shm and /tmp; only the cluster's directory
# and the work directory shared), issue 25:
#  * a 3-chunk farm lands on 3 different nodes (Slurm's record: scontrol),
#    `fb-farm --status` names the same nodes from the work directory alone,
#    each render sees only its own ring in its /dev/shm, none is in the
#    machine's;
#  * the node rendering chunk 1 dies mid-chunk (every process in its
#    network namespace SIGKILLed, its /dev/shm gone with it): Slurm marks it
#    down, requeues the task on another node, the chunk resumes from its
#    whole segments (frames rendered again counted by the renderer), the
#    stitch job waiting on it completes, and the output equals one
#    fb-render frame by frame and pts by pts; fb-farm and --status say
#    chunk 1 was rendered again and that its run on the dead node "ended
#    without a word";
#  * the node comes back (new namespaces, slurmd again) and the next farm
#    uses it.
# The time from the death to the requeue and to the end is printed as
# "# figure" lines (docs/scale-out.md).  Root only; skips otherwise.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/farm/slurm_cluster.sh"
. "$ROOT/tests/farm/slurm_nodes.sh"
echo "# t_slurm_nodes.sh"

missing=""
for c in munged slurmctld slurmd sbatch scontrol sinfo unshare nsenter ip; do
	command -v $c > /dev/null || missing="$missing $c"
done
[ -z "$missing" ] ||
	skip "missing:$missing (make deps installs Slurm, munge, util-linux, iproute2)"
[ "$(id -u)" = 0 ] || skip "the nodes are namespaces and their daemons run as root; run as root (CI does)"
unshare --net --mount --uts true 2> /dev/null || skip "this machine does not let root make namespaces"

SH=$TMP/shared
mkdir -m 0700 "$SH"
stop_all() { nodes_stop; cleanup; }
trap stop_all EXIT
if ! nodes_start "$TMP/slurm" "$SH" 4 > "$TMP/start.log" 2>&1; then
	not_ok "a 4-node Slurm cluster in namespaces starts: $(tail -1 "$TMP/start.log")"
	finish
	exit
fi
ok "4 nodes up, each in its own namespaces: $(hub sinfo -h -N -o '%N:%T' | tr '\n' ' ')"

W=160 H=120 N=120
LOSSLESS=(-c:v libx264rgb -qp 0)
GEOM=(--size ${W}x$H --pix-fmt rgb24 --fps 30 --frames $N --workers 2
	--source "exec:$ROOT/tests/farm/chunk_renderer.py")
fb-render "${GEOM[@]}" -o "$TMP/ref.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/ref.err"
rc=$?
frames_md5 -i "$TMP/ref.mp4" > "$TMP/ref.fmd5"
check "reference: one fb-render of all $N frames, exit $rc" '[ $rc -eq 0 ] && [ $(wc -l < "$TMP/ref.fmd5") -eq $N ]'

# The farm: 3 chunks of 40 frames in segments of 10.  Each chunk stops
# once, mid-chunk (frames 25, 65, 105), on whichever node runs it, so all
# three are seen running at once.
export HOLD_AT=25,65,105 HOLD_MARK=$SH/held RENDER_LOG=$SH/rendered
now() { date +%s.%N; }
hub fb-farm --slurm --chunks 3 --segment 10 --keep "${GEOM[@]}" -o "$SH/farm.mp4" \
	-- "${LOSSLESS[@]}" > "$TMP/farm.out" 2> "$TMP/farm.err" &
farm=$!
wait_until 180 '[ -s "$HOLD_MARK.25" ] && [ -s "$HOLD_MARK.65" ] && [ -s "$HOLD_MARK.105" ]'
node=$(sed -n 's/^fbnode\([0-9]\)$/\1/p' "$HOLD_MARK.65" 2> /dev/null)
check "the chunks stopped at frames 25, 65, 105; chunk 1 on a node of the cluster (fbnode$node)" '[ -n "$node" ]'
[ -n "$node" ] || { cat "$TMP/farm.err"; cat "$SH"/farm.mp4.fbfarm/logs/*; tail "$TMP"/slurm/log/slurmd.*; finish; exit; }
array=$(sed -n 's/.*chunks job array \([0-9]*\) .*/\1/p' "$TMP/farm.err")
stitch=$(sed -n 's/.*stitch job \([0-9]*\) .*/\1/p' "$TMP/farm.err")
# task_nodes: "task node" for every task of the array as Slurm records it.
task_nodes() {
	hub scontrol -o show job "$array" 2> /dev/null |
		sed -n 's/.*ArrayTaskId=\([0-9]*\) .* NodeList=\([^ ]*\) .*/\1 \2/p' | sort
}
check "the 3 chunks run on 3 different nodes, chunk 1 on fbnode$node ($(task_nodes | tr '\n' ' '))" \
	'[ "$(task_nodes | awk "{ print \$2 }" | sort -u | grep -c fbnode)" -eq 3 ] && task_nodes | grep -qx "1 fbnode$node"'

# fb-farm --status, from the work directory alone: every chunk running,
# each on the node Slurm says.
WORK=$SH/farm.mp4.fbfarm
fb-farm --status "$WORK" > "$TMP/status" 2>&1
st=$(sed -n 's/^chunk \([0-9]\) .*running on \(fbnode[0-9]\).*/\1 \2/p' "$TMP/status")
check "fb-farm --status: 3 chunks running, each on its node ($(echo $st))" \
	'[ "$st" = "$(task_nodes)" ] && grep -q "^chunks *0 done, 3 running, 0 failed, 0 pending of 3" "$TMP/status"'

# Each node's /dev/shm: its own render's ring, nobody else's; the
# machine's /dev/shm has none of them.
rings=""
for i in 1 2 3 4; do
	v=NODE_$i
	rings="$rings fbnode$i:$(nsenter -t "${!v}" -m ls /dev/shm | tr '\n' ',')"
done
check "each busy node's /dev/shm holds its own render's ring only, the idle one's none (${rings# })" \
	'[ "$(echo "$rings" | grep -o "auto[0-9]*" | wc -l)" -eq 3 ] && [ "$(echo "$rings" | grep -o "auto[0-9]*" | sort -u | wc -l)" -eq 3 ] && ! echo "$rings" | grep -q "auto[0-9]*,[^ ]"'
check "...and no node's ring is in the machine's /dev/shm" \
	'for r in $(echo "$rings" | grep -o "[^:,]*auto[0-9]*"); do [ ! -e "/dev/shm/$r" ] || exit 1; done'

# The node dies.  Slurm's view, polled: down, the task requeued, running
# again elsewhere, the farm done.
before=$(wc -l < "$RENDER_LOG")
t0=$(now)
node_kill "$node"
t_kill=$(now)
touch "$HOLD_MARK.go" # the other chunks go on
check "fbnode$node killed: no process left in its namespaces" '[ -z "$(node_pids "$node")" ]'
t_down="" t_req="" t_run=""
state1() { hub scontrol -o show job "${array}_1" 2> /dev/null; }
while kill -0 $farm 2> /dev/null; do
	[ -z "$t_down" ] && case "$(node_state "$node")" in down*) t_down=$(now) ;; esac
	s=$(state1)
	[ -z "$t_req" ] && ! grep -q "JobState=RUNNING .*NodeList=fbnode$node " <<< "$s" && t_req=$(now)
	[ -z "$t_run" ] && grep -q "JobState=RUNNING" <<< "$s" && ! grep -q "NodeList=fbnode$node " <<< "$s" && t_run=$(now)
	[ "$(echo "$(now) - $t0 > 300" | bc)" = 1 ] && break
	sleep 0.2
done
wait_until 10 "! kill -0 $farm 2> /dev/null"
wait $farm
rc=$?
t_end=$(now)
check "fb-farm: exit 0 after the node's death" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || { cat "$TMP/farm.err"; tail -5 "$SH"/farm.mp4.fbfarm/logs/*; }
check "Slurm marked fbnode$node down" '[ -n "$t_down" ]'
check "chunk 1 was requeued by Slurm and ran on another node ($(state1 | grep -o ' NodeList=[^ ]*'), $(state1 | grep -o 'Restarts=[0-9]*'))" \
	'[ -n "$t_run" ] && state1 | grep -q "JobState=COMPLETED" && ! state1 | grep -q "NodeList=fbnode$node " && state1 | grep -q "Restarts=1"'
survivor=$(state1 | sed -n 's/.* NodeList=\(fbnode[0-9]\) .*/\1/p')
check "fb-farm says chunk 1 was rendered again on $survivor, and why ($(grep "rendered again" "$TMP/farm.err"))" \
	'grep -q "chunk 1 rendered again on $survivor: its run on fbnode$node (job ${array}_1) ended without a word (the node or the process died)" "$TMP/farm.err"'
fb-farm --status "$WORK" > "$TMP/status" 2>&1
check "fb-farm --status after: 3 done, chunk 1 requeued, its run on fbnode$node ended without a word" \
	'grep -q "^chunks *3 done, 0 running, 0 failed, 0 pending of 3; 1 requeued" "$TMP/status" && grep -q "^chunk 1 .*done; run 1 on fbnode$node (job ${array}_1) ended without a word" "$TMP/status"'
check "the stitch job waiting on it completed" \
	'hub scontrol -o show job "$stitch" | grep -q "JobState=COMPLETED"'
check "the stitched output: every frame, pts and duration equal the single render's" \
	'[ "$(frames_md5 -i "$SH/farm.mp4")" = "$(cat "$TMP/ref.fmd5")" ]'
again=$(tail -n +$((before + 1)) "$RENDER_LOG" | awk '$1 >= 40 && $1 < 80' | wc -l)
redone=$(sort -n "$RENDER_LOG" | uniq -d | wc -l)
check "chunk 1 resumed from its whole segments: frames 40..59 not rendered again ($redone frames rendered twice)" \
	'[ "$(grep -cx "4[0-9]\|5[0-9]" "$RENDER_LOG")" -eq 20 ] && [ "$redone" -le 20 ]'
el() { echo "scale=1; ($1 - $t0) / 1" | bc; }
echo "# figure: every process of the node gone in $(el "$t_kill") s; Slurm marked it down at +$(el "$t_down") s," \
	"requeued chunk 1 at +$(el "$t_req") s, running on another node at +$(el "$t_run") s;" \
	"fb-farm done at +$(el "$t_end") s; chunk 1: $redone of its 40 frames rendered twice, $again asked for after the death"

# The node comes back (a reboot: new namespaces, an empty /dev/shm and
# /tmp) and takes work again: 4 chunks on 4 one-CPU nodes.
unset HOLD_AT HOLD_MARK RENDER_LOG
node_up "$node" > "$TMP/up.log" 2>&1
wait_until 60 '[ "$(node_state "$node")" = idle ]'
check "fbnode$node back: idle again ($(node_state "$node"))" '[ "$(node_state "$node")" = idle ]'
hub fb-farm --slurm --chunks 4 --keep "${GEOM[@]}" -o "$SH/again.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/again.err"
rc=$?
array=$(sed -n 's/.*chunks job array \([0-9]*\) .*/\1/p' "$TMP/again.err")
check "a second farm of 4 chunks: exit $rc, output exact" \
	'[ $rc -eq 0 ] && [ "$(frames_md5 -i "$SH/again.mp4")" = "$(cat "$TMP/ref.fmd5")" ]'
check "...its chunks ran on all 4 nodes, fbnode$node among them ($(task_nodes | tr '\n' ' '))" \
	'[ "$(task_nodes | awk "{ print \$2 }" | sort -u | wc -l)" -eq 4 ]'

# Slurm's own clock for that clean farm (1 s resolution): the scheduler's
# latency and each chunk's time on its node, for docs/scale-out.md.
stitch=$(sed -n 's/.*stitch job \([0-9]*\) .*/\1/p' "$TMP/again.err")
epoch() { date -d "$1" +%s 2> /dev/null || echo 0; }
times() { # JOB: "submit start end" in seconds since the epoch, one line a task
	hub scontrol -o show job "$1" 2> /dev/null |
		sed -n 's/.*SubmitTime=\([^ ]*\) .*StartTime=\([^ ]*\) EndTime=\([^ ]*\) .*/\1 \2 \3/p' |
		while read -r a b c; do echo "$(epoch "$a") $(epoch "$b") $(epoch "$c")"; done
}
times "$array" > "$TMP/chunk.times"
read -r st_submit st_start st_end <<< "$(times "$stitch")"
echo "# figure: 4 chunks of 30 frames on 4 nodes: submitted to started" \
	"$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$TMP/chunk.times") s (the last)," \
	"on their nodes $(awk '{ printf "%s%d", (NR > 1 ? "/" : ""), $3 - $2 }' "$TMP/chunk.times") s;" \
	"last chunk's end to the stitch's start $((st_start - $(awk '$3 > m { m = $3 } END { print m }' "$TMP/chunk.times"))) s," \
	"the stitch $((st_end - st_start)) s"

check "no job left in the queue" '[ -z "$(hub squeue -h)" ]'
nodes_stop
check "no process of the cluster left (every namespace's processes gone)" \
	'for v in $NODES_HUB $NODE_1 $NODE_2 $NODE_3 $NODE_4; do [ -z "$(ns_pids $v)" ] || exit 1; done'
check_clean "t_slurm_nodes"
finish
