#!/usr/bin/env bash
# deploy/k8s/ exercised without a cluster: fb-farm --prepare (the plan every
# pod makes, K at once), then the manifests' own commands (read from the
# YAML by tests/farm/k8s_job.py) run as an Indexed Job of pods, each in its
# own namespaces with a tmpfs /dev/shm of the manifest's sizeLimit and the
# work volume bind-mounted at its mountPath; one index killed once and
# rerun (backoffLimitPerIndex), exits 2 failed at once (podFailurePolicy);
# the stitch Job's output equal to one fb-render frame by frame and pts by
# pts.  The --prepare checks run as anyone; the rest needs root.
. "$(dirname "$0")/../lib.sh"
echo "# t_k8s.sh"
M=$ROOT/deploy/k8s
EMU=$ROOT/tests/farm/k8s_job.py
one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }

# ---- fb-farm --prepare: K at once, the same plan; refusals make nothing
P=$TMP/prep
mkdir "$P" "$P/empty" "$P/user" && touch "$P/user/notes.txt"
PREP=(--chunks 4 --frames 40 --size 64x48 --source "exec:$ROOT/tests/farm/chunk_renderer.py")
pids=()
for j in 1 2 3 4; do
	fb-farm --prepare "${PREP[@]}" -o "$P/o.mp4" > "$P/out$j" 2> "$P/err$j" &
	pids+=($!)
done
rcs=
for p in "${pids[@]}"; do wait "$p"; rcs+=" $?"; done
WK=$(realpath "$P")/o.mp4.fbfarm
check "--prepare x4 at once: all exit 0 ($rcs)" '[ "$rcs" = " 0 0 0 0" ]'
check "...one plan and the logs in the work dir, nothing else" '[ "$(ls -A "$WK" | tr "\n" " ")" = "logs plan " ]'
check "...exactly one wrote the plan, three found it" \
	'[ "$(cat "$P"/err? | grep -c "plan written in $WK;")" = 1 ] && [ "$(cat "$P"/err? | grep -c "plan found in $WK;")" = 3 ]'
check "...each printed the --run-chunk and --run-stitch commands" \
	'for j in 1 2 3 4; do [ "$(cat "$P/out$j")" = "$BIN/fb-farm --run-chunk $WK
$BIN/fb-farm --run-stitch $WK" ] || exit 1; done'
check "...the plan: 40 frames as 4 chunks" \
	'python3 -c "import json,sys; r=json.load(open(sys.argv[1]))[\"render\"]; sys.exit(not (r[\"frames\"], r[\"chunks\"]) == (40, 4))" "$WK/plan"'
cp "$WK/plan" "$P/plan.copy"
before=$(stat -c '%i %y' "$WK/plan")
fb-farm --prepare "${PREP[@]}" -o "$P/o.mp4" > /dev/null 2>&1
rc=$?
check "the same --prepare again: exit 0, the plan not rewritten (inode, mtime)" \
	'[ $rc -eq 0 ] && [ "$(stat -c "%i %y" "$WK/plan")" = "$before" ]'
fb-farm --prepare "${PREP[@]/40/41}" -o "$P/o.mp4" > "$P/out" 2> "$P/err"
rc=$?
check "--prepare of another render in that work dir: exit 2, one line, plan kept" \
	'[ $rc -eq 2 ] && one_line "$P/err" && grep -q "plan of a different render" "$P/err" && cmp -s "$WK/plan" "$P/plan.copy" && [ ! -s "$P/out" ]'
for bad in "--chunks 0" "--chunks 41" "--segment x" "--retries -1" "stray" "--range 1:2" \
	"--slurm" "--local" "--no-wait" "--jobs 2" "--partition p"; do
	# shellcheck disable=SC2086
	fb-farm --prepare "${PREP[@]}" $bad -o "$P/empty/o.mp4" > "$P/out" 2> "$P/err"
	rc=$?
	check "--prepare $bad: exit 2, one line, nothing made" \
		'[ $rc -eq 2 ] && one_line "$P/err" && [ -z "$(ls -A "$P/empty")" ] && [ ! -s "$P/out" ]'
done
# Another --prepare caught between writing its plan and linking it: this
# one waits for that plan (linked here 1 s later) and takes it.
fb-farm --prepare "${PREP[@]}" --work-dir "$P/scratch" -o "$P/empty/o.mp4" > /dev/null 2>&1
mkdir -m 700 "$P/racing" && cp "$P/scratch/plan" "$P/racing/.plan.12345.tmp"
(sleep 1; ln "$P/racing/.plan.12345.tmp" "$P/racing/plan" && rm "$P/racing/.plan.12345.tmp") &
fb-farm --prepare "${PREP[@]}" --work-dir "$P/racing" -o "$P/empty/o.mp4" > /dev/null 2> "$P/err"
rc=$?
wait
check "--prepare beside another's temporary plan file: waits, exit 0, that plan found ($(cat "$P/err"))" \
	'[ $rc -eq 0 ] && grep -q "plan found in $P/racing" "$P/err" && cmp -s "$P/racing/plan" "$P/scratch/plan"'
# A user's file that only looks like one: refused once no plan came (10 s),
# left alone (the stitch would have removed it with the work directory).
mkdir -m 700 "$P/looks" && echo mine > "$P/looks/.plan.7.tmp"
fb-farm --prepare "${PREP[@]}" --work-dir "$P/looks" -o "$P/empty/o.mp4" > /dev/null 2> "$P/err"
rc=$?
check "--prepare into a dir holding only a user's .plan.7.tmp: exit 2, one line naming it, left alone" \
	'[ $rc -eq 2 ] && one_line "$P/err" && grep -q "holds no fb-farm plan (.plan.7.tmp)" "$P/err" && [ "$(ls -A "$P/looks")" = .plan.7.tmp ] && [ "$(cat "$P/looks/.plan.7.tmp")" = mine ]'
fb-farm --prepare "${PREP[@]}" --work-dir "$P/user" -o "$P/empty/o.mp4" 2> "$P/err"
rc=$?
check "--prepare into a user's non-empty dir: exit 2, one line, left as it was" \
	'[ $rc -eq 2 ] && one_line "$P/err" && [ "$(ls -A "$P/user")" = notes.txt ] && [ -z "$(ls -A "$P/empty")" ]'

# ---- the manifests, as pods
[ "$(id -u)" = 0 ] || skip "the pods' namespaces and mounts need root; run as root (CI does)"
python3 -c 'import yaml' 2> /dev/null || skip "python3-yaml is not installed (make deps installs it)"
command -v unshare > /dev/null || skip "unshare (util-linux) is not installed"
unshare --mount --net --pid --fork --uts --mount-proc true 2> /dev/null ||
	skip "unshare cannot make namespaces here (a container without CAP_SYS_ADMIN?)"

get() { python3 "$EMU" get -f "$M/fb-farm.yaml" -f "$M/fb-stitch.yaml" "$@"; }
SPEC=spec.template.spec
check "shipped: completions = the ConfigMap's CHUNKS" \
	'[ "$(get Job/fb-chunks spec.completions)" = "$(get ConfigMap/fb-render-plan data.CHUNKS)" ]'
check "shipped: every pod runs fb-farm's entry points (--prepare, --run-chunk, --run-stitch)" \
	'get Job/fb-chunks $SPEC.initContainers.0.args.0 | grep -q "fb-farm --prepare" &&
	 [ "$(get Job/fb-chunks $SPEC.containers.0.command)" = "[\"fb-farm\", \"--run-chunk\", \"\$(WORK_DIR)\"]" ] &&
	 [ "$(get Job/fb-stitch $SPEC.containers.0.command)" = "[\"fb-farm\", \"--run-stitch\", \"\$(WORK_DIR)\"]" ]'
check "shipped: exit 2 fails the index (podFailurePolicy), backoffLimitPerIndex set" \
	'[ "$(get Job/fb-chunks spec.podFailurePolicy.rules.0)" = "{\"action\": \"FailIndex\", \"onExitCodes\": {\"operator\": \"In\", \"values\": [2]}}" ] &&
	 [ "$(get Job/fb-chunks spec.backoffLimitPerIndex)" -ge 1 ]'
check "shipped: /dev/shm an emptyDir in memory with a sizeLimit" \
	'[ "$(get Job/fb-chunks $SPEC.containers.0.volumeMounts.1.mountPath)" = /dev/shm ] &&
	 [ "$(get Job/fb-chunks $SPEC.volumes.1.emptyDir.medium)" = Memory ]'
SHM_BYTES=$(get Job/fb-chunks $SPEC.volumes.1.emptyDir.sizeLimit --bytes)
MP=$(get Job/fb-chunks $SPEC.containers.0.volumeMounts.0.mountPath)
CLAIM=$(get Job/fb-chunks $SPEC.volumes.0.persistentVolumeClaim.claimName)

# The pods see the build tree at $TMP/src (read-only): it may lie under $MP.
MADE_MP=
[ -d "$MP" ] || { mkdir "$MP" && MADE_MP=$MP; }
SAMPLER= EMU_PID=
mkdir "$TMP/src"
# The emulator first (it starts no pod more), then by the pids it recorded
# (unshare, and the namespace's init: killing it ends every process of the
# pod), only while they are still ours.
k8s_cleanup() {
	local u i
	[ -z "$EMU_PID" ] || kill -9 "$EMU_PID" 2> /dev/null
	[ -z "$SAMPLER" ] || kill "$SAMPLER" 2> /dev/null
	for f in "$TMP"/pids.*; do
		[ -f "$f" ] || continue
		while read -r u i; do
			for p in $i $u; do
				grep -qF "$TMP" "/proc/$p/cmdline" 2> /dev/null && kill -9 "$p"
			done
		done < "$f"
	done
	[ -z "$MADE_MP" ] || rmdir "$MADE_MP"
	cleanup
}
trap k8s_cleanup EXIT
# emulate NAME JOB [k8s_job.py run options]: job JOB of the manifests as pods.
# The pods' TMPDIR is the test's: a pod's fb-render SIGKILLed on purpose
# leaves its private directory, which a later fb-render sweeps only once it
# is a minute old (a real container's /tmp goes with the container).
mkdir -p "$TMP/podtmp"
export TMPDIR=$TMP/podtmp
emulate() {
	local name=$1 job=$2
	shift 2
	python3 "$EMU" run --job "$job" -f "$M/fb-farm.yaml" -f "$M/fb-stitch.yaml" \
		--volume "$CLAIM=$TMP/vol.${name%%-*}" --bind "$ROOT=$TMP/src" --path "$TMP/src/bin:/usr/bin:/bin" \
		--pass FB_TEST_TAG --pass FB_TEST_RUN --pass TMPDIR --max-parallel 2 --logs "$TMP/logs.$name" \
		--pids "$TMP/pids.$name" --result "$TMP/$name.json" "$@" > "$TMP/$name.out" 2>&1 &
	EMU_PID=$!
	wait $EMU_PID
	local rc=$?
	EMU_PID=
	return $rc
}
res() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/$1.json" "$2"; }
gone() { # every pod's init of job NAME has ended
	local u i
	while read -r u i; do ! alive "$i" && ! alive "$u" || return 1; done < "$TMP/pids.$1"
}

N=240 K=4
BASE="--size 96x64 --pix-fmt rgb24 --fps 30 --workers 2"
FF="-c:v libx264rgb -qp 0"
mkdir -m 755 "$TMP/vol.a" "$TMP/vol.b"
CM=(--set "FRAMES=$N" --set "CHUNKS=$K" --set "FFMPEG_OPTS=$FF"
	--set "RENDER_OPTS=$BASE --source exec:$TMP/src/tests/farm/chunk_renderer.py"
	--set "SHM_LOG=$MP/shm.log" --set "KILL_AT=$((N / K + 10))" --set "KILL_MARK=$MP/killed")
# shellcheck disable=SC2086
fb-render $BASE --frames $N --source "exec:$ROOT/tests/farm/chunk_renderer.py" -o "$TMP/ref.mp4" -- $FF 2> /dev/null
check "reference: one fb-render of all $N frames" '[ "$(frames_md5 -i "$TMP/ref.mp4" | wc -l)" -eq $N ]'

# What the host's /dev/shm holds while the pods render (none of their rings).
(while :; do echo "/ sample"; ls /dev/shm; sleep 0.05; done) > "$TMP/host-shm" 2> /dev/null &
SAMPLER=$!
emulate a-chunks fb-chunks "${CM[@]}" --completions $K
rc=$?
kill "$SAMPLER" && SAMPLER=
check "job/fb-chunks ($K indexes, $N frames): Complete" '[ $rc -eq 0 ] && [ "$(res a-chunks "r[\"status\"]")" = Complete ]'
[ $rc -eq 0 ] || tail -5 "$TMP/a-chunks.out" "$TMP"/logs.a-chunks/*.log
check "every pod ran prepare, then chunk" \
	'[ "$(res a-chunks "set(tuple(c[\"name\"] for c in p[\"containers\"]) for p in r[\"pods\"])")" = "{('"'prepare', 'chunk'"')}" ]'
check "index 1 (its fb-render SIGKILLed once): failed with exit 1, rerun by backoffLimitPerIndex, succeeded" \
	'[ "$(res a-chunks "[(p[\"exit\"], p[\"container\"]) for p in r[\"pods\"] if p[\"index\"] == 1]")" = "[(1, '"'chunk'"'), (0, '"'chunk'"')]" ] && [ -e "$TMP/vol.a/killed" ]'
check "indexes 0, 2, 3 ran once" \
	'[ "$(res a-chunks "sorted(p[\"index\"] for p in r[\"pods\"] if p[\"index\"] != 1)")" = "[0, 2, 3]" ]'
check "at most 2 pods at once (parallelism capped)" '[ "$(res a-chunks "r[\"parallelism\"]")" = 2 ]'
wait_until 10 gone a-chunks
check "no process of any pod left (each pod's init ended)" gone a-chunks
# shm.log: HOSTNAME DEVICE SIZE RING... as each pod's renderer saw /dev/shm
HOST_DEV=$(stat -c %d /dev/shm)
check "every pod's renderer saw its own hostname: 5 pods, 2 renderers each" \
	'[ "$(cut -d" " -f1 "$TMP/vol.a/shm.log" | sort | uniq -c | awk "\$1 == 2" | wc -l)" = 5 ] && [ "$(wc -l < "$TMP/vol.a/shm.log")" = 10 ]'
check "every pod's /dev/shm: not the host's, a tmpfs of the sizeLimit ($SHM_BYTES bytes)" \
	'awk -v d="$HOST_DEV" -v s="$SHM_BYTES" "\$2 == d || \$3 != s { exit 1 }" "$TMP/vol.a/shm.log"'
check "each pod saw only its own ring there (no ring seen by two pods)" \
	'[ "$(awk "NF != 4 || \$4 !~ /^fb-render-/ { print }" "$TMP/vol.a/shm.log")" = "" ] &&
	 [ "$(awk "{ print \$1, \$4 }" "$TMP/vol.a/shm.log" | sort -u | cut -d" " -f2 | sort | uniq -d)" = "" ]'
check "the host's /dev/shm never showed a pod's ring (sampled during the job)" \
	'grep -q "^/ sample$" "$TMP/host-shm" && ! grep -qxFf <(awk "{ print \$4 }" "$TMP/vol.a/shm.log") "$TMP/host-shm"'

emulate a-stitch fb-stitch "${CM[@]}"
rc=$?
check "job/fb-stitch: Complete, one pod" '[ $rc -eq 0 ] && [ "$(res a-stitch "len(r[\"pods\"])")" = 1 ]'
OUT=$TMP/vol.a/$(basename "$(get ConfigMap/fb-render-plan data.OUTPUT)")
check "the stitched output: every frame, pts and duration equal the single render's (framemd5)" \
	'[ "$(frames_md5 -i "$OUT")" = "$(frames_md5 -i "$TMP/ref.mp4")" ]'
pts() { ffprobe -v error -select_streams v:0 -show_entries packet=pts,dts,duration -of csv=p=0 "$1"; }
check "...and every packet's pts, dts and duration (ffprobe)" '[ "$(pts "$OUT")" = "$(pts "$TMP/ref.mp4")" ]'
check "the work dir removed by the stitch" '[ ! -e "$TMP/vol.a/$(basename "$(get ConfigMap/fb-render-plan data.WORK_DIR)")" ]'

# ---- exit 2: FailIndex, never retried.  One completion more than CHUNKS.
CM2=(--set FRAMES=40 --set CHUNKS=2 --set "FFMPEG_OPTS=$FF"
	--set "RENDER_OPTS=$BASE --source exec:$TMP/src/tests/farm/chunk_renderer.py")
emulate b-extra fb-chunks "${CM2[@]}" --completions 3
rc=$?
check "completions 3 for CHUNKS 2: the job fails, indexes 0 and 1 rendered" \
	'[ $rc -eq 1 ] && [ "$(res b-extra "(r[\"succeeded\"], r[\"failed\"])")" = "([0, 1], [2])" ]'
check "...index 2: one pod, its chunk container exit 2, FailIndex (no retry)" \
	'[ "$(res b-extra "[(p[\"exit\"], p[\"container\"], p[\"outcome\"]) for p in r[\"pods\"] if p[\"index\"] == 2]")" = "[(2, '"'chunk'"', '"'Failed (FailIndex)'"')]" ]'
# The ConfigMap changed, the old plan still there: every prepare exits 2.
emulate b-changed fb-chunks "${CM2[@]/FRAMES=40/FRAMES=41}" --completions 2
rc=$?
check "another render in the same WORK_DIR: each index's prepare exits 2, once, FailIndex" \
	'[ $rc -eq 1 ] && [ "$(res b-changed "sorted((p[\"index\"], p[\"exit\"], p[\"container\"], p[\"outcome\"]) for p in r[\"pods\"])")" = "[(0, 2, '"'prepare'"', '"'Failed (FailIndex)'"'), (1, 2, '"'prepare'"', '"'Failed (FailIndex)'"')]" ]'
check "...the first render's chunks untouched" '[ "$(ls "$TMP/vol.b/film.fbfarm" | grep -c "^chunk-.*mp4$")" = 2 ]'
wait_until 10 'gone b-extra && gone b-changed'
check "no process of any pod left" 'gone b-extra && gone b-changed'
check_clean "t_k8s"
finish
