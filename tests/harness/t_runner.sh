#!/usr/bin/env bash
# tests/run.sh's own promises: it names every failing test (and its "not ok"
# lines) before the closing line, reports a hung script by name, kills what a
# script left running, and keeps the plain closing line
# "tests: N passed, N failed", with the skipped scripts and why on the
# lines before it.  Run on five tiny scripts (TESTS=...).
. "$(dirname "$0")/../lib.sh"

for n in pass fail hang leave skip lie fakeskip; do
	{
		echo '#!/usr/bin/env bash'
		echo '. "$ROOT/tests/lib.sh"'
	} > "$TMP/t_$n.sh"
	chmod +x "$TMP/t_$n.sh"
done
echo 'check "fine" true; finish' >> "$TMP/t_pass.sh"
echo 'check "fine" true; check "the broken one" false; finish' >> "$TMP/t_fail.sh"
echo 'check "fine" true; sleep 600; finish' >> "$TMP/t_hang.sh"
# leaves a process of its own behind, out of its cleanup's sight (untagged
# for it, but still of the run) — run.sh must kill it
echo '(env -u FB_TEST_TAG setsid sleep 600 &); check "fine" true; finish' >> "$TMP/t_leave.sh"
echo 'skip "nothing to run on here"; check "never reached" false; finish' >> "$TMP/t_skip.sh"
# a failure it then hides: a closing line of its own saying 0 failed, or a
# skip's status after a failed check
echo 'check "fine" true; check "hidden" false; echo "# lie: 2 passed, 0 failed"; exit 0' >> "$TMP/t_lie.sh"
echo 'check "hidden too" false; echo "# SKIP t_fakeskip.sh: not really"; exit 77' >> "$TMP/t_fakeskip.sh"
export ROOT
start=$(date +%s)
TESTS="$TMP/t_pass.sh $TMP/t_fail.sh $TMP/t_hang.sh $TMP/t_leave.sh $TMP/t_skip.sh $TMP/t_lie.sh $TMP/t_fakeskip.sh" TEST_TIMEOUT=3 \
	"$ROOT/tests/run.sh" > "$TMP/out" 2>&1
rc=$?
took=$(($(date +%s) - start))
sed 's/^/# /' "$TMP/out" | grep -E 'failing|!!|^#   |^# tests:|not ok|skip'
check "run.sh exits non-zero" '[ $rc -ne 0 ]'
# Stopped by the limit, not by its own end: far less than its sleep 600
# (how much less depends on the machine's load: four scripts' start-up and
# cleanup took 34 s beside two suites and a busy loop per core).
check "the hung script is stopped by the time limit (${took} s, its sleep 600 s)" '[ $took -lt 300 ]'
check "the hung script is named" 'grep -q "^!! $TMP/t_hang.sh hung" "$TMP/out"'
list=$(sed -n '/^== failing tests/,/^== skipped tests/p' "$TMP/out")
check "the failing list names t_fail.sh and its not ok line" \
	'grep -qx "$TMP/t_fail.sh" <<< "$list" && grep -qx "    not ok - the broken one" <<< "$list"'
check "the failing list names t_hang.sh as hung" 'grep -q "^$TMP/t_hang.sh (hung" <<< "$list"'
check "the failing list names t_leave.sh (left a process)" 'grep -q "^$TMP/t_leave.sh (left processes running)" <<< "$list"'
check "the failing list names t_lie.sh (a not ok under a closing line of 0 failed)" \
	'grep -q "^$TMP/t_lie.sh" <<< "$list" && grep -qx "    not ok - hidden" <<< "$list"'
check "the failing list names t_fakeskip.sh (a not ok, then exit 77)" \
	'grep -q "^$TMP/t_fakeskip.sh" <<< "$list" && grep -qx "    not ok - hidden too" <<< "$list"'
check "the failing list does not name t_pass.sh" '! grep -q "t_pass.sh" <<< "$list"'
check "the failing list does not name the skipped t_skip.sh" '! grep -q "t_skip.sh" <<< "$list"'
check "the skipped list names t_skip.sh and why, the line before the closing line says 1" \
	'grep -qx "$TMP/t_skip.sh: nothing to run on here" <(sed -n "/^== skipped tests/,\$p" "$TMP/out") &&
	 tail -2 "$TMP/out" | head -1 | grep -q "^skipped: 1,"'
check "the last line is the honest closing line" \
	'[ "$(tail -1 "$TMP/out")" = "tests: 5 passed, 5 failed" ]'
check "the left-behind sleep was killed" '[ -z "$(own_procs --match "^sleep 600$")" ]'
check_clean "t_runner"
finish
