#!/usr/bin/env bash
# fb-farm and fb-stitch against another local user (issue 21 item 1): a work
# directory planted in a shared directory (world-writable, another user's,
# a symbolic link, a file) is refused with exit 2 naming its owner and mode,
# and nothing is written into it; a planted plan (a bash one with a command
# appended, malformed JSON, a valid one that is not ours) is refused and
# never run; the Slurm batch scripts are one exec of fb-farm, given on
# sbatch's stdin, with no file in the work directory; chunk names with
# quotes, newlines and protocol prefixes never reach ffmpeg's concat list.
. "$(dirname "$0")/../lib.sh"
echo "# t_farm_attack.sh"

R=(--local --chunks 2 --size 64x48 --pix-fmt rgb24 --frames 6)
S=$TMP/shared # a shared directory, as /tmp is
mkdir -m 1777 "$S"
PWNED=$TMP/PWNED
is_root=0
[ "$(id -u)" = 0 ] && is_root=1

# planted DESC REGEX [FB-FARM-ARGS]: fb-farm -o S/out.mp4 exits 2 with one
# line matching REGEX (owner and mode), no output, the planted path as it was.
planted() {
	local d=$1 re=$2 before
	shift 2
	before=$(ls -laR "$S/out.mp4.fbfarm" "$S/w" "$TMP/target" 2> /dev/null | md5sum)
	fb-farm "${R[@]}" "$@" -o "$S/out.mp4" 2> "$TMP/err"
	rc=$?
	check "$d: exit 2, one line naming owner and mode ($(head -c 240 "$TMP/err"))" \
		'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -qE -- "$re" "$TMP/err"'
	check "$d: no output, nothing written into it" \
		'[ ! -e "$S/out.mp4" ] && [ "$(ls -laR "$S/out.mp4.fbfarm" "$S/w" "$TMP/target" 2> /dev/null | md5sum)" = "$before" ]'
	rm -rf "$S/out.mp4.fbfarm" "$S/w" "$TMP/target"
}
mkdir -m 0777 "$S/out.mp4.fbfarm"
planted "(a) OUTPUT.fbfarm an empty 0777 directory" "is not safe to use \(owner root, mode 0777\)"
mkdir -m 1777 "$S/out.mp4.fbfarm"
planted "(a) OUTPUT.fbfarm an empty 1777 directory" "\(owner root, mode 1777\)"
mkdir -m 0777 "$S/w"
planted "(a) --work-dir an empty 0777 directory" "work directory $S/w is not safe.*mode 0777" --work-dir "$S/w"
if [ $is_root = 1 ]; then
	mkdir -m 0755 "$S/out.mp4.fbfarm" && chown nobody "$S/out.mp4.fbfarm"
	planted "(b) OUTPUT.fbfarm owned by nobody" "is not safe to use \(owner nobody, mode 0755\)"
else
	ok "# skip (b): chown to nobody needs root"
fi
mkdir -m 0700 "$TMP/target"
ln -s "$TMP/target" "$S/out.mp4.fbfarm"
planted "(c) OUTPUT.fbfarm a symlink to a directory" "is a symbolic link \(owner [a-z0-9]+, mode 0777\)"
ln -s "$TMP/target" "$S/out.mp4.fbfarm"
planted "(c) OUTPUT.fbfarm a dangling symlink" "is a symbolic link"
check "(c) the dangling symlink's target was not created" '[ ! -e "$TMP/target" ]'
: > "$S/out.mp4.fbfarm"
planted "(e) OUTPUT.fbfarm a file" "is not a directory \(owner [a-z0-9]+, mode 0[0-7]{3}\)"

# A shared directory without the sticky bit: anyone may swap what fb-farm made
mkdir -m 0777 "$TMP/open"
fb-farm "${R[@]}" -o "$TMP/open/out.mp4" 2> "$TMP/err"
rc=$?
check "(f) the output in a 0777 directory without the sticky bit: exit 2, one line naming it, owner and mode" \
	'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "is inside $TMP/open (owner [a-z0-9]*, mode 0777), which another user could change" "$TMP/err"'
check "(f) nothing made in it" '[ -z "$(ls -A "$TMP/open")" ]'

# The safe-path rule: a directory on the way owned by another user, or
# writable by a group, is refused too (its owner or group could rename the
# work directory away and plant a symlink at a part file's name).
# unsafe_parent DESC DIR REGEX ARGS...: exit 2, one line, nothing made in DIR
unsafe_parent() {
	local d=$1 dir=$2 re=$3
	shift 3
	fb-farm "${R[@]}" "$@" 2> "$TMP/err"
	rc=$?
	check "(g) $d: exit 2, one line naming the directory, owner and mode ($(head -c 200 "$TMP/err"))" \
		'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -qE -- "$re" "$TMP/err"'
	check "(g) $d: nothing made in it" '[ -z "$(ls -A "$dir")" ]'
}
mkdir -m 0770 "$TMP/grp"
chmod 0775 "$TMP/grp"
unsafe_parent "the output's directory group-writable (0775)" "$TMP/grp" \
	"is inside $TMP/grp \(owner [a-z0-9]+, mode 0775\), which another user could change" -o "$TMP/grp/out.mp4"
mkdir -m 0700 "$TMP/mine" "$TMP/mine/w"
chmod 0770 "$TMP/mine"
unsafe_parent "--work-dir below a group-writable directory" "$TMP/mine/w" \
	"work directory $TMP/mine/w/x is inside $TMP/mine \(owner [a-z0-9]+, mode 0770\)" --work-dir "$TMP/mine/w/x" -o "$TMP/ok0.mp4"
if [ $is_root = 1 ]; then
	mkdir -m 0755 "$TMP/home" && chown nobody "$TMP/home"
	unsafe_parent "the output in a 0755 directory owned by nobody" "$TMP/home" \
		"is inside $TMP/home \(owner nobody, mode 0755\)" -o "$TMP/home/out.mp4"
	rm -rf "$TMP/home"
else
	ok "# skip (g) nobody's directory: chown needs root"
fi

# umask 000: the missing parents of --work-dir are made 0755 (not 0777,
# which the safe-path rule would refuse, leaving them behind)
(umask 000 && fb-farm "${R[@]}" --work-dir "$TMP/um/a/b/w" -o "$TMP/um.mp4") 2> "$TMP/err"
rc=$?
check "umask 000, --work-dir with missing parents: exit 0 ($(tail -c 200 "$TMP/err"))" '[ $rc -eq 0 ] && [ -s "$TMP/um.mp4" ]'
check "...the parents it made are 0755, the work directory is removed" \
	'[ "$(stat -c %a "$TMP/um" "$TMP/um/a" "$TMP/um/a/b" | tr "\n" " ")" = "755 755 755 " ] && [ ! -e "$TMP/um/a/b/w" ]'
rm -rf "$TMP/um" "$TMP/um.mp4"

# ---- (d) a planted plan: never run -----------------------------------------
W=$S/out.mp4.fbfarm
mkdir -m 0700 "$W"
printf 'declare -g N=6 K=2 EXT=mp4\ntouch %q\n' "$PWNED" > "$W/plan"
cp "$W/plan" "$W/run"
fb-farm "${R[@]}" -o "$S/out.mp4" 2> "$TMP/err"
rc=$?
check "(d) a bash plan with a command appended: exit 2, one line, refused as not ours" \
	'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "plan is not a plan this fb-farm wrote" "$TMP/err"'
for entry in "--run-chunk $W 0" "--run-chunk $W --index 1" "--run-stitch $W"; do
	# shellcheck disable=SC2086
	fb-farm $entry > "$TMP/out" 2> "$TMP/err"
	rc=$?
	check "(d) fb-farm ${entry//$TMP/TMP}: exit 2, one line" '[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ]'
done
check "(d) the appended command never ran (no PWNED)" '[ ! -e "$PWNED" ]'
rm -rf "$W"

# A plan fb-farm wrote, but its fb-render a script that leaves a mark: run
# from a directory of ours it runs (the control), any change makes it foreign.
fb-farm "${R[@]}" --keep -o "$TMP/ok.mp4" 2> "$TMP/err"
check "control: fb-farm --keep wrote a plan" '[ -s "$TMP/ok.mp4.fbfarm/plan" ]'
# Every message is one line, whatever a path or an environment value holds
# (one escaping, fbfarm_common.shown: a newline is shown as \x0a).
fb-farm "${R[@]}" -o "$TMP/no
dir/o.mp4" 2> "$TMP/err"
rc=$?
check "a newline in -o's directory: exit 2, one line, the newline shown as \\x0a" \
	'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -qF "no\x0adir" "$TMP/err"'
AWS_BATCH_JOB_ARRAY_INDEX="1
2" fb-farm --run-chunk "$TMP/ok.mp4.fbfarm" > "$TMP/out" 2> "$TMP/err"
rc=$?
check "a newline in an array index variable: exit 2, one line" \
	'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -qF "1\x0a2" "$TMP/err"'
printf '#!/bin/sh\ntouch %q\nexit 1\n' "$TMP/RAN" > "$TMP/ran.sh"
chmod +x "$TMP/ran.sh"
# variant NAME PYTHON-EXPR-ON-p | RAW-TEXT: a 0700 dir TMP/v-NAME holding the plan so changed
variant() {
	local dir=$TMP/v-$1
	mkdir -m 0700 "$dir"
	python3 - "$TMP/ok.mp4.fbfarm/plan" "$dir/plan" "$TMP/ran.sh" "$2" << 'PY'
import json, sys
src, dst, ran, change = sys.argv[1:]
p = json.load(open(src))
p["run"]["fb_render"], p["run"]["retries"] = ran, 0
text = None
exec(change)
with open(dst, "w") as f:
    f.write(text if text is not None else json.dumps(p))
PY
	chmod 600 "$dir/plan"
}
run_variant() {
	fb-farm --run-chunk "$TMP/v-$1" --index 0 > "$TMP/out" 2> "$TMP/err"
	rc=$?
}
variant control "pass"
run_variant control
check "control: the plan, in a directory of ours, is run (its fb-render ran)" '[ -e "$TMP/RAN" ]'
rm -f "$TMP/RAN"
for v in 'str:p["render"]["chunks"] = "2"' 'zero:p["render"]["frames"] = 0' 'bool:p["render"]["frames"] = True' \
	'unknown:p["run"]["exec"] = "sh"' 'relative:p["run"]["fb_render"] = "ran.sh"' 'argnum:p["render"]["render_args"] = [1]' \
	'toomany:p["render"]["chunks"] = 7' 'list:text = "[]"' 'noformat:del p["format"]' 'ext:p["render"]["ext"] = "sh"' \
	'twice:text = json.dumps(p)[:-1] + ", \"format\": \"fb-farm plan 1\"}"' 'nan:text = json.dumps(p).replace("\"retries\": 0", "\"retries\": NaN")' \
	'binary:text = "\x00\xff"' 'deep:text = "[" * 200000 + "]" * 200000' \
	'deeparg:p["render"]["ffmpeg_args"] = "@"; text = json.dumps(p).replace("\"@\"", "[" * 100000 + "]" * 100000)'; do
	variant "${v%%:*}" "${v#*:}"
	run_variant "${v%%:*}"
	check "malformed plan (${v%%:*}): exit 2, one line naming the plan ($(head -c 160 "$TMP/err"))" \
		'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "plan is not a plan this fb-farm wrote" "$TMP/err"'
done
variant mode "pass" && chmod 666 "$TMP/v-mode/plan" && run_variant mode
check "a plan others may write (0666): exit 2 naming its mode" '[ $rc -eq 2 ] && grep -q "plan is not safe to use (owner [a-z0-9]*, mode 0666)" "$TMP/err"'
variant link "pass" && mv "$TMP/v-link/plan" "$TMP/v-link/real" && ln -s real "$TMP/v-link/plan" && run_variant link
check "a plan that is a symlink: exit 2" '[ $rc -eq 2 ] && grep -q "plan cannot be read" "$TMP/err"'
mkdir -m 0700 "$TMP/v-fifo" && mkfifo "$TMP/v-fifo/plan"
timeout 20 fb-farm --run-chunk "$TMP/v-fifo" --index 0 2> "$TMP/err"
rc=$?
check "a plan that is a FIFO: exit 2 at once (no hang)" '[ $rc -eq 2 ] && grep -q "not a regular file" "$TMP/err"'
if [ $is_root = 1 ]; then
	variant nobody "pass" && chown nobody "$TMP/v-nobody/plan" && run_variant nobody
	check "a valid plan owned by nobody: exit 2 naming the owner" '[ $rc -eq 2 ] && grep -q "owner nobody" "$TMP/err"'
	variant dir "pass" && chown nobody "$TMP/v-dir" && run_variant dir
	check "a valid plan in a directory owned by nobody: exit 2" '[ $rc -eq 2 ] && grep -q "owner nobody" "$TMP/err"'
fi
check "no malformed or foreign plan ran its fb-render (no RAN)" '[ ! -e "$TMP/RAN" ]'
mkdir -m 0700 "$TMP/v-log" && cp -p "$TMP/ok.mp4.fbfarm/plan" "$TMP/v-log/" && mkdir -m 0700 "$TMP/v-log/logs"
echo untouched > "$TMP/victim" && ln -s "$TMP/victim" "$TMP/v-log/logs/chunk-0.log"
fb-farm "${R[@]}" --work-dir "$TMP/v-log" -o "$TMP/ok.mp4" 2> "$TMP/err"
rc=$?
check "a log that is a symlink: exit 2, its target untouched" '[ $rc -eq 2 ] && [ "$(cat "$TMP/victim")" = untouched ]'

# ---- Slurm: the batch scripts are one exec, on sbatch's stdin --------------
F=$TMP/fake
mkdir "$F"
printf '#!/bin/sh\n[ "$1" = ping ] && echo "Slurmctld(primary) at fbctl is UP"\nexit 0\n' > "$F/scontrol"
printf '#!/bin/sh\nn=$(ls %q | wc -l)\necho "$*" > %q/args.$n\ncat > %q/script.$n\necho $((4000 + n))\n' \
	"$TMP/sb" "$TMP/sb" "$TMP/sb" > "$F/sbatch"
chmod +x "$F/scontrol" "$F/sbatch"
mkdir "$TMP/sb"
PATH="$F:$PATH" fb-farm --slurm --no-wait --chunks 2 --size 64x48 --frames 6 -o "$TMP/100%.mp4" > "$TMP/ids" 2> "$TMP/err"
rc=$?
self=$(realpath "$BIN/fb-farm")
WS=$TMP/100%.mp4.fbfarm
check "--slurm --no-wait (fake sbatch): exit 0, ids 4000 4002" '[ $rc -eq 0 ] && [ "$(cat "$TMP/ids")" = "4000 4002" ]'
check "the chunk task's script is one exec of fb-farm --run-chunk WORK --slurm-requeue --log" \
	'[ "$(cat "$TMP/sb/script.0")" = "$(printf "#!/bin/sh\nexec %s --run-chunk %s --slurm-requeue --log" "$self" "$WS")" ]'
check "the stitch job's script is one exec of fb-farm --run-stitch WORK --log" \
	'[ "$(cat "$TMP/sb/script.2")" = "$(printf "#!/bin/sh\nexec %s --run-stitch %s --log" "$self" "$WS")" ]'
check "no batch file in the work directory: only plan and logs/" '[ "$(ls -A "$WS" | tr "\n" " ")" = "logs plan " ]'
rm -rf "$WS"
# sbatch reads its --output/--error as patterns ("%" substitutes, a "\"
# disables substitution): a path with either went elsewhere.  No sbatch
# option is built from the path: the jobs' own output is /dev/null, and the
# task opens its log inside the checked work directory itself (--log).
rm -f "$TMP"/sb/*
WB="$TMP/b\\s%x.mp4.fbfarm"
PATH="$F:$PATH" fb-farm --slurm --no-wait --chunks 2 --size 64x48 --frames 6 -o "$TMP/b\\s%x.mp4" > "$TMP/ids" 2> "$TMP/err"
rc=$?
check "--slurm with a backslash and % in the path: exit 0" '[ $rc -eq 0 ]'
check "...both sbatch calls get --output=/dev/null --error=/dev/null and no path of the work directory" \
	'(for n in 0 2; do grep -q -- "--output=/dev/null --error=/dev/null" "$TMP/sb/args.$n" && ! grep -qF -- "$TMP" "$TMP/sb/args.$n" || exit 1; done)'
SLURM_ARRAY_TASK_ID=0 sh "$TMP/sb/script.0" > "$TMP/out" 2>&1
rc=$?
check "...the chunk task's script renders chunk 0, its output only in WORK/logs/chunk-0.log (mode 0600)" \
	'[ $rc -eq 0 ] && [ ! -s "$TMP/out" ] && grep -q "chunk 0 done" "$WB/logs/chunk-0.log" && [ "$(stat -c %a "$WB/logs/chunk-0.log")" = 600 ]'
rm -rf "$WB"

# ---- fb-stitch: chunk names never reach the concat list --------------------
C=$TMP/names
mkdir "$C"
for r in 0:3 3:6 6:9; do
	fb-render --size 64x48 --pix-fmt rgb24 --frames 9 --range $r -o "$C/c${r%:*}.mp4" -- -c:v libx264rgb -qp 0 2> /dev/null
done
fb-render --size 64x48 --pix-fmt rgb24 --frames 9 -o "$TMP/whole9.mp4" -- -c:v libx264rgb -qp 0 2> /dev/null
n0="q'uote.mp4" n1=$'new\nline\' file \'c0.mp4\nduration 9.mp4' n2="pipe:0.mp4"
mv "$C/c0.mp4" "$C/$n0" && mv "$C/c3.mp4" "$C/$n1" && mv "$C/c6.mp4" "$C/$n2"
(cd "$C" && fb-stitch --log-level debug -o "$TMP/joined.mp4" "$n0" "$n1" "$n2") < /dev/null 2> "$TMP/err"
rc=$?
check "fb-stitch of chunks named with a quote, a newline + 'file' line, and 'pipe:0.mp4': exit 0" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || sed 's/^/# /' "$TMP/err"
check "...every frame, pts and duration equal one fb-render's" \
	'[ "$(frames_md5 -i "$TMP/joined.mp4")" = "$(frames_md5 -i "$TMP/whole9.mp4")" ]'
check "...the concat list names only fb-stitch's own links" \
	'[ "$(grep -c "^fb-stitch: concat: " "$TMP/err")" -eq 3 ] && ! grep "^fb-stitch: concat: " "$TMP/err" | grep -qvE "^fb-stitch: concat: file c[0-9]{8}\.mp4; duration [0-9.]+; $"'
check "...and every message is one line (the newline shown as \\x0a)" '! grep -qv "^fb-stitch: " "$TMP/err"'

# -o naming an input, refused before anything is rendered or joined
sum_before=$(md5sum < "$C/$n2")
ln "$C/$n0" "$TMP/hard.mp4"
for out in "$C/$n2" "$TMP/hard.mp4"; do
	fb-stitch -o "$out" "$C/$n0" "$C/$n1" "$C/$n2" < /dev/null 2> "$TMP/err"
	rc=$?
	check "fb-stitch -o ${out#"$TMP"/} (an input, by inode): exit 2, one line" \
		'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "is an input (chunk " "$TMP/err"'
done
check "...the chunks are untouched" '[ "$(md5sum < "$C/$n2")" = "$sum_before" ]'
rm -f "$TMP/hard.mp4"
# collide DESC REGEX ARGS...: fb-farm exits 2 at once, one line, nothing made
collide() {
	local d=$1 re=$2 before
	shift 2
	before=$(ls -lAR "$TMP/col")
	fb-farm "${R[@]}" "$@" 2> "$TMP/err"
	rc=$?
	check "fb-farm $d: exit 2 up front, one line ($(head -c 160 "$TMP/err"))" \
		'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q -- "$re" "$TMP/err" && [ "$(ls -lAR "$TMP/col")" = "$before" ]'
}
mkdir -m 0700 "$TMP/col" "$TMP/col/w" && : > "$TMP/col/w/a.wav"
collide "--work-dir X -o X" "is the work directory" --work-dir "$TMP/col/x.mp4" -o "$TMP/col/x.mp4"
collide "-o inside the work directory" "is the work directory .* or inside it" --work-dir "$TMP/col/w" -o "$TMP/col/w/o.mp4"
collide "--audio inside the work directory" "--audio .* is inside the work directory" --work-dir "$TMP/col/w" --audio "$TMP/col/w/a.wav" -o "$TMP/col/o.mp4"
fb-farm "${R[@]}" --sink raw -o "$TMP/col/raw.mp4" 2> "$TMP/err"
rc=$?
check "fb-farm --sink raw: exit 2 up front, one line, nothing made ($(head -c 160 "$TMP/err"))" \
	'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q -- "--sink raw" "$TMP/err" && [ ! -e "$TMP/col/raw.mp4.fbfarm" ]'
rm -rf "$TMP/col"

# fb-stitch standalone keeps the same safe-path rule: its partial file,
# made O_EXCL, is opened again by ffmpeg by path.
mkdir -m 0700 "$TMP/sgrp" && chmod 0775 "$TMP/sgrp"
fb-stitch -o "$TMP/sgrp/j.mp4" "$C/$n0" "$C/$n1" "$C/$n2" < /dev/null 2> "$TMP/err"
rc=$?
check "fb-stitch -o in a group-writable (0775) directory: exit 2, one line naming it, owner and mode ($(head -c 200 "$TMP/err"))" \
	'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "is inside $TMP/sgrp (owner [a-z0-9]*, mode 0775), which another user could change" "$TMP/err"'
check "...nothing made in it" '[ -z "$(ls -A "$TMP/sgrp")" ]'
if [ $is_root = 1 ]; then
	mkdir -m 0755 "$TMP/shome" && chown nobody "$TMP/shome"
	fb-stitch -o "$TMP/shome/j.mp4" "$C/$n0" "$C/$n1" "$C/$n2" < /dev/null 2> "$TMP/err"
	rc=$?
	check "fb-stitch -o in nobody's 0755 directory: exit 2 naming owner nobody" \
		'[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "is inside $TMP/shome (owner nobody, mode 0755)" "$TMP/err" && [ -z "$(ls -A "$TMP/shome")" ]'
	rm -rf "$TMP/shome"
fi

check_clean "t_farm_attack"
finish
