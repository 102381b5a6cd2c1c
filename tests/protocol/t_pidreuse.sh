#!/usr/bin/env bash
# Pid reuse (regression for a review finding): a producer dies and its
# replacement is given the very same pid.  Identities are (pid, start time)
# everywhere, so the dead one's registration and claims are dropped while
# the replacement's stay; fb-render applies the death to one child only, so
# one death costs one restart.  Runs in a private pid namespace, where
# /proc/sys/kernel/ns_last_pid makes the next pid predictable.
. "$(dirname "$0")/../lib.sh"

unshare --pid --fork --mount-proc true 2> /dev/null || skip "cannot create a pid namespace here"
F=$(frame_bytes rgb24 160 120)
gen_bytes $((F * 100)) pidreuse > "$TMP/src.raw"
export BIN TMP TID
export -f wait_until rendering # for the shell in the namespace
unshare --pid --fork --mount-proc bash -c '
	"$BIN/fb-render" --size 160x120 --pix-fmt rgb24 --source raw:"$TMP/src.raw" --sink raw \
		--frames 100 --workers 2 --slots 4 --delay-ms 20 --max-restarts 1 \
		-o "$TMP/out.raw" --name /$TID-reuse 2> "$TMP/err" &
	rp=$!
	mkfifo "$TMP/fifo"
	exec 9<> "$TMP/fifo"
	wait_until 10 rendering /$TID-reuse
	victim=$(pgrep -f "fb-producer --name /$TID-reuse" | head -1)
	echo "$victim" > "$TMP/victim"
	# From here until fb-render forks the replacement, this shell must not
	# fork: kill and read are builtins, and read -t on an empty fifo is a
	# sleep without a child (a fixed time: polling would fork, and the
	# fork could take the very pid).
	echo $((victim - 1)) > /proc/sys/kernel/ns_last_pid
	kill -KILL "$victim"
	read -r -t 0.3 -u 9 _
	pgrep -f "fb-producer --name /$TID-reuse" > "$TMP/after"
	wait $rp
	echo $? > "$TMP/rc"
'
victim=$(cat "$TMP/victim")
rc=$(cat "$TMP/rc")
check "replacement reused pid $victim ($(tr '\n' '~' < "$TMP/err"))" \
	'grep -qx "$victim" "$TMP/after" && grep -q "fb-producer (pid $victim) killed by signal 9 (Killed); starting a replacement (restart 1 of 1)" "$TMP/err"'
check "one death, one restart: exit $rc, no 'no restarts left'" \
	'[ "$rc" -eq 0 ] && ! grep -q "no restarts left" "$TMP/err"'
check "output byte-identical" cmp -s "$TMP/out.raw" "$TMP/src.raw"
check_clean "pid reuse"
finish
