#!/usr/bin/env bash
# fb-farm's engine choice: Slurm only when a controller answers `scontrol
# ping`, else local with one line saying why; --slurm without a controller
# refused (exit 2) before anything is made; a refused submission removes the
# work directory it made (never a resumed one's finished chunks); "resuming"
# only when a plan existed.  Two Slurm clients without a cluster: the real
# Debian sbatch/scontrol (slurm-client) pointed at a controller that does not
# exist, when installed, and fake scripts everywhere.  Output is judged
# against one fb-render and against ffmpeg reading the raw source itself.
. "$(dirname "$0")/../lib.sh"
echo "# t_farm_engine.sh"

W=96 H=64 N=24 FPS=30 K=4
LOSSLESS=(-c:v libx264rgb -qp 0)
GEOM=(--size ${W}x$H --pix-fmt rgb24 --fps $FPS --frames $N --workers 2)
FB=$(frame_bytes rgb24 $W $H)
gen_bytes $((FB * N)) engine > "$TMP/src.rgb"
RAW=(--source "raw:$TMP/src.rgb")
fmd5() { frames_md5 -i "$1"; }
hashes() { frames_md5 "$@" | awk -F, '{ print $6 }'; }
hashes -f rawvideo -pix_fmt rgb24 -s ${W}x$H -r $FPS -i "$TMP/src.rgb" > "$TMP/src.md5"
fb-render "${GEOM[@]}" "${RAW[@]}" -o "$TMP/whole.mp4" -- "${LOSSLESS[@]}" 2> /dev/null
rc=$?
check "reference: one fb-render, exit 0, frames equal ffmpeg's reading of the source" \
	'[ $rc -eq 0 ] && [ "$(hashes -i "$TMP/whole.mp4")" = "$(cat "$TMP/src.md5")" ] && [ $(wc -l < "$TMP/src.md5") -eq $N ]'
fmd5 "$TMP/whole.mp4" > "$TMP/whole.fmd5"

# No Slurm of the machine's (or the caller's) may answer for these tests.
unset SLURM_CONF SLURM_JOB_ID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID
SYS_PATH=$PATH
# Slurm's own chatter: none of it may reach fb-farm's stderr, whose every
# line is fb-farm's or fb-stitch's own.
SLURM_NOISE='getaddrinfo|resolve_ctls|DNS SRV|fetch_config|RESTORE|\*\*\*'

# auto_local DESC [ENV=VALUE...]: fb-farm without an engine flag must render
# locally, exit 0, with exactly one line about Slurm (matching $why_re), no
# Slurm output, no "resuming", the exact frames and no work dir left.
auto_local() {
	local d=$1 out=$TMP/auto.mp4
	shift
	rm -rf "$out" "$out.fbfarm"
	env "$@" fb-farm --chunks $K "${GEOM[@]}" "${RAW[@]}" -o "$out" -- "${LOSSLESS[@]}" 2> "$TMP/err"
	rc=$?
	check "$d: exit 0" '[ $rc -eq 0 ]'
	check "$d: exactly one line about the engine, saying why (\"$why_re\")" \
		'[ "$(grep -ci "slurm\|sbatch\|scontrol" "$TMP/err")" -eq 1 ] && grep -qE -- "$why_re" "$TMP/err"'
	check "$d: no Slurm output in stderr, only fb-farm's and fb-stitch's lines" \
		'! grep -qE -- "$SLURM_NOISE" "$TMP/err" && ! grep -qvE "^fb-(farm|stitch): " "$TMP/err"'
	check "$d: a first run does not say resuming" '! grep -q resuming "$TMP/err"'
	check "$d: every frame, pts and duration equal one fb-render's" \
		'[ "$(fmd5 "$out")" = "$(cat "$TMP/whole.fmd5")" ]'
	check "$d: frames equal the source's (ffmpeg alone)" \
		'[ "$(hashes -i "$out")" = "$(cat "$TMP/src.md5")" ]'
	check "$d: the work directory is removed" '[ ! -e "$out.fbfarm" ]'
	grep -qE -- "$why_re" "$TMP/err" || sed 's/^/# stderr: /' "$TMP/err"
}
# slurm_refused DESC [ENV=VALUE...]: --slurm must exit 2 with one line
# naming the problem and --local, and make nothing.
slurm_refused() {
	local d=$1 out=$TMP/refused.mp4
	shift
	env "$@" fb-farm --slurm --chunks $K "${GEOM[@]}" "${RAW[@]}" -o "$out" -- "${LOSSLESS[@]}" 2> "$TMP/err"
	rc=$?
	check "$d: exit 2, one line naming the problem (\"$why_re\") and --local" \
		'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -qE -- "$why_re" "$TMP/err" && grep -q -- "use --local" "$TMP/err"'
	check "$d: nothing made (no work directory, no output)" \
		'[ ! -e "$out.fbfarm" ] && [ ! -e "$out" ] && [ -z "$(ls -A "$TMP" | grep -i "refused\|fb-farm-check")" ]'
	[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] || sed 's/^/# stderr: /' "$TMP/err"
}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf() { # conf FILE HOST: a slurm.conf whose controller is HOST on a closed port
	printf 'ClusterName=fbnone\nSlurmctldHost=%s\nSlurmctldPort=%s\nAuthType=auth/munge\n' "$2" "$port" > "$1"
}

# ---- the real Debian client, no cluster -------------------------------------
real_sbatch=$(command -v sbatch)
real_scontrol=$(command -v scontrol)
is_binary() { [ -n "$1" ] && [ "$(head -c 4 "$1" | tail -c 3)" = ELF ]; } # not a script
if is_binary "$real_sbatch" && is_binary "$real_scontrol"; then
	conf "$TMP/closed.conf" "fbfarm-nohost(127.0.0.1)" # resolvable, nothing listens
	conf "$TMP/nohost.conf" "fbfarm-nohost.invalid"    # never resolves (Slurm retries ~10 s)
	why_re="^fb-farm: sbatch found but no Slurm controller answers \(scontrol ping: Slurmctld\(primary\) at fbfarm-nohost is DOWN\); rendering locally$"
	auto_local "real client, controller port closed" SLURM_CONF="$TMP/closed.conf"
	why_re="^fb-farm: sbatch found but no Slurm controller answers \(scontrol ping: no answer within 2 s\); rendering locally$"
	auto_local "real client, controller unresolvable (2 s ping timeout)" SLURM_CONF="$TMP/nohost.conf" FB_FARM_PING_TIMEOUT=2
	if [ ! -e /etc/slurm/slurm.conf ] && [ ! -e /etc/slurm-llnl/slurm.conf ]; then
		# the issue's case: slurm-client installed, never configured
		why_re="^fb-farm: sbatch found but no Slurm controller answers \(scontrol ping: [^)]+\); rendering locally$"
		auto_local "real client, no slurm.conf at all (DNS SRV lookup fails)"
		why_re="^fb-farm: --slurm: no Slurm controller answers \(scontrol ping: [^)]+\); use --local"
		slurm_refused "real client, no slurm.conf: --slurm"
	else
		echo "# (no unconfigured-client case: this machine has a slurm.conf)"
	fi
	why_re="^fb-farm: --slurm: no Slurm controller answers \(scontrol ping: Slurmctld\(primary\) at fbfarm-nohost is DOWN\); use --local"
	slurm_refused "real client, port closed: --slurm" SLURM_CONF="$TMP/closed.conf"
	why_re="^fb-farm: --slurm: no Slurm controller answers \(scontrol ping: no answer within 2 s\)"
	slurm_refused "real client, unresolvable: --slurm" SLURM_CONF="$TMP/nohost.conf" FB_FARM_PING_TIMEOUT=2
	SLURM_CONF=$TMP/closed.conf fb-farm -q --chunks 2 --size 64x48 --frames 6 --fps 29.97 \
		-o "$TMP/q.mp4" 2> "$TMP/err"
	rc=$?
	check "real client, -q --fps 29.97: exit 0, stderr empty (the engine line and fb-render's --fps note are info) ($(head -1 "$TMP/err"))" \
		'[ $rc -eq 0 ] && [ ! -s "$TMP/err" ] && [ -s "$TMP/q.mp4" ]'
else
	echo "# SKIP real-client cases: no Debian slurm-client (sbatch, scontrol) on PATH"
fi

# ---- fake clients (any machine) ---------------------------------------------
F=$TMP/fake
mkdir "$F"
fake() { # fake NAME BODY: a script NAME in $F
	printf '#!/bin/bash\necho "%s $*" >> %q\n%s\n' "$1" "$TMP/calls" "$2" > "$F/$1"
	chmod +x "$F/$1"
}
# scontrol as slurm-client 22.05 prints it with no config (the issue's four lines)
unconfigured='echo "scontrol: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host" >&2
echo "scontrol: error: fetch_config: DNS SRV lookup failed" >&2
echo "scontrol: error: _establish_config_source: failed to fetch config" >&2
echo "scontrol: fatal: Could not establish a configuration source" >&2
exit 1'
fake scontrol "$unconfigured"
fake sbatch 'echo "sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host" >&2; exit 1'
export PATH="$F:$SYS_PATH"
why_re="^fb-farm: sbatch found but no Slurm controller answers \(scontrol ping: fatal: Could not establish a configuration source\); rendering locally$"
auto_local "fake unconfigured client"
check "fake unconfigured client: sbatch never called" '! grep -q "^sbatch" "$TMP/calls"'
why_re="^fb-farm: --slurm: no Slurm controller answers \(scontrol ping: fatal: Could not establish a configuration source\); use --local"
slurm_refused "fake unconfigured client: --slurm"

fake scontrol 'exec sleep 30'
why_re="^fb-farm: sbatch found but no Slurm controller answers \(scontrol ping: no answer within 1 s\); rendering locally$"
auto_local "fake scontrol that hangs (1 s ping timeout)" FB_FARM_PING_TIMEOUT=1
check "the hung scontrol was ended by the timeout" '[ -z "$(own_pids --match "sleep 30")" ]'
# A wrapper script whose child hangs: timeout ends the script, not its
# child, which keeps whatever it inherited open (an adversary's finding:
# fb-farm read the answer through a pipe and waited for that child).
fake scontrol 'sleep 31; exit 0'
t0=$EPOCHREALTIME
auto_local "a wrapper scontrol whose child hangs (1 s ping timeout)" FB_FARM_PING_TIMEOUT=1
secs=$(awk -v a=$t0 -v b=$EPOCHREALTIME 'BEGIN { printf "%.0f", b - a }')
check "... fb-farm did not wait for the wrapper's child (${secs} s in all)" '[ "$secs" -lt 25 ]'
own_kill --match "sleep 31" 2> /dev/null

# A PATH without Slurm's client: every other program the system PATH has,
# linked into one directory (the first of each name, as PATH finds it).
NOSL=$TMP/noslurm
mkdir "$NOSL"
IFS=: read -r -a dirs <<< "$SYS_PATH"
for dir in "${dirs[@]}"; do
	[ -d "$dir" ] || continue
	for f in "$dir"/*; do
		name=${f##*/}
		case $name in sbatch | scontrol | scancel | squeue | sinfo | srun | salloc) continue ;; esac
		[ -x "$f" ] && [ ! -e "$NOSL/$name" ] && ln -s "$f" "$NOSL/$name"
	done
done
export PATH="$TMP/shim:$BIN:$NOSL"
check "a PATH without sbatch and scontrol, fb-farm's tools still on it" \
	'! command -v sbatch > /dev/null && ! command -v scontrol > /dev/null && command -v ffmpeg > /dev/null'
why_re="^fb-farm: sbatch is not on PATH; rendering locally$"
auto_local "no Slurm client at all"
why_re="^fb-farm: --slurm: sbatch is not on PATH; use --local"
slurm_refused "no Slurm client at all: --slurm"
export PATH="$F:$TMP/shim:$BIN:$NOSL"
FB_FARM_PING_TIMEOUT=0 fb-farm --chunks 2 --size 64x48 --frames 6 -o "$TMP/pt.mp4" 2> "$TMP/err"
rc=$?
check "FB_FARM_PING_TIMEOUT=0 (timeout's 'never'): exit 2, one line, nothing made" \
	'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "invalid FB_FARM_PING_TIMEOUT" "$TMP/err" && [ ! -e "$TMP/pt.mp4.fbfarm" ]'
rm "$F/scontrol"
why_re="^fb-farm: sbatch found but scontrol is not on PATH; rendering locally$"
auto_local "sbatch without scontrol"
why_re="^fb-farm: --slurm: scontrol is not on PATH; use --local"
slurm_refused "sbatch without scontrol: --slurm"
export PATH="$F:$SYS_PATH"

# ---- a controller answers, sbatch refuses: the work dir goes ---------------
: > "$TMP/calls"
fake scontrol 'case $1 in
ping) echo "Slurmctld(primary) at fbctl is UP"; exit 0 ;;
-o) echo "JobId=$4 ArrayTaskId=0 JobState=CANCELLED" ;;
esac'
fake scancel ':'
fake sbatch 'echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1'
refused_submit() { # refused_submit DESC EXPECTED-DIR-STATE FB-FARM-ARGS...
	local d=$1
	shift
	fb-farm --chunks $K "${GEOM[@]}" "${RAW[@]}" "$@" -o "$TMP/sub.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/err"
	rc=$?
	check "$d: exit 1, one line with sbatch's reason" \
		'[ $rc -eq 1 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "sbatch refused the .*Invalid partition name specified" "$TMP/err"'
	check "$d: no output" '[ ! -e "$TMP/sub.mp4" ]'
	[ $rc -eq 1 ] && [ $(wc -l < "$TMP/err") -eq 1 ] || sed 's/^/# stderr: /' "$TMP/err"
}
refused_submit "controller UP, sbatch refuses the array (auto: Slurm chosen)"
check "...the array was submitted (Slurm was chosen without --slurm)" 'grep -q "^sbatch .*--array=0-3" "$TMP/calls"'
check "...the work directory it made is removed" '[ ! -e "$TMP/sub.mp4.fbfarm" ] && grep -q "is removed" "$TMP/err"'
refused_submit "--slurm, sbatch refuses, --work-dir a/b/c made by fb-farm" --slurm --work-dir "$TMP/a/b/c"
check "...a/b/c and the parents mkdir -p made are removed" '[ ! -e "$TMP/a" ]'
mkdir "$TMP/mine"
refused_submit "sbatch refuses, the user's empty --work-dir" --work-dir "$TMP/mine"
check "...the user's directory is left, empty as it was" '[ -d "$TMP/mine" ] && [ -z "$(ls -A "$TMP/mine")" ]'

# the array accepted, the stitch refused: the array is cancelled, dir removed
fake sbatch 'case "$*" in *--array*) echo 4242 ;; *) echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1 ;; esac'
: > "$TMP/calls"
refused_submit "sbatch takes the array, refuses the stitch job"
check "...the array (4242) is cancelled and named" 'grep -q "^scancel 4242" "$TMP/calls" && grep -q "chunk array 4242 cancelled" "$TMP/err"'
check "...the work directory is removed" '[ ! -e "$TMP/sub.mp4.fbfarm" ]'

# ---- a failed partial run, then a resume ------------------------------------
export PATH="$SYS_PATH"
REND=(--source "exec:$ROOT/tests/farm/chunk_renderer.py")
fb-render "${GEOM[@]}" "${REND[@]}" -o "$TMP/rend.mp4" -- "${LOSSLESS[@]}" 2> /dev/null
rc=$?
check "renderer reference: one fb-render, exit 0" '[ $rc -eq 0 ]'
PART=(--local --chunks $K --retries 0 "${GEOM[@]}" "${REND[@]}" -o "$TMP/part.mp4" -- "${LOSSLESS[@]}")
FAIL_AT=20 fb-farm "${PART[@]}" 2> "$TMP/err" # chunk 3 (frames 18:24) fails
rc=$?
check "partial run (chunk 3 fails): exit 1, 3 of 4 chunks left in the work dir" \
	'[ $rc -eq 1 ] && [ $(ls "$TMP/part.mp4.fbfarm" | grep -c "^chunk-") -eq 3 ]'
check "partial run: a first run does not say resuming" '! grep -q resuming "$TMP/err"'
# sbatch refusing a resumed run keeps its finished chunks and plan
export PATH="$F:$SYS_PATH"
fake sbatch 'echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1'
fb-farm --slurm --chunks $K --retries 0 "${GEOM[@]}" "${REND[@]}" -o "$TMP/part.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/err"
rc=$?
check "resumed run, sbatch refuses: exit 1, says resuming 3 of 4 and that the work dir is kept" \
	'[ $rc -eq 1 ] && grep -q "resuming: 3 of 4 chunks" "$TMP/err" && grep -q "is kept" "$TMP/err" && [ $(wc -l < "$TMP/err") -eq 2 ]'
check "...its 3 finished chunks and its plan are still there" \
	'[ $(ls "$TMP/part.mp4.fbfarm" | grep -c "^chunk-[0-9]*.mp4$") -eq 3 ] && [ -s "$TMP/part.mp4.fbfarm/plan" ]'
export PATH="$SYS_PATH"
find "$TMP/part.mp4.fbfarm" -name "chunk-*.mp4" -exec touch -d '1 hour ago' {} +
fb-farm "${PART[@]}" 2> "$TMP/err"
rc=$?
check "second run: exit 0, says exactly once 'resuming: 3 of 4'" \
	'[ $rc -eq 0 ] && [ $(grep -c "resuming" "$TMP/err") -eq 1 ] && grep -q "resuming: 3 of 4 chunks are already rendered" "$TMP/err"'
check "second run: every frame, pts and duration equal one fb-render's" \
	'[ "$(fmd5 "$TMP/part.mp4")" = "$(fmd5 "$TMP/rend.mp4")" ]'

check_clean "t_farm_engine"
finish
