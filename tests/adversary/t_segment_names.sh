#!/usr/bin/env bash
# Segment names against an adversary (issue 12, items 1, 8, 10, 13):
#  - anything at /dev/shm/NAME that is not a regular file (FIFO, directory,
#    symlink, device, socket) is refused at once, exit 2, naming what it is,
#    by every program and by fb_attach — never a hang (each run is bounded
#    by `timeout 10`, so a hang shows as exit 124);
#  - workers attaching by name refuse another user's segment and a
#    group/world-writable one, naming the owner and the mode;
#  - default names differ between pid namespaces sharing /dev/shm, a name
#    held by a live broker in another pid namespace is never taken over,
#    and no program removes a name that was replaced mid-render;
#  - -o naming an input (the raw: source, the audio, by inode), the
#    render's own segment or any segment is exit 2 with the input unchanged.
# Runs as root (mknod, chown, unshare); as another user it skips those.
. "$(dirname "$0")/../lib.sh"

G=(--size 64x48 --pix-fmt rgba)
F=$((64 * 48 * 4))
root=$([ "$(id -u)" -eq 0 ] && echo yes || echo no)

# The library's producer: examples/producer.c against this tree's archive.
"${FB_CC:-cc}" -std=c11 -I"$ROOT/include" ${FB_SAN:+-fsanitize=$FB_SAN} -o "$TMP/libprod" \
	"$ROOT/examples/producer.c" "$ROOT/build/libframebroker.a" -pthread -lrt 2> "$TMP/cc.log"
check "examples/producer.c links against build/libframebroker.a" '[ -x "$TMP/libprod" ] || { cat "$TMP/cc.log"; false; }'

# run NAME CMD...: run bounded, leaving $rc and $TMP/err.
run() { timeout -k 2 10 "$@" > "$TMP/out" 2> "$TMP/err"; rc=$?; }
say() { tr '\n' '~' < "$TMP/err" | cut -c1-300; }
# bounded PID: wait up to 60 s for PID (a background job) to end; then
# SIGKILL it, so a hang is a failed check and not a stuck test.  1: it hung.
bounded() {
	timeout 60 tail --pid="$1" -f /dev/null && return 0
	kill -KILL "$1" 2> /dev/null
	return 1
}

# --- item 1: not a regular file at the name --------------------------------
mkkind() { # KIND PATH
	case $1 in
	fifo) mkfifo "$2" ;;
	dir) mkdir "$2" ;;
	symlink) ln -s "$TMP/nothing" "$2" ;;
	device) mknod "$2" c 1 3 ;; # /dev/null's numbers: opening it would "work"
	socket) python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$2" ;;
	esac
}
what() { # KIND -> the words the message must use
	case $1 in
	fifo) echo "a FIFO" ;; dir) echo "a directory" ;; symlink) echo "a symbolic link" ;;
	device) echo "a character device" ;; socket) echo "a socket" ;;
	esac
}
kinds=(fifo dir symlink socket)
[ $root = yes ] && kinds+=(device)
for k in "${kinds[@]}"; do
	n=/$TID-$k
	p=/dev/shm$n
	mkkind $k "$p"
	w=$(what $k)
	for prog in render check broker producer encoder stat; do
		case $prog in
		render) run fb-render "${G[@]}" --frames 3 --sink raw -o "$TMP/o.raw" --name $n ;;
		check) run fb-render "${G[@]}" --frames 3 --sink raw -o "$TMP/o.raw" --name $n --check ;;
		broker) run fb-broker "${G[@]}" --frames 3 --name $n ;;
		producer) run fb-producer --name $n --attach-timeout 3000 ;;
		encoder) run fb-encoder --name $n --attach-timeout 3000 --sink raw -o "$TMP/o.raw" ;;
		stat) run fb-stat $n ;;
		esac
		check "$k at the name: fb-$prog exit $rc (want 2), one line naming $n and $w ($(say))" \
			'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q "$p is $w" "$TMP/err"'
	done
	before=$(ls -ld "$p" 2> /dev/null || echo "nothing at $p")
	run "$TMP/libprod" $n
	check "$k at the name: fb_attach refuses at once (rc $rc, $(say); before it: $before)" \
		'[ $rc -eq 1 ] && grep -q "not a shared-memory segment" "$TMP/err"'
	check "$k at the name: still there, untouched; no output written" \
		'{ [ -e "$p" ] || [ -L "$p" ]; } && [ ! -e "$TMP/o.raw" ]'
	rm -rf "$p"
done
check_clean "not a regular file at the name"

# --- item 10: another user's, or a writable, segment ------------------------
# (as root: a real broker's segment, chown'ed / chmod'ed under it)
wait_seg() { wait_until 60 test -s "/dev/shm$1"; }
# flowing NAME: frames are out (fb-stat): the render is under way.
flowing() { fb-stat "$1" 2> /dev/null | grep -Eq '^frames +[1-9]'; }
if [ $root = yes ]; then
	n=/$TID-own
	fb-broker "${G[@]}" --frames 5 --name $n 2> "$TMP/err.broker" &
	bpid=$!
	wait_seg $n
	for how in "chown nobody" "chmod 0666" "chmod 0620"; do
		$how /dev/shm$n
		want=$(case $how in chown*) echo "belongs to user nobody (uid [0-9]*), not to user root";;
			*0666) echo "writable by everyone (mode 0666)";; *) echo "writable by its group (mode 0620)";; esac)
		run fb-producer --name $n --attach-timeout 3000
		check "$how: fb-producer --name refuses, exit $rc (want 2), naming it ($(say))" \
			'[ $rc -eq 2 ] && grep -q "$want" "$TMP/err"'
		run fb-encoder --name $n --attach-timeout 3000 --sink raw -o "$TMP/o.raw"
		check "$how: fb-encoder --name refuses, exit $rc (want 2) ($(say))" \
			'[ $rc -eq 2 ] && grep -q "$want" "$TMP/err" && [ ! -e "$TMP/o.raw" ]'
		run "$TMP/libprod" $n
		check "$how: fb_attach refuses ($(say))" \
			'[ $rc -eq 1 ] && grep -q "belongs to another user, or others may write it" "$TMP/err"'
		run fb-stat $n
		check "$how: fb-stat still shows it (rc $rc) but warns it may be forged ($(say))" \
			'[ $rc -eq 0 ] && grep -q "^/$TID-own  RUNNING" "$TMP/out" && grep -q "could have forged" "$TMP/err"'
		chown root /dev/shm$n
		chmod 0600 /dev/shm$n
	done
	check "nobody registered with the foreign segment (fb-stat: 0 producers, no encoder)" \
		'fb-stat $n | grep -q "producers 0, .* encoder pid 0"'
	# A user who may not even open it: EACCES, refused just the same.
	run runuser -u nobody -- "$BIN/fb-producer" --name $n --attach-timeout 3000
	check "as user nobody, root's segment: exit $rc (want 2), naming the owner ($(say))" \
		'[ $rc -eq 2 ] && grep -q "belongs to user root (uid 0), not to user nobody.*permission denied" "$TMP/err"'
	kill -TERM $bpid
	wait $bpid
	# A stale segment (its broker SIGKILLed) of another user is not ours
	# to replace, even for root.
	fb-broker "${G[@]}" --frames 5 --name $n 2> /dev/null &
	bpid=$!
	wait_seg $n
	kill -KILL $bpid
	{ wait $bpid; } 2> /dev/null
	chown nobody /dev/shm$n
	ino=$(stat -c %i /dev/shm$n)
	run fb-render "${G[@]}" --frames 3 --sink raw -o "$TMP/o.raw" --name $n
	check "fb-render on another user's stale segment: exit $rc (want 2) naming the owner ($(say))" \
		'[ $rc -eq 2 ] && grep -q "belongs to user nobody" "$TMP/err"'
	run fb-broker "${G[@]}" --frames 3 --name $n
	check "fb-broker on another user's stale segment: exit $rc (want 2), left alone ($(say))" \
		'[ $rc -eq 2 ] && grep -q "belongs to user nobody" "$TMP/err" && [ "$(stat -c %i /dev/shm$n)" = "$ino" ]'
	rm -f /dev/shm$n
	check_clean "foreign segments"
fi

# --- item 13: default names across pid namespaces ---------------------------
# Two fb-render, each pid 1 of its own pid namespace, both with the default
# name, at once: both succeed, under different names.  Each lasts 4 s at
# least (160 frames, 25 ms each): both are looked at while they run.
broker_name() { # UNSHARE_PID -> the --name its broker was given, or 1
	local c b
	c=$(pgrep -P "$1" | head -1)
	[ -n "$c" ] && for b in $(pgrep -P "$c"); do
		tr '\0' '\n' < /proc/$b/cmdline 2> /dev/null | grep -A1 -x -- --name | tail -1 | grep . && return
	done
	return 1
}
both_named() { # (a render's name, once seen, is kept: it may end first)
	local i
	for i in 0 1; do [ -n "${names[$i]}" ] || names[$i]=$(broker_name ${upids[$i]}); done
	[ -n "${names[0]}" ] && [ -n "${names[1]}" ]
}
if [ $root = yes ] && unshare --pid --fork --mount-proc true 2> /dev/null; then
	upids=() names=("" "")
	for i in 1 2; do
		unshare --pid --fork --kill-child --mount-proc "$BIN/fb-render" "${G[@]}" --frames 160 --delay-ms 25 \
			--workers 1 --sink raw -o "$TMP/ns$i.raw" 2> "$TMP/err.ns$i" &
		upids+=($!)
	done
	wait_until 60 both_named
	rcs=()
	for i in 0 1; do
		bounded ${upids[$i]}
		wait ${upids[$i]}
		rcs+=($?)
	done
	check "two fb-render as pid 1 of two pid namespaces: exit ${rcs[*]} (want 0 0) ($(cat "$TMP"/err.ns* | tr '\n' '~'))" \
		'[ "${rcs[*]}" = "0 0" ]'
	check "their default segment names differ: '${names[0]}' vs '${names[1]}'" \
		'[ -n "${names[0]}" ] && [ -n "${names[1]}" ] && [ "${names[0]}" != "${names[1]}" ]'
	check "default names are /fb-render-PID-RANDOM: ${names[0]}" \
		'[[ ${names[0]} =~ ^/fb-render-1-[0-9a-f]{8}$ ]]'
	check "both outputs complete" '[ "$(stat -c %s "$TMP/ns1.raw")" = $((160 * F)) ] && cmp -s "$TMP/ns1.raw" "$TMP/ns2.raw"'
	for nm in "${names[@]}"; do [ -n "$nm" ] && [ -e "/dev/shm$nm" ] && { not_ok "left behind: $nm"; rm -f "/dev/shm$nm"; }; done

	# One explicit name, two pid namespaces: the second broker's view of
	# "pid 2" is its own process, not the first render's broker.  The name
	# must still count as taken (the creator's lock says so), and the
	# first render must go on unharmed.  (200 frames of 25 ms: at least 5 s
	# left once frames flow, so it is still live when it is judged.)
	n=/$TID-shared
	unshare --pid --fork --kill-child --mount-proc "$BIN/fb-render" "${G[@]}" --frames 200 --delay-ms 25 \
		--workers 1 --sink raw -o "$TMP/sh1.raw" --name $n 2> "$TMP/err.sh1" &
	u1=$!
	wait_until 60 flowing $n
	ino=$(stat -c %i /dev/shm$n)
	timeout -k 2 10 unshare --pid --fork --kill-child --mount-proc "$BIN/fb-render" "${G[@]}" --frames 5 --workers 1 \
		--sink raw -o "$TMP/sh2.raw" --name $n 2> "$TMP/err.sh2"
	rc2=$?
	check "same name from another pid namespace while it renders: exit $rc2 (want 2) ($(tr '\n' '~' < "$TMP/err.sh2"))" \
		'[ $rc2 -eq 2 ] && ! grep -q replaced "$TMP/err.sh2"'
	check "...and the live segment was not replaced (the first render still running: $(flowing $n && echo yes))" \
		'[ "$(stat -c %i /dev/shm$n 2> /dev/null)" = "$ino" ]'
	bounded $u1
	wait $u1
	rc1=$?
	check "...and the first render completes: exit $rc1, $(stat -c %s "$TMP/sh1.raw") bytes" \
		'[ $rc1 -eq 0 ] && [ "$(stat -c %s "$TMP/sh1.raw")" = $((200 * F)) ]'
	check_clean "pid namespaces"
fi

# --- item 13: a name replaced mid-render is never removed -------------------
# fb-render (broker + launcher backstop): the segment's name is replaced by
# another object while frames flow; when the render ends, that object must
# still be there.
replace_with() { # HOW PATH
	case $1 in
	file) rm -f "$2" && echo precious > "$2" ;;
	fifo) rm -f "$2" && mkfifo "$2" ;;
	copy) cp "$2" "$TMP/copy" && rm -f "$2" && cp "$TMP/copy" "$2" ;; # same header, new inode
	esac
}
for how in file fifo copy; do
	n=/$TID-swap-$how
	fb-render "${G[@]}" --frames 40 --delay-ms 25 --workers 1 --sink raw -o "$TMP/sw.raw" \
		--name $n 2> "$TMP/err.sw" &
	r=$!
	wait_until 60 flowing $n
	replace_with $how /dev/shm$n
	ino=$(stat -c %i /dev/shm$n)
	bounded $r
	st=$?
	wait $r
	rc=$?
	check "name replaced by a $how mid-render: fb-render ends (exit $rc, $(tr '\n' '~' < "$TMP/err.sw"))" \
		'[ $st -eq 0 ] && [ $rc -eq 0 ]'
	check "...and the $how at the name is still there (inode $ino)" \
		'[ "$(stat -c %i /dev/shm$n 2> /dev/null)" = "$ino" ]'
	rm -f /dev/shm$n
done
# Another render's live segment at the name: neither the first render's
# broker nor its launcher may remove it.
n=/$TID-swap-live
fb-render "${G[@]}" --frames 40 --delay-ms 25 --workers 1 --sink raw -o "$TMP/sw.raw" --name $n 2> "$TMP/err.sw" &
r=$!
wait_until 60 flowing $n
rm -f /dev/shm$n
fb-broker "${G[@]}" --frames 5 --name $n 2> /dev/null &
b2=$!
wait_seg $n
ino=$(stat -c %i /dev/shm$n)
bounded $r
wait $r
rc=$?
check "another broker's segment at the name: the first render ends (exit $rc) and leaves it" \
	'[ $rc -eq 0 ] && [ "$(stat -c %i /dev/shm$n 2> /dev/null)" = "$ino" ] && kill -0 $b2'
kill -TERM $b2
wait $b2
check "...which its own broker then removes (exit $?)" '[ ! -e /dev/shm$n ]'
# The broker alone (workers by name, no fb-render backstop): a copy.
n=/$TID-swap-bk
fb-broker "${G[@]}" --frames 40 --name $n 2> "$TMP/err.bk" &
b=$!
wait_seg $n
fb-producer --name $n --delay-ms 25 2> /dev/null &
p=$!
fb-encoder --name $n --sink raw -o "$TMP/bk.raw" 2> /dev/null &
e=$!
wait_until 60 flowing $n
replace_with copy /dev/shm$n
ino=$(stat -c %i /dev/shm$n)
bounded $b
bounded $p
bounded $e
wait $b $p $e
check "broker alone, its name replaced by a copy of the segment: the copy stays" \
	'[ "$(stat -c %i /dev/shm$n 2> /dev/null)" = "$ino" ]'
rm -f /dev/shm$n
# Another program's small shm object (a named semaphore is 32 bytes) at the
# name: not "abandoned", so not replaced.
n=/$TID-sem
gen_bytes 32 sem > /dev/shm$n
ino=$(stat -c %i /dev/shm$n)
run fb-render "${G[@]}" --frames 3 --workers 1 --sink raw -o "$TMP/o.raw" --name $n
check "a 32-byte foreign object at the name: exit $rc (want 2), left alone ($(say))" \
	'[ $rc -eq 2 ] && grep -q "not a framebroker segment" "$TMP/err" && [ "$(stat -c %i /dev/shm$n)" = "$ino" ]'
rm -f /dev/shm$n
check_clean "names replaced mid-render"

# --- item 8: -o must not be an input or a segment ---------------------------
gen_bytes $((5 * F)) adv > "$TMP/src.raw"
sum0=$(sha256sum < "$TMP/src.raw")
ln "$TMP/src.raw" "$TMP/hard.raw"
ln -s "$TMP/src.raw" "$TMP/sym.raw"
ln -s /dev/shm/$TID-o8 "$TMP/dangling"
src=(--source raw:"$TMP/src.raw")
fb-broker "${G[@]}" --frames 5 --name /$TID-live 2> /dev/null &
blive=$!
wait_seg /$TID-live
live_ino=$(stat -c %i /dev/shm/$TID-live)
head -c 4096 /dev/shm/$TID-live > "$TMP/seg-copy" # a segment's header, outside /dev/shm
gen_bytes 1000 audio > "$TMP/a.wav"
asum=$(sha256sum < "$TMP/a.wav")
o8() { # DESC WANT_WORDS ARGS...: fb-render refuses before anything exists
	local desc=$1 want=$2
	shift 2
	run fb-render "${G[@]}" --frames 5 --workers 1 --name /$TID-o8 "$@"
	check "-o $desc: exit $rc (want 2), '$want' ($(say))" \
		'[ $rc -eq 2 ] && grep -q "refusing -o .*$want" "$TMP/err" && [ ! -e /dev/shm/$TID-o8 ]'
}
o8 "the raw: source itself" "the raw: source" "${src[@]}" --sink raw -o "$TMP/src.raw"
o8 "a hard link to the raw: source" "the raw: source" "${src[@]}" --sink raw -o "$TMP/hard.raw"
o8 "a symlink to the raw: source" "the raw: source" "${src[@]}" --sink raw -o "$TMP/sym.raw"
o8 "the source, given through a symlink" "the raw: source" --source raw:"$TMP/sym.raw" --sink raw -o "$TMP/src.raw"
o8 "the source (ffmpeg sink)" "the raw: source" "${src[@]}" -o "$TMP/src.raw"
o8 "the render's own segment" "own segment /$TID-o8" --sink raw -o /dev/shm/$TID-o8
o8 "a dangling symlink to the render's own segment" "own segment /$TID-o8" --sink raw -o "$TMP/dangling"
o8 "another render's live segment" "in /dev/shm" --sink raw -o /dev/shm/$TID-live
o8 "a live segment through /proc/PID/fd" "in /dev/shm" --sink raw \
	-o "/proc/$blive/fd/$(ls -l /proc/$blive/fd | awk -v f="/dev/shm/$TID-live" '$NF == f {print $(NF-2); exit}')"
o8 "a new file in /dev/shm" "created in /dev/shm" --sink raw -o /dev/shm/$TID-new.raw
o8 "a framebroker segment outside /dev/shm" "a framebroker segment" --sink raw -o "$TMP/seg-copy"
o8 "the --audio file" "the --audio file" --audio "$TMP/a.wav" -o "$TMP/a.wav"
# Issue 21: every file the render reads — the exec:/attach: program (found
# on PATH), its #! interpreter, a file among its arguments, a word of an sh:
# command, the --progress file — is refused as -o, and each is refused as
# --progress too.  The file keeps its bytes; nothing starts.
here=$PWD
cd "$TMP" || exit 1 # relative names below are relative to it
mkdir "$TMP/pbin"
cp "$(type -P bash)" "$TMP/pbin/fbsh" # an interpreter of our own: never the system's
printf '#!%s\nwhile read -r i; do head -c "$FB_FRAME_BYTES" /dev/zero; done\n' "$TMP/pbin/fbsh" > "$TMP/draw.sh"
printf '#!/usr/bin/env -S fbsh\nwhile read -r i; do head -c "$FB_FRAME_BYTES" /dev/zero; done\n' > "$TMP/draw-env.sh"
printf 'import os, sys\nfb = int(os.environ["FB_FRAME_BYTES"])\nfor i in sys.stdin:\n    sys.stdout.buffer.write(bytes([int(i) %% 256]) * fb)\n    sys.stdout.flush()\n' > "$TMP/draw.py"
# A nested #!: draw-nest.sh's interpreter is a script run by fbsh (the
# kernel follows 4 levels); loop-a and loop-b name each other.
printf '#!%s\nexec %s "$@"\n' "$TMP/pbin/fbsh" "$TMP/pbin/fbsh" > "$TMP/interp1"
sed "1s|.*|#!$TMP/interp1|" "$TMP/draw.sh" > "$TMP/draw-nest.sh"
printf '#!%s\n' "$TMP/loop-b" > "$TMP/loop-a"
printf '#!%s\n' "$TMP/loop-a" > "$TMP/loop-b"
chmod +x "$TMP/draw.sh" "$TMP/draw-env.sh" "$TMP/interp1" "$TMP/draw-nest.sh" "$TMP/loop-a" "$TMP/loop-b"
cp "$TMP/libprod" "$TMP/prod"
echo 'palette' > "$TMP/pal.txt"
echo 'progress=continue' > "$TMP/prog.txt"
ln "$TMP/draw.py" "$TMP/draw-hard.py"
ln -s draw.py "$TMP/draw-sym.py"
for f in draw.sh draw-env.sh draw.py prod pal.txt prog.txt pbin/fbsh interp1; do cp "$TMP/$f" "$TMP/$f.orig"; done
o21() { # DESC WANT FILE ARGS...: refused, exit 2; FILE unchanged; nothing started or
	# left (of ours, but the live broker above)
	local desc=$1 want=$2 file=$3
	shift 3
	run env PATH="$TMP/pbin:$PATH" fb-render "${G[@]}" --frames 5 --workers 1 --name /$TID-o8 "$@"
	check "$desc: exit $rc (want 2), one line naming '$want' ($(say))" \
		'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q "^fb-render: refusing .*$want" "$TMP/err"'
	check "...$desc: $file unchanged, no segment, no process" \
		'cmp -s "$TMP/$file" "$TMP/$file.orig" && [ ! -e /dev/shm/$TID-o8 ] && [ -z "$(own_pids --fb | grep -vx "$blive")" ]'
	cp "$TMP/$file.orig" "$TMP/$file" # each case on its own (a binary without the check)
}
py=(--source "exec:python3 draw.py")
o21 "-o the exec: script (the issue's case)" "-o draw.py: it is the renderer's argument draw.py" draw.py \
	"${py[@]}" -o draw.py -- -f framemd5
o21 "-o the exec: script by absolute path" "the renderer's argument draw.py" draw.py "${py[@]}" -o "$TMP/draw.py"
o21 "-o a hard link to the exec: script" "the renderer's argument draw.py" draw.py "${py[@]}" -o draw-hard.py -- -f framemd5
o21 "-o a symlink to the exec: script" "the renderer's argument draw.py" draw.py "${py[@]}" --sink raw -o draw-sym.py
o21 "-o a file among exec:'s arguments (--opt=FILE)" "the renderer's argument" pal.txt \
	--source "exec:$TMP/draw.sh --palette=$TMP/pal.txt" --sink raw -o "$TMP/pal.txt"
o21 "-o the exec: program found on PATH" "the renderer program $TMP/pbin/fbsh" pbin/fbsh \
	--source "exec:fbsh $TMP/draw.sh" --sink raw -o "$TMP/pbin/fbsh"
o21 "-o the #! interpreter of the exec: program" "the renderer's interpreter $TMP/pbin/fbsh" pbin/fbsh \
	--source "exec:$TMP/draw.sh" --sink raw -o "$TMP/pbin/fbsh"
o21 "-o the interpreter of the #! interpreter (nested #!)" "the renderer's interpreter $TMP/pbin/fbsh" \
	pbin/fbsh --source "exec:$TMP/draw-nest.sh" --sink raw -o "$TMP/pbin/fbsh"
o21 "-o the nested #! interpreter itself" "the renderer's interpreter $TMP/interp1" interp1 \
	--source "exec:$TMP/draw-nest.sh" --sink raw -o "$TMP/interp1"
run fb-render "${G[@]}" --frames 5 --workers 1 --name /$TID-o8 --source "exec:$TMP/loop-a" \
	--sink raw -o "$TMP/loop-b" --check
check "#! loop (loop-a <-> loop-b): -o loop-b refused, the check ends: exit $rc ($(say))" \
	'[ $rc -eq 2 ] && grep -q "interpreter $TMP/loop-b" "$TMP/err"'
o21 "-o what #!/usr/bin/env runs" "the renderer's interpreter $TMP/pbin/fbsh" pbin/fbsh \
	--source "exec:$TMP/draw-env.sh" --sink raw -o "$TMP/pbin/fbsh"
o21 "-o the attach: program" "the producer program $TMP/prod" prod --source "attach:$TMP/prod" --sink raw -o "$TMP/prod"
o21 "-o a word of an sh: command" "the renderer's sh: command's word $TMP/pal.txt" pal.txt \
	--source "sh:cat $TMP/pal.txt>/dev/null;exec $TMP/draw.sh" --sink raw -o "$TMP/pal.txt"
o21 "-o a word of an attach:sh: command" "the producer's sh: command's word" prod \
	--source "attach:sh:exec '$TMP/prod'" --sink raw -o "$TMP/prod"
o21 "-o the --progress file" "--progress $TMP/prog.txt: it is the -o output" prog.txt \
	--source "exec:$TMP/draw.sh" --progress "$TMP/prog.txt" --sink raw -o "$TMP/prog.txt"
o21 "--progress the exec: script" "--progress draw.py: it is the renderer's argument draw.py" draw.py \
	"${py[@]}" --progress draw.py --sink raw -o "$TMP/fine.raw"
o21 "--progress the attach: program" "--progress $TMP/prod: it is the producer program" prod \
	--source "attach:$TMP/prod" --progress "$TMP/prod" --sink raw -o "$TMP/fine.raw"
check "...and no -o file was created by those" '[ ! -e "$TMP/fine.raw" ]'
# The system's interpreter, as it is found on PATH (--check: nothing is run
# even where the refusal is missing, so no system file is ever at risk).
pyp=$(type -P python3)
run fb-render "${G[@]}" --frames 5 "${py[@]}" -o "$pyp" --check
check "-o the system's python3 ($pyp) for exec:python3, --check: exit $rc (want 2) ($(say))" \
	'[ $rc -eq 2 ] && grep -q "refusing -o $pyp: it is the renderer program" "$TMP/err"'
run fb-render "${G[@]}" --frames 5 --source "exec:$TMP/draw-env.sh" -o /usr/bin/env --check
check "-o /usr/bin/env for a #!/usr/bin/env script, --check: exit $rc (want 2) ($(say))" \
	'[ $rc -eq 2 ] && grep -q "the renderer.s interpreter /usr/bin/env" "$TMP/err"'
# Not inputs: a device the command names (-o /dev/null beside 2>/dev/null),
# and a word that names no file.
run env PATH="$TMP/pbin:$PATH" fb-render "${G[@]}" --frames 5 --workers 1 --name /$TID-o8 \
	--source "sh:exec fbsh $TMP/draw.sh 2>/dev/null" --sink raw -o /dev/null
check "sh: naming /dev/null, -o /dev/null: accepted (rc $rc, $(say))" '[ $rc -eq 0 ]'
run env PATH="$TMP/pbin:$PATH" fb-render "${G[@]}" --frames 5 --workers 1 --name /$TID-o8 \
	--source "exec:$TMP/draw.sh new.raw" --sink raw -o new.raw
check "an exec: argument naming the not-yet-existing -o: accepted (rc $rc, $(say))" \
	'[ $rc -eq 0 ] && [ "$(stat -c %s new.raw)" -eq $((5 * F)) ]'
rm -f new.raw
cd "$here" || exit 1
timeout -k 2 10 fb-render "${G[@]}" --frames 5 --workers 1 --name /$TID-o8 "${src[@]}" --sink raw \
	-o - >> "$TMP/src.raw" 2> "$TMP/err"
rc=$?
check "-o - with stdout appending to the raw: source: exit $rc (want 2) ($(say))" \
	'[ $rc -eq 2 ] && grep -q "refusing -o -: it is the raw: source" "$TMP/err"'
check "the raw: source is unchanged (sha256)" '[ "$(sha256sum < "$TMP/src.raw")" = "$sum0" ]'
check "the audio file is unchanged (sha256)" '[ "$(sha256sum < "$TMP/a.wav")" = "$asum" ]'
check "the live segment is untouched" \
	'[ "$(stat -c %i /dev/shm/$TID-live)" = "$live_ino" ] && [ "$(stat -c %s /dev/shm/$TID-live)" -gt 4096 ] && fb-stat /$TID-live > /dev/null'
check "no file was created in /dev/shm" '[ ! -e /dev/shm/$TID-new.raw ]'
# fb-encoder run by hand does the same check before attaching.
run fb-encoder --name /$TID-live --sink raw -o /dev/shm/$TID-live
check "fb-encoder -o its own segment: exit $rc (want 2) ($(say))" \
	'[ $rc -eq 2 ] && grep -q "refusing -o /dev/shm/$TID-live: it is the render.s own segment" "$TMP/err"'
run fb-encoder --name /$TID-live --audio "$TMP/a.wav" -o "$TMP/a.wav"
check "fb-encoder -o its --audio file: exit $rc (want 2) ($(say))" \
	'[ $rc -eq 2 ] && grep -q "the --audio file" "$TMP/err" && [ "$(sha256sum < "$TMP/a.wav")" = "$asum" ]'
check "nobody attached to the live segment meanwhile" 'fb-stat /$TID-live | grep -q "encoder pid 0"'
kill -TERM $blive
wait $blive
# Legitimate outputs next to them still work.
run fb-render "${G[@]}" --frames 5 --workers 1 "${src[@]}" --sink raw -o /dev/null --name /$TID-o8
check "-o /dev/null is accepted (rc $rc)" '[ $rc -eq 0 ]'
run fb-render "${G[@]}" --frames 5 --workers 1 "${src[@]}" --sink raw -o "$TMP/fine.raw" --name /$TID-o8
check "a plain -o is accepted and exact (rc $rc)" '[ $rc -eq 0 ] && cmp -s "$TMP/fine.raw" "$TMP/src.raw"'
check_clean "-o checks"

finish
