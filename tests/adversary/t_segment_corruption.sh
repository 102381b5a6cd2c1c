#!/usr/bin/env bash
# Issue 12, items 7 and 11: the cause is always printed, and a segment
# truncated, grown or scribbled under a live render ends it with exit 1 and
# a cause — no process dies of SIGBUS or of abort() inside glibc, no
# restart is burned, nothing is left behind.
. "$(dirname "$0")/../lib.sh"

# Only our own: segments $TID-*, processes naming /$TID-.
mine_left() {
	local left procs
	none_left() {
		left=$(ls /dev/shm | grep -E "^$TID" || true)
		procs=$(pgrep -a -f -- "--name /$TID-" || true)
		[ -z "$left$procs" ]
	}
	wait_until 3 none_left
	check "$1: no segment or process of ours left (${left} ${procs})" '[ -z "$left$procs" ]'
}

# ---- item 7: FB_FAULT=encoder:after-write:5, --sink raw, 40 runs --------
fails=0 silent=0 nocause=0
for i in $(seq 40); do
	FB_FAULT=encoder:after-write:5 FB_FAULT_ONCE=$TMP/fault.$i fb-render --sink raw --size 64x48 --frames 20 \
		--workers 2 --slots 4 --name /$TID-f$i -o "$TMP/f.raw" 2> "$TMP/f.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fails=$((fails + 1))
		[ -s "$TMP/f.err" ] || { silent=$((silent + 1)); continue; }
		# the cause names the encoder (it died) or its kill
		grep -qE 'encoder|fb-encoder' "$TMP/f.err" || {
			nocause=$((nocause + 1)); echo "# no cause: $(tr '\n' '~' < "$TMP/f.err")"; }
	fi
done
check "FB_FAULT encoder:after-write: $fails of 40 runs failed (all should)" '[ $fails -eq 40 ]'
check "every failing run says why: $silent silent, $nocause without the encoder named" \
	'[ $silent -eq 0 ] && [ $nocause -eq 0 ]'
mine_left "fault loop"

# ---- item 11: corrupt a live render --------------------------------------
# Header offsets: seg_offsets.c, compiled here from lib/fb_segment.h.
cc -D_GNU_SOURCE -I"$ROOT/lib" -I"$ROOT/include" -o "$TMP/seg_offsets" "$ROOT/tests/adversary/seg_offsets.c" ||
	not_ok "seg_offsets.c compiles"
eval "$("$TMP/seg_offsets")"

# Overwrite LEN bytes at OFFSET of /dev/shm/NAME with random bytes.
scribble() { # FILE OFFSET LEN
	head -c "$3" /dev/urandom | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# corrupt KIND: start a slow render, let frames flow, do KIND to its
# segment, expect exit 1 within a few seconds with CAUSE_RE on stderr.
corrupt() {
	local kind=$1 cause_re=$2 seg=/dev/shm/$TID-$1 rpid rc t0 ms
	fb-render --sink raw --size 320x240 --frames 400 --workers 2 --slots 4 --delay-ms 50 \
		--name /$TID-$kind -o "$TMP/$kind.raw" 2> "$TMP/$kind.err" &
	rpid=$!
	wait_until 10 rendering /$TID-$kind 5 # frames flow
	case $kind in
	truncate) truncate -s 4096 "$seg" ;;
	truncate0) truncate -s 0 "$seg" ;;
	grow) truncate -s +1M "$seg" ;;
	words) scribble "$seg" "$state" $((protocol_end - state)) ;;
	state) printf 'ZZZZ' | dd of="$seg" bs=1 seek="$state" conv=notrunc status=none ;;
	mutex) scribble "$seg" "$lock" "$lock_size" ;;
	sems) scribble "$seg" "$space" $((3 * sem_size)) ;;
	esac
	t0=$(date +%s%N)
	# Bounded: 10 s (the issue says "within a few seconds"; slack for a
	# shared 2-core machine).
	wait_until 10 "! alive $rpid"
	alive $rpid && kill -KILL $rpid
	wait $rpid
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "$kind: exit $rc (want 1) in $ms ms (limit 10000); stderr: $(tr '\n' '~' < "$TMP/$kind.err")" \
		'[ $rc -eq 1 ] && [ $ms -le 10000 ]'
	check "$kind: a cause on stderr ($cause_re)" 'grep -qE "$cause_re" "$TMP/$kind.err"'
	check "$kind: no process died of a signal, no restart burned" \
		'! grep -qE "killed by signal|restart [0-9]+ of|no restarts left|Bus error|Aborted" "$TMP/$kind.err"'
	mine_left "$kind"
}

corrupt truncate 'segment .*truncated under the render'
corrupt truncate0 'segment .*truncated under the render'
corrupt grow 'segment .*resized under the render'
corrupt words 'segment corrupt'
corrupt state 'segment corrupt: life-cycle'
corrupt mutex 'segment corrupt|ring (mutex|lock)'
corrupt sems 'segment corrupt: a semaphore'

finish
