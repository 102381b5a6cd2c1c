#!/usr/bin/env bash
# FB_TMPDIR (issue 21 item 3): fb-render makes a private directory
# $TMPDIR/fb-render-PID-XXXXXX (0700) before its first child, names it to
# every child (broker, encoder, producers, an exec: renderer), and removes
# it with whatever a child left in it — files, a symlink to a file outside
# (which survives), a FIFO, a read-only directory, a tree deeper than the
# remover's descriptor budget — on success, failure, SIGTERM (and SIGQUIT,
# SIGUSR1, SIGALRM: exit 128+N), and when
# every producer is SIGKILLed; --check makes none; two renders get two;
# an unusable $TMPDIR is refused (exit 2, one line, nothing left), a full
# one is a runtime failure (exit 1); a
# process outside swapping names in it during the removal never gets a
# file outside chmodded.
. "$(dirname "$0")/../lib.sh"

# Built as the library was (a sanitizer build's library needs its runtime).
san=()
[ -n "${FB_SAN:-}" ] && san=(-fsanitize="$FB_SAN")
"${FB_CC:-cc}" -std=c11 -Wall -Wextra -Werror "${san[@]}" -I"$ROOT/include" -o "$TMP/producer" \
	"$ROOT/examples/producer.c" -L"$ROOT/build/lib" -lframebroker -Wl,-rpath,"$ROOT/build/lib" 2> "$TMP/cc.log"
check "examples/producer.c builds" '[ -x "$TMP/producer" ] || { cat "$TMP/cc.log"; false; }'

mkdir "$TMP/tmp"
export TMPDIR=$TMP/tmp # every render's directory is made here: ours to judge
echo precious > "$TMP/outside"
# The producer: leaves a mess in $FB_TMPDIR, says where it was ($TMP/seen.R),
# then does what $2 says: run (the C producer), fail (exit 1), hang.
cat > "$TMP/mess.sh" << 'EOF'
#!/bin/sh
r=$1 then=$2
d=${FB_TMPDIR:-}
# Without one (the old fb-render), nothing is made anywhere.
case $d in /*/fb-render-*) ;; *) echo "no FB_TMPDIR" >> "$TMP/seen.$r"; exit 1 ;; esac
printf '%s %s %s\n' "$d" "$(stat -c %a "$d")" $$ >> "$TMP/seen.$r"
echo data > "$d/file.$$"
ln -s "$TMP/outside" "$d/link.$$"
ln -s "$TMP" "$d/dirlink.$$"
mkfifo "$d/fifo.$$"
mkdir "$d/ro.$$" && echo x > "$d/ro.$$/f" && chmod 0500 "$d/ro.$$"
p=$d/deep.$$
for _ in $(seq 80); do p=$p/d; done
mkdir -p "$p" && touch "$p/bottom"
echo $$ > "$TMP/ready.$r.$$"
case $then in
run) exec "$TMP/producer" ;;
fail) exit 1 ;;
hang) exec sleep 300 ;;
esac
EOF
chmod +x "$TMP/mess.sh"
export TMP

# intact R: every directory the run R saw is gone, $TMPDIR holds nothing, the
# outside file and dir are untouched.
intact() {
	local d
	[ -s "$TMP/seen.$1" ] || return 1
	for d in $(cut -d' ' -f1 "$TMP/seen.$1"); do [ ! -e "$d" ] && [ ! -L "$d" ] || return 1; done
	[ -z "$(ls -A "$TMPDIR")" ] && [ "$(cat "$TMP/outside")" = precious ] && [ -x "$TMP/mess.sh" ]
}
# (An array, not a function: `fb-render ... &` is then fb-render itself, for kill.)
R=(--size 32x24 --frames 20 --workers 2 --slots 4 --sink raw --max-restarts 0)

# Success.
fb-render "${R[@]}" -o "$TMP/ok.raw" --name /$TID-ok --source "attach:$TMP/mess.sh ok run" 2> "$TMP/err.ok"
rc=$?
check "success: exit $rc, each producer saw one 0700 directory $TMPDIR/fb-render-PID-XXXXXX ($(cat "$TMP/seen.ok" 2> /dev/null | tr '\n' ';'))" \
	'[ $rc -eq 0 ] && [ "$(cut -d" " -f1,2 "$TMP/seen.ok" | sort -u | wc -l)" -eq 1 ] &&
	 [[ $(head -1 "$TMP/seen.ok") =~ ^$TMPDIR/fb-render-[0-9]+-[A-Za-z0-9]{6}\ 700\  ]]'
check "success: the directory and all it held are gone; the symlinked file outside survives" 'intact ok'

# Failure: a producer exits 1.
fb-render "${R[@]}" -o "$TMP/f.raw" --name /$TID-f --source "attach:$TMP/mess.sh f fail" 2> "$TMP/err.f"
rc=$?
check "failure: exit $rc (want 1), directory gone, outside intact" '[ $rc -eq 1 ] && intact f'

# SIGTERM while producers hang; meanwhile, the broker and the encoder have
# FB_TMPDIR too.
fb-render "${R[@]}" -o "$TMP/t.raw" --name /$TID-t --source "attach:$TMP/mess.sh t hang" 2> "$TMP/err.t" &
rp=$!
wait_until 30 '[ "$(ls "$TMP"/ready.t.* 2> /dev/null | wc -l)" -eq 2 ]'
dir=$(head -1 "$TMP/seen.t" | cut -d' ' -f1)
envs=""
for p in $(own_pids --match "fb-(broker|encoder) .*--name /$TID-t"); do
	envs+="$(tr '\0' '\n' < /proc/$p/environ | grep '^FB_TMPDIR=');"
done
check "broker and encoder have FB_TMPDIR=$dir ($envs)" '[ "$envs" = "FB_TMPDIR=$dir;FB_TMPDIR=$dir;" ]'
kill -TERM $rp
wait $rp
rc=$?
check "SIGTERM: exit $rc (want 143), directory gone, outside intact" '[ $rc -eq 143 ] && intact t'

# Any other signal whose default would end fb-render (Ctrl-\ is SIGQUIT)
# ends the render like SIGTERM: exit 128+N, the directory gone.
for sig in QUIT USR1 ALRM; do
	rm -f "$TMP"/ready.q.* "$TMP/seen.q"
	fb-render "${R[@]}" -o "$TMP/q.raw" --name /$TID-q --source "attach:$TMP/mess.sh q hang" 2> "$TMP/err.q" &
	rp=$!
	wait_until 30 '[ "$(ls "$TMP"/ready.q.* 2> /dev/null | wc -l)" -eq 2 ]'
	kill -$sig $rp
	wait $rp
	rc=$?
	want=$((128 + $(kill -l $sig)))
	check "SIG$sig: exit $rc (want $want), directory gone, outside intact, no process left ($(own_procs --fb | wc -l))" \
		'[ $rc -eq $want ] && intact q && wait_until 10 "[ -z \"\$(own_procs --fb)\" ]"'
done

# Every producer SIGKILLed (no restarts left: the render fails).
fb-render "${R[@]}" -o "$TMP/k.raw" --name /$TID-k --source "attach:$TMP/mess.sh k hang" 2> "$TMP/err.k" &
rp=$!
wait_until 30 '[ "$(ls "$TMP"/ready.k.* 2> /dev/null | wc -l)" -eq 2 ]'
kill -KILL $(cat "$TMP"/ready.k.*)
wait $rp
rc=$?
check "every producer SIGKILLed: exit $rc (want 1), directory gone, outside intact" '[ $rc -eq 1 ] && intact k'

# An exec: renderer (under fb-producer) sees it too.
fb-render "${R[@]}" -o "$TMP/e.raw" --name /$TID-e \
	--source "sh:echo \$FB_TMPDIR >> $TMP/seen.e; exec cat /dev/zero" --max-restarts 40 2> "$TMP/err.e"
check "an exec: renderer is given FB_TMPDIR; gone afterwards ($(sort -u "$TMP/seen.e" 2> /dev/null | tr '\n' ';'))" \
	'[ "$(sort -u "$TMP/seen.e" | wc -l)" -eq 1 ] && grep -q "^$TMPDIR/fb-render-" "$TMP/seen.e" && intact e'

# Two renders at once: two directories.
fb-render "${R[@]}" -o "$TMP/a.raw" --name /$TID-a --source "attach:$TMP/mess.sh a run" 2> /dev/null &
pa=$!
fb-render "${R[@]}" -o "$TMP/b.raw" --name /$TID-b --source "attach:$TMP/mess.sh b run" 2> /dev/null
rb=$?
wait $pa
ra=$?
check "two renders at once: both exit 0, distinct directories, both gone" \
	'[ $ra -eq 0 ] && [ $rb -eq 0 ] && [ "$(cut -d" " -f1 "$TMP/seen.a" | sort -u)" != "$(cut -d" " -f1 "$TMP/seen.b" | sort -u)" ] && intact a && intact b'

# --check makes nothing.
fb-render "${R[@]}" -o "$TMP/c.raw" --name /$TID-c --check 2> "$TMP/err.c"
rc=$?
check "--check: exit $rc, no directory made" '[ $rc -eq 0 ] && [ -z "$(ls -A "$TMPDIR")" ]'

# An unusable $TMPDIR: one line, exit 2, nothing started or left.
touch "$TMP/afile"
for bad in "$TMP/none" "$TMP/afile"; do
	TMPDIR=$bad fb-render "${R[@]}" -o "$TMP/x.raw" --name /$TID-x 2> "$TMP/err.x"
	rc=$?
	check "TMPDIR=$bad: exit $rc (want 2), one line: $(cat "$TMP/err.x")" \
		'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err.x")" -eq 1 ] && grep -q "^fb-render: TMPDIR $bad: " "$TMP/err.x" &&
		 [ ! -e "$TMP/x.raw" ] && [ ! -e /dev/shm/$TID-x ]'
done

# A $TMPDIR where the directory cannot be made for lack of room (a full
# tmpfs: no inode left) is a runtime failure, not a refusal: exit 1, one
# line naming the cause, nothing started or left.
if [ "$(id -u)" -eq 0 ] && mkdir "$TMP/full" &&
	mount -t tmpfs -o size=64k,nr_inodes=2 "fbt-$TID" "$TMP/full" 2> /dev/null; then
	trap 'umount "$TMP/full" 2> /dev/null; cleanup' EXIT # even if we fail
	: > "$TMP/full/last-inode"
	TMPDIR=$TMP/full fb-render "${R[@]}" -o "$TMP/x.raw" --name /$TID-x 2> "$TMP/err.x"
	rc=$?
	check "TMPDIR full (no inode left): exit $rc (want 1), one line: $(cat "$TMP/err.x")" \
		'[ $rc -eq 1 ] && [ "$(wc -l < "$TMP/err.x")" -eq 1 ] &&
		 grep -q "^fb-render: cannot make a private directory in $TMP/full: No space left on device" "$TMP/err.x" &&
		 [ ! -e "$TMP/x.raw" ] && [ ! -e /dev/shm/$TID-x ] && [ "$(ls -A "$TMP/full")" = last-inode ]'
	umount "$TMP/full"
	trap cleanup EXIT
else
	echo "# t_tmpdir.sh: no full-TMPDIR case (not root, or tmpfs not mountable)"
fi

# A producer that moves the directory away and leaves a symlink to a
# directory outside at its name; one (as root) that bind-mounts a directory
# outside into it: what is outside stays, one warning says why the
# directory could not go, the render still succeeds.
mkdir "$TMP/tmp2" "$TMP/outdir"
echo precious > "$TMP/outdir/keep"
cat > "$TMP/adverse.sh" << 'EOF'
#!/bin/sh
d=${FB_TMPDIR:?}
case $1 in
swap) mkdir "$TMP/swapped" 2> /dev/null && mv "$d" "$d.moved" && ln -s "$TMP/outdir" "$d" ;;
mount) mkdir "$d/m" 2> /dev/null && mount --bind "$TMP/outdir" "$d/m" && echo "$d/m" > "$TMP/mounted" ;;
esac
exec "$TMP/producer"
EOF
chmod +x "$TMP/adverse.sh"
TMPDIR=$TMP/tmp2 fb-render "${R[@]}" -o "$TMP/s.raw" --name /$TID-s --source "attach:$TMP/adverse.sh swap" 2> "$TMP/err.s"
rc=$?
check "moved away, a symlink to outside at its name: exit $rc, outside intact, one warning ($(grep -v wrote "$TMP/err.s"))" \
	'[ $rc -eq 0 ] && [ "$(cat "$TMP/outdir/keep")" = precious ] && [ -n "$(find "$TMP/tmp2" -maxdepth 1 -name "fb-render-*" -type l)" ] &&
	 grep -q "could not remove FB_TMPDIR .*: it was moved or replaced" "$TMP/err.s"'
rm -rf "${TMP:?}/tmp2"/*
if [ "$(id -u)" -eq 0 ] && mkdir "$TMP/mnt" && mount --bind "$TMP/outdir" "$TMP/mnt" 2> /dev/null && umount "$TMP/mnt"; then
	TMPDIR=$TMP/tmp2 fb-render "${R[@]}" -o "$TMP/m.raw" --name /$TID-m --source "attach:$TMP/adverse.sh mount" 2> "$TMP/err.m"
	rc=$?
	check "a bind mount of a directory outside (same filesystem) inside: exit $rc, outside intact, one warning ($(grep -v wrote "$TMP/err.m"))" \
		'[ $rc -eq 0 ] && [ -s "$TMP/mounted" ] && [ "$(cat "$TMP/outdir/keep")" = precious ] &&
		 grep -q "could not remove FB_TMPDIR .*: something is mounted in it" "$TMP/err.m"'
	[ -s "$TMP/mounted" ] && umount -l "$(cat "$TMP/mounted")"
else
	echo "# t_tmpdir.sh: no bind-mount case (not root, or mount not permitted)"
fi

# A process outside the render (ours, not fb-render's: alive while it
# removes the directory) swaps a directory of mode 0557 and a hard link to a
# file outside, between the removal's look at an entry and its act on it,
# RACE times: the file outside is never chmodded (nor anything else done
# to it).  The old removal (a look, then a chmod by name) lost within 300
# runs nearly every time.
cat > "$TMP/swap.c" << 'EOF'
/* swap DIR VICTIM PAIRS READY PID: in DIR, PAIRS directories aN (mode
 * 0557) and as many hard links bN of VICTIM; touch READY; once PID has no
 * child left (its removal of DIR is near), stop PID, swap each aN and bN
 * (RENAME_EXCHANGE), continue PID, again, until DIR is removed.  A stop
 * lands between two system calls of the removal: between its look at aN
 * (a directory, not 0700) and a chmod of aN by name, that is VICTIM's. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Has PID a child?  (false once it exited) */
static int has_child(const char *pid)
{
	char path[64];
	int c = EOF;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/task/%s/children", pid, pid);
	f = fopen(path, "r");
	if (f) {
		c = fgetc(f);
		fclose(f);
	}
	return c != EOF;
}

/* PID's state letter, or 'X' once gone. */
static char state(const char *pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 'X';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 'X';
}

int main(int argc, char **argv)
{
	int d = argc == 6 ? open(argv[1], O_RDONLY | O_DIRECTORY) : -1;
	int k = argc == 6 ? atoi(argv[3]) : 0;
	char a[8], b[8];
	struct stat st;
	pid_t pid;

	if (d < 0 || k < 1 || k > 9999)
		return 1;
	for (int i = 0; i < k; i++) {
		snprintf(a, sizeof(a), "a%d", i);
		snprintf(b, sizeof(b), "b%d", i);
		if (mkdirat(d, a, 0557) < 0 || fchmodat(d, a, 0557, 0) < 0 ||
		    linkat(AT_FDCWD, argv[2], d, b, 0) < 0)
			return 1;
	}
	close(open(argv[4], O_WRONLY | O_CREAT, 0600));
	while (has_child(argv[5]))
		;
	/* Stop the removal (at a boundary between two of its system calls),
	 * swap every pair, let it go on a moment; again. */
	pid = atoi(argv[5]);
	for (unsigned long r = 0; kill(pid, SIGSTOP) == 0; r++) {
		while (strchr("RSD", state(argv[5])))
			;
		for (int i = 0; i < k; i++) {
			snprintf(a, sizeof(a), "a%d", i);
			snprintf(b, sizeof(b), "b%d", i);
			renameat2(d, a, d, b, RENAME_EXCHANGE);
		}
		kill(pid, SIGCONT);
		usleep(r % 50);
		if (fstat(d, &st) < 0 || st.st_nlink == 0)
			return 0;
	}
	return 0;
}
EOF
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$TMP/swap" "$TMP/swap.c" 2> "$TMP/cc.log"
check "the swapping helper builds" '[ -x "$TMP/swap" ] || { cat "$TMP/cc.log"; false; }'
mkdir "$TMP/tmp3"
echo secret > "$TMP/victim"
chmod 600 "$TMP/victim"
lost="" left=0 run=0
[ -x "$TMP/swap" ] && for run in $(seq "${RACE:-300}"); do
	rm -f "$TMP/armed"
	TMPDIR=$TMP/tmp3 fb-render --size 32x24 --frames 4 --workers 1 --sink raw -o "$TMP/r.raw" --name /$TID-r \
		--source "sh:for i in \$(seq 3000); do [ -e $TMP/armed ] && break; sleep 0.01; done; while read f; do head -c 3072 /dev/zero; done" 2> "$TMP/err.r" &
	rp=$!
	wait_until 30 'd=$(ls -d "$TMP"/tmp3/fb-render-* 2> /dev/null)'
	"$TMP/swap" "$d" "$TMP/victim" 20 "$TMP/armed" $rp &
	ap=$!
	wait $rp
	kill $ap 2> /dev/null
	wait $ap 2> /dev/null
	[ "$(stat -c %a "$TMP/victim")" = 600 ] && [ "$(cat "$TMP/victim")" = secret ] || { lost=$run; break; }
	grep -q "could not remove" "$TMP/err.r" && left=$((left + 1))
	rm -rf "${TMP:?}"/tmp3/* 2> /dev/null
done
check "a directory and a hard link to a file outside swapped during the removal, $run runs: the file outside untouched (mode $(stat -c %a "$TMP/victim"); lost at run ${lost:-none}), the directory left $left times" \
	'[ $run -gt 0 ] && [ -z "$lost" ] && [ $left -eq 0 ]'

# What a render that died left: fb-render SIGKILLed leaves its directory
# (nothing of it could clean up).  The next render removes it once it is a
# minute old (the test ages it with touch) and unlocked, and nothing else:
# not a live render's (its lock held, however old), not one whose name's
# pid is dead here but whose lock is held (as a render's in another pid
# namespace sharing /tmp: flock(1) holds it), not a fresh one, not a
# symlink, a file, a 0755 directory, another user's, or a name of another
# form.
mkdir "$TMP/tmp4" "$TMP/target"
echo kept > "$TMP/target/f"
T4=$TMP/tmp4
died() { # a render SIGKILLed once its directory exists; prints the directory
	local before rp d
	before=$(ls "$T4")
	TMPDIR=$T4 fb-render --size 32x24 --frames 2000 --workers 1 --delay-ms 20 --sink raw \
		-o /dev/null --name /$TID-died 2> /dev/null &
	rp=$!
	wait_until 30 '[ "$(ls "$T4" | grep -vxF "$before" | grep -c ^fb-render-)" = 1 ]'
	kill -9 $rp
	wait $rp 2> /dev/null
	ls -d "$T4"/fb-render-* | grep -vxF "$(printf '%s\n' "$before" | sed "s|^|$T4/|")"
}
old=$(died)
fresh=$(died)
wait_until 30 '! [ -e /dev/shm/$TID-died ]'
TMPDIR=$T4 fb-render --size 32x24 --frames 3000 --workers 1 --delay-ms 20 --sink raw \
	-o /dev/null --name /$TID-live 2> "$TMP/err.live" &
lp=$!
wait_until 30 '[ "$(ls -d "$T4"/fb-render-$lp-* 2> /dev/null | wc -l)" = 1 ]'
live=$(ls -d "$T4"/fb-render-$lp-* 2> /dev/null)
ln -s "$TMP/target" "$T4/fb-render-99999-AAAAAA"
echo file > "$T4/fb-render-99998-BBBBBB"
mkdir -m 0755 "$T4/fb-render-99997-CCCCCC" && touch "$T4/fb-render-99997-CCCCCC/f"
mkdir -m 0700 "$T4/fb-render-x-DDDDDD" "$T4/fb-render-99996-EEEEEEE" "$T4/fb-render-99995-FFFFFF"
sh -c 'exit 0' &
gone=$!
wait $gone
mkdir -m 0700 "$T4/fb-render-$gone-GGGGGG"
flock "$T4/fb-render-$gone-GGGGGG" sleep 600 &
fp=$!
wait_until 30 '! flock -n "$T4/fb-render-$gone-GGGGGG" true'
others=(fb-render-99999-AAAAAA fb-render-99998-BBBBBB fb-render-99997-CCCCCC fb-render-x-DDDDDD
	fb-render-99996-EEEEEEE)
if [ "$(id -u)" = 0 ]; then
	chown nobody "$T4/fb-render-99995-FFFFFF"
	others+=(fb-render-99995-FFFFFF)
fi
for d in "$old" "$live" "$T4/fb-render-$gone-GGGGGG" "${others[@]/#/$T4/}"; do
	touch -h -d '2 minutes ago' "$d"
done
TMPDIR=$T4 fb-render --size 32x24 --frames 3 --workers 1 --sink raw -o /dev/null --name /$TID-sweep \
	--log-level debug 2> "$TMP/err.sweep"
rc=$?
check "a render after one SIGKILLed: exit $rc, the dead one's directory a minute old removed ($(grep -c 'left by an fb-render' "$TMP/err.sweep") named)" \
	'[ $rc -eq 0 ] && [ -n "$old" ] && [ ! -e "$old" ] && grep -q "removed $old, left by an fb-render that died" "$TMP/err.sweep"'
check "...a dead one's under a minute old kept" '[ -n "$fresh" ] && [ -d "$fresh" ]'
check "...a live render's, two minutes old, kept (its lock held); that render goes on" \
	'[ -n "$live" ] && [ -d "$live" ] && alive $lp'
check "...one locked by another process, its name's pid dead here, kept" \
	'! kill -0 $gone 2> /dev/null && [ -d "$T4/fb-render-$gone-GGGGGG" ]'
kill $fp 2> /dev/null
wait $fp 2> /dev/null
kept=0
for d in "${others[@]}"; do [ -e "$T4/$d" ] || [ -L "$T4/$d" ] && kept=$((kept + 1)); done
check "...a symlink, a file, a 0755 directory, another user's, other names: all ${#others[@]} kept, the symlink's target too" \
	'[ $kept = ${#others[@]} ] && [ "$(cat "$TMP/target/f")" = kept ] && [ -f "$T4/fb-render-99997-CCCCCC/f" ]'
kill -TERM $lp
wait $lp 2> /dev/null
rc=$?
check "...the live render, SIGTERMed: exit 143, its own directory removed by itself" \
	'[ $rc -eq 143 ] && [ ! -e "$live" ]'
rm -rf "$fresh"

check_clean "t_tmpdir"
finish
