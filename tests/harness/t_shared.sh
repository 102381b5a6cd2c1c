#!/usr/bin/env bash
# The machine is shared: a test judges and cleans up only its own processes
# and segments.  Decoys that look like framebroker's — a default-named
# segment, another run's unit-test, stress and fuzz segments, a segment of a
# test whose TID extends ours, a live fb-producer and ffmpeg that are not
# ours, a zombie fb-encoder whose parent never reaps — must neither fail a
# real test's check_clean nor be touched by its cleanup.  And check_clean
# still sees a test's OWN leftovers (a process, a segment, a zombie).
. "$(dirname "$0")/../lib.sh"

D=$TMP/decoy
mkdir "$D"
cp "$(type -P sleep)" "$D/fb-producer"
cp "$(type -P sleep)" "$D/ffmpeg"
cp "$(type -P true)" "$D/fb-encoder"
IN=${TID}in # the inner tests' TID; "${IN}0-x" extends it, as fbt12 vs fbt123
# (names no real render takes: a real default-named render, maybe in another
# pid namespace sharing /dev/shm, could rightly replace an "abandoned" one)
segs=(fb-render-$$-decoy fb-render-1-decoy$$ fbunit-$$-0 fbstress-$$-0 fbfuzz-$$ "${IN}0-x")
for s in "${segs[@]}"; do echo decoy > "/dev/shm/$s"; done
# Foreign processes: not of the inner tests' tree, without any test's tag.
untag=(env -u FB_TEST_TAG -u FB_TEST_RUN)
"${untag[@]}" setsid bash -c 'exec -a "$0/fb-producer --name /fb-render-1" "$1/fb-producer" 60' "$BIN" "$D" &
p_prod=$!
"${untag[@]}" setsid bash -c 'exec -a ffmpeg "$0/ffmpeg" 60' "$D" &
p_ff=$!
# A parent that never reaps its child fb-encoder: a zombie fb-encoder.
"${untag[@]}" python3 -c '
import os, sys, time
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], ["fb-encoder"])
print(pid, flush=True)
time.sleep(60)
' "$D/fb-encoder" > "$TMP/zpid" &
p_zpar=$!
zombie() { [ -s "$TMP/zpid" ] && [ "$(awk '{print $3}' "/proc/$(cat "$TMP/zpid")/stat" 2> /dev/null)" = Z ]; }
wait_until 10 zombie
check "decoys planted: live fb-producer, ffmpeg, zombie fb-encoder" \
	'kill -0 $p_prod && kill -0 $p_ff && zombie && [ "$(cat /proc/$p_prod/comm)" = fb-producer ]'

decoys_intact() {
	local s
	for s in "${segs[@]}"; do [ -e "/dev/shm/$s" ] || { echo "gone: /dev/shm/$s"; return 1; }; done
	kill -0 $p_prod && kill -0 $p_ff && zombie
}

# 1. A small real render with a default name, judged by check_clean.
cat > "$TMP/t_mini.sh" << 'MINI'
#!/usr/bin/env bash
. "$ROOT/tests/lib.sh"
fb-render --size 64x48 --frames 10 --workers 2 --sink raw -o "$TMP/o.raw" 2> "$TMP/err"
check "a default-named render: exit 0" '[ $? -eq 0 ] && [ -s "$TMP/o.raw" ]'
check_clean "mini"
finish
MINI
chmod +x "$TMP/t_mini.sh"
export ROOT
FB_TEST_TID=${IN}1 "$TMP/t_mini.sh" > "$TMP/mini.out" 2>&1
rc=$?
check "a real test among decoys passes ($(tail -1 "$TMP/mini.out"))" \
	'[ $rc -eq 0 ] && grep -q "^ok - mini: no segment" "$TMP/mini.out"'
check "every decoy survives it ($(decoys_intact 2>&1))" decoys_intact

# 2. The same for an existing test of the suite.
FB_TEST_TID=${IN}2 "$ROOT/tests/protocol/t_raw_identity.sh" > "$TMP/raw.out" 2>&1
rc=$?
check "t_raw_identity.sh among decoys passes ($(tail -1 "$TMP/raw.out"))" '[ $rc -eq 0 ]'
check "every decoy survives it ($(decoys_intact 2>&1))" decoys_intact

# 3. check_clean can still fail: a test that leaves its own fb-broker
# (setsid: not its child any more), segment and zombie fb-encoder behind.
cat > "$TMP/t_leak.sh" << 'LEAK'
#!/usr/bin/env bash
. "$ROOT/tests/lib.sh"
setsid bash -c 'exec -a fb-broker sleep 60' &
echo x > /dev/shm/$TID-left
python3 -c '
import os, sys, time
if os.fork() == 0:
    os.execv(sys.argv[1], ["fb-encoder"])
time.sleep(60)
' "$1" &
planted() { local p; p=$(own_procs --fb); [[ $p == *" Z fb-encoder"* && $p == *"fb-broker 60"* ]]; }
wait_until 10 planted
check_clean "leak"
finish
LEAK
chmod +x "$TMP/t_leak.sh"
FB_TEST_TID=${IN}3 "$TMP/t_leak.sh" "$D/fb-encoder" > "$TMP/leak.out" 2>&1
rc=$?
check "check_clean fails a test's own leftovers: $(grep -m1 '^not ok' "$TMP/leak.out")" \
	'[ $rc -ne 0 ] && grep -q "^not ok - leak: left behind: ${IN}3-left" "$TMP/leak.out" &&
	 grep "^not ok - leak" "$TMP/leak.out" | grep -q "sleep fb-broker 60" &&
	 grep "^not ok - leak" "$TMP/leak.out" | grep -q " Z fb-encoder"'
removed() { [ ! -e /dev/shm/${IN}3-left ] && [ -z "$(own_procs --match "^(fb-broker|sleep) 60$")" ] && decoys_intact; }
wait_until 5 removed
check "...and its cleanup removed them (only them)" removed

# The decoys are ours: gone now.
kill -KILL $p_prod $p_ff $p_zpar 2> /dev/null
wait 2> /dev/null
for s in "${segs[@]}"; do rm -f "/dev/shm/$s"; done
check_clean "t_shared"
finish
