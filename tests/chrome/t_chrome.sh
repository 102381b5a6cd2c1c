#!/usr/bin/env bash
# The Chrome worker (html, issue 15): fb-render --source
# 'attach:node html/worker.mjs page.html' with 2 workers, each a
# headless Chromium driven by puppeteer-core, renders the example page as
# JPEG frames; the page draws its frame index as the test card's 32-bit
# band, which tests/decode_band.py (independent of the worker) reads back
# from the encoded video: every frame there, once, in order — with the
# --browser shared (one browser per render, a context per worker) and the
# default --browser own.  In both modes one worker's Chrome renderer process is
# SIGKILLed mid-render: that worker gives its frame back and exits 4,
# fb-render restarts it once (shared: the other worker is untouched), and
# the output is still complete and in order; then the shared browser itself
# is SIGKILLed: both workers give their frames back, restarted once each,
# output complete.  No chromium nor rendezvous directory is left behind
# (after the render, after SIGTERM of fb-render), and under a
# sanitizer build node gets the ASan runtime (LD_PRELOAD, as in t_node.sh)
# while its chromium children do not.  Issue 21, both modes: ffmpeg killed
# while the workers hold frames prints the one cause line only; a page
# that navigates away fails the render naming it; neither leaves a profile
# or rendezvous directory in the test's TMPDIR — the workers clean up
# themselves (FB_TMPDIR unset) — nor does killing every worker (then
# fb-render's FB_TMPDIR does); workers joining and leaving the shared
# browser at once never trip on its lock, and a worker opening its page
# there closes no other worker's; a page's alert is dismissed, and a seek
# that never settles fails the render naming it, at --seek-timeout.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/chrome.sh"
chrome_setup

W=320 H=180 N=48
SRC="attach:node $EX/worker.mjs $EX/page.html"
# The renders' temp dir is the test's own: whatever a worker or its browser
# leaves there is judged (empty_tmp).  SELF: the worker without fb-render's
# FB_TMPDIR (its per-render dir, removed after the last child is reaped):
# what is left then is the worker's own doing.
export TMPDIR=$TMP/tmpdir
mkdir "$TMPDIR"
SELF="attach:env -u FB_TMPDIR node $EX/worker.mjs"
empty_tmp() { [ -z "$(ls -A "$TMPDIR")" ]; }
tmp_left() { ls -A "$TMPDIR" | tr "\n" " "; }

# decoded VIDEO: the frame index of each frame of VIDEO, one a line, as
# ffmpeg decodes it and the band decoder reads it.
decoded() {
	ffmpeg -v error -i "$1" -f rawvideo -pix_fmt gray - | /usr/bin/python3 "$ROOT/tests/helpers/decode_band.py" $W $H
}
seq 0 $((N - 1)) > "$TMP/want"

fb-render --size ${W}x$H --frames $N --workers 2 --frame-format jpeg --source "$SELF $EX/page.html" \
	-o "$TMP/a.mp4" 2> "$TMP/err.a"
rc=$?
decoded "$TMP/a.mp4" > "$TMP/a.idx"
check "2 Chrome workers, jpeg: exit 0, $N frames, each the right one, in order ($(tail -2 "$TMP/err.a" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/a.idx" "$TMP/want"'
check "... and one closing line" '[ "$(wc -l < "$TMP/err.a")" -eq 1 ] && grep -q "^fb-render: wrote " "$TMP/err.a"'
check "... and the workers removed their browser profiles ($(tmp_left))" empty_tmp

# --browser shared: the two workers share one browser, a context each.
fb-render --name /$TID-sh --size ${W}x$H --frames $N --workers 2 --frame-format jpeg \
	--source "$SELF --browser shared $EX/page.html" -o "$TMP/s.mp4" 2> "$TMP/err.s"
rc=$?
decoded "$TMP/s.mp4" > "$TMP/s.idx"
check "--browser shared, 2 workers: exit 0, $N frames in order ($(tail -2 "$TMP/err.s" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/s.idx" "$TMP/want"'
check "... its rendezvous directory removed by the last worker out ($(tmp_left))" empty_tmp

# Workers joining and leaving one rendezvous directory at once (4 node
# processes, 300 rounds each): no error, nothing left.  The last one out
# removed the directory after releasing the lock, and a lock released
# between a waiter's EEXIST and its read of the owner was an ENOENT error:
# a worker leaving the shared browser failed with ENOENT and left it all.
cat > "$TMP/lock.mjs" << 'EOF'
import fs from 'node:fs';
const { withLock, leaveShared } = await import(process.argv[2]);
for (let i = 0; i < 300; i++) {
	await withLock(process.argv[3], async () => fs.writeFileSync(`${process.argv[3]}/w.${process.pid}`, ''), { create: true });
	await leaveShared(process.argv[3]);
}
EOF
lpids=
for i in 1 2 3 4; do
	node "$TMP/lock.mjs" "$EX/chrome.mjs" "$TMPDIR/rdv" 2> "$TMP/err.lock.$i" &
	lpids="$lpids $!"
done
lrc=0
for pid in $lpids; do wait $pid || lrc=1; done
check "--browser shared: 4 workers joining and leaving at once: no error, nothing left ($(cat "$TMP"/err.lock.* | grep -m1 Error))" \
	'[ $lrc -eq 0 ] && empty_tmp'

# Two workers of one shared browser open their pages as worker.mjs does
# (chrome.mjs openPage), both connected first: A's page, then B's.  B
# closed the pages puppeteer listed in its default context — A's among
# them (a context created after B connected is counted there) — and A's
# next capture failed "Target closed" (1 render in 3-4 with 6 workers).
# A's page must survive B's open; the browser's initial about:blank is
# closed all the same.
cat > "$TMP/ctx.mjs" << 'EOF'
const { joinBrowser, leaveBrowser, openPage } = await import(process.argv[2]);
const A = await joinBrowser(), B = await joinBrowser();
const a = await openPage(A, { shared: true });
const b = await openPage(B, { shared: true });
const say = [];
for (const [n, p] of [['A', a.page], ['B', b.page]]) {
	try { await p.screenshot(); } catch (e) { say.push(`${n}'s capture: ${e.message}`); }
}
const s = await A.target().createCDPSession();
const { defaultBrowserContextId: def } = await s.send('Target.getBrowserContexts');
const stray = (await s.send('Target.getTargets')).targetInfos.filter((t) => t.type === 'page' && t.browserContextId === def);
if (stray.length) say.push(`${stray.length} page(s) left in the default context`);
await s.detach();
await leaveBrowser(A);
await leaveBrowser(B);
console.log(say.join('; ') || 'ok');
process.exit(0);
EOF
FB_SEGMENT=/$TID-ctx timeout 120 node "$TMP/ctx.mjs" "$EX/chrome.mjs" > "$TMP/out.ctx" 2>&1
check "--browser shared: a worker opening its page closes no other worker's ($(head -c 300 "$TMP/out.ctx" | tr '\n' '~'))" \
	'[ "$(cat "$TMP/out.ctx")" = ok ] && empty_tmp'

# PNG frames: lossless, so the band is exact too.
fb-render --size ${W}x$H --frames 12 --workers 2 --frame-format png --source "$SRC" \
	-o "$TMP/p.mkv" -- -c:v ffv1 2> "$TMP/err.p"
rc=$?
check "--frame-format png: exit 0, frames 0..11 in order ($(tail -2 "$TMP/err.p" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && [ "$(decoded "$TMP/p.mkv" | tr "\n" " ")" = "$(seq 0 11 | tr "\n" " ")" ]'

# A raw render is refused by the worker, with the reason, not hung.
timeout 120 fb-render --size ${W}x$H --frames 4 --workers 1 --source "$SRC" --sink raw \
	-o "$TMP/r.raw" 2> "$TMP/err.r"
rc=$?
check "--frame-format raw: the worker fails the render, saying why, once ($(tail -2 "$TMP/err.r" | tr '\n' '~'))" \
	'[ $rc -ne 0 ] && [ "$(wc -l < "$TMP/err.r")" -eq 1 ] && grep -q "use --frame-format jpeg or png" "$TMP/err.r"'

# One Chrome renderer SIGKILLed once output flows: a slow encoder
# (--sink-jitter-ms, into ffv1: no encoder lookahead hiding how far the
# workers are) keeps frames left.  fb-stat's "emitted" (frames the encoder
# has taken) says how far the render is.  The victim is a --type=renderer
# child of one of our workers' browsers, the busiest of them (a page's
# renderer draws and encodes every frame; an idle one would not be missed).
# A page that takes 1.5 s a frame (its workers hold frames most of the
# time); one that leaves for another document at frame 5.
cat > "$TMP/slow.html" << 'EOF'
<!DOCTYPE html><body><script>
window.fbSeek = (f) => new Promise((r) => setTimeout(() => { document.body.textContent = f; r(); }, 1500));
</script></body>
EOF
cat > "$TMP/nav.html" << 'EOF'
<!DOCTYPE html><body><script>
window.fbSeek = (f) => { document.body.textContent = f; if (f === 5) location.href = 'away.html'; };
</script></body>
EOF
echo '<p>away</p>' > "$TMP/away.html"
# A page that alerts at frame 5 (its script blocked until the dialog is
# answered); one whose fbSeek never settles at frame 5.
cat > "$TMP/alert.html" << 'EOF'
<!DOCTYPE html><body><script>
window.fbSeek = (f) => { if (f === 5) alert('hello'); document.body.textContent = f; };
</script></body>
EOF
cat > "$TMP/hang.html" << 'EOF'
<!DOCTYPE html><body><script>
window.fbSeek = (f) => f === 5 ? new Promise(() => {}) : undefined;
</script></body>
EOF

for mode in own shared; do
	NK=60
	seq 0 $((NK - 1)) > "$TMP/want.k"
	fb-render --name /$TID-kill-$mode --size ${W}x$H --frames $NK --workers 2 --frame-format jpeg --slots 4 \
		--sink-jitter-ms 150 --progress "$TMP/prog.$mode" --source "$SELF --browser $mode $EX/page.html" -o "$TMP/k.$mode.mkv" -- -c:v ffv1 2> "$TMP/err.k.$mode" &
	rpid=$!
	emitted() { fb-stat /$TID-kill-$mode --json 2> /dev/null | grep -o '"emitted":[0-9]*' | cut -d: -f2; }
	busiest() {
		for pid in "$@"; do
			awk -v p=$pid '{ sub(/.*\) /, ""); split($0, f, " "); print f[12] + f[13], p }' /proc/$pid/stat 2> /dev/null
		done | sort -n | tail -n 1 | cut -d' ' -f2
	}
	# renderers_of PID: the chromium renderers descending from PID, by one ps
	# (a procs.py scan can take seconds on a loaded machine: too late).
	renderers_of() {
		ps -e -o pid=,ppid=,args= | awk -v root="$1" '
			{ pp[$1] = $2; if ($0 ~ /chromium.* --type=renderer/) r[$1] = 1 }
			END { for (p in r) { q = p; while ((q in pp) && q != root && q > 1) q = pp[q]; if (q == root) print p } }'
	}
	rends= victim= out=
	past8() { out=$(emitted); [ "${out:-0}" -ge 8 ]; }
	if wait_until 60 past8; then
		rends=$(renderers_of $rpid)
		victim=$(busiest $rends)
		[ -n "$victim" ] && kill -KILL "$victim"
	fi
	wait $rpid
	rc=$?
	decoded "$TMP/k.$mode.mkv" > "$TMP/k.$mode.idx"
	check "--browser $mode: a Chrome renderer SIGKILLed after frame ${out:-?} of $NK (pid ${victim:-none} of $(echo $rends)): exit 0, every frame in order ($(tail -1 "$TMP/err.k.$mode"))" \
		'[ -n "$victim" ] && [ $rc -eq 0 ] && cmp -s "$TMP/k.$mode.idx" "$TMP/want.k"'
	check "... one worker gave its frame back and exited 4, restarted once ($(grep -v '^fb-render: wrote' "$TMP/err.k.$mode" | tr '\n' '~'))" \
		'grep -q "exited with status 4; starting a replacement (restart 1 of 10)" "$TMP/err.k.$mode" &&
		 ! grep -q "restart 2 of" "$TMP/err.k.$mode" && grep -q "crashed.*given back" "$TMP/err.k.$mode"'
	if [ $mode = shared ]; then
		check "... the other worker kept its page: one crash only, and the browser left no directory" \
			'[ "$(grep -c "crashed.*given back" "$TMP/err.k.$mode")" -eq 1 ] && [ ! -e "${TMPDIR:-/tmp}/fb-chrome-$(id -u)-_$TID-kill-$mode" ]'
	fi
	check "... --progress agrees: restarts=1, every frame out" \
		/usr/bin/python3 "$ROOT/tests/helpers/progress.py" "$TMP/prog.$mode" 'last["progress"] == "end"' \
		'last["restarts"] == "1"' "last['frame'] == '$NK'"

	# A worker SIGTERMed closes its browser: no chromium of ours is left.
	fb-render --name /$TID-term-$mode --size ${W}x$H --frames 400 --workers $([ $mode = shared ] && echo 2 || echo 1) --frame-format jpeg \
		--sink-jitter-ms 40 --progress "$TMP/prog2.$mode" --source "$SELF --browser $mode $EX/page.html" -o "$TMP/t.mp4" 2> "$TMP/err.t.$mode" &
	rpid=$!
	past4() { out=$(grep '^frame=' "$TMP/prog2.$mode" 2> /dev/null | tail -n 1 | cut -d= -f2); [ "${out:-0}" -ge 4 ]; }
	wait_until 30 past4
	# Meanwhile: which of our processes carry LD_PRELOAD: node only (under a
	# sanitizer), never chromium.
	sanenv=
	chromes=$(own_pids --match 'chromium')
	for pid in $chromes; do
		tr '\0' '\n' < /proc/$pid/environ 2> /dev/null | grep -q '^LD_PRELOAD=' && sanenv="$sanenv $pid"
	done
	nodepre=$(for pid in $(own_pids --match '^\S*node \S*worker\.mjs'); do
		tr '\0' '\n' < /proc/$pid/environ 2> /dev/null | grep -c '^LD_PRELOAD=.*asan'
	done | sort -u)
	check "--browser $mode: chromium never got LD_PRELOAD ($(echo $chromes | wc -w) chromium processes; ${sanenv:-none did})" \
		'[ -n "$chromes" ] && [ -z "$sanenv" ]'
	if [ -n "${FB_SAN:-}" ]; then
		check "... while node ran with the sanitizer runtime preloaded" '[ "$nodepre" = 1 ]'
	fi
	kill -TERM $rpid
	wait $rpid
	left=
	no_chromium() { left=$(own_procs --match 'chromium'); [ -z "$left" ]; }
	wait_until 5 no_chromium
	check "--browser $mode: fb-render SIGTERMed mid-render: no chromium of ours left ($(echo $left | cut -c1-200))" '[ -z "$left" ]'
	check "... nor any profile or rendezvous directory ($(tmp_left))" empty_tmp

	# ffmpeg SIGKILLed while both workers hold frames (a page that takes
	# 1.5 s a frame): the one cause line and nothing else — the workers
	# learn of the abort and stay silent (no ECANCELED, no stack) — and
	# nothing left.
	fb-render --name /$TID-ab-$mode --size ${W}x$H --frames 40 --workers 2 --frame-format jpeg \
		--source "$SELF --browser $mode $TMP/slow.html" -o "$TMP/ab.mp4" 2> "$TMP/err.ab.$mode" &
	rpid=$!
	ff=
	both_held() {
		[ "$(fb-stat /$TID-ab-$mode --json 2> /dev/null | grep -o '"state":"CLAIMED"' | wc -l)" -eq 2 ] &&
			ff=$(own_pids --match '^\S*ffmpeg .*ab\.mp4') && [ -n "$ff" ]
	}
	wait_until 60 both_held && kill -KILL $ff
	wait $rpid
	rc=$?
	left=$(own_procs --match 'chromium')
	check "--browser $mode: ffmpeg (${ff:-not found}) SIGKILLed while both workers held frames: exit 1, one line, the cause ($(head -c 800 "$TMP/err.ab.$mode" | tr '\n' '~'))" \
		'[ -n "$ff" ] && [ $rc -eq 1 ] && [ "$(wc -l < "$TMP/err.ab.$mode")" -eq 1 ] && grep -q "ffmpeg killed by signal 9" "$TMP/err.ab.$mode"'
	check "... no chromium, profile or rendezvous directory left ($(echo $left | cut -c1-200); $(tmp_left))" '[ -z "$left" ] && empty_tmp'

	# Every worker SIGKILLed (no restart allowed): nothing of theirs can
	# clean up but fb-render, which removes FB_TMPDIR after its last child.
	fb-render --name /$TID-sk-$mode --size ${W}x$H --frames 400 --workers 2 --frame-format jpeg --max-restarts 0 \
		--sink-jitter-ms 40 --source "attach:node $EX/worker.mjs --browser $mode $EX/page.html" -o "$TMP/sk.mp4" 2> "$TMP/err.sk.$mode" &
	rpid=$!
	victims=
	both_at_work() {
		out=$(fb-stat /$TID-sk-$mode --json 2> /dev/null | grep -o '"emitted":[0-9]*' | cut -d: -f2)
		victims=$(own_pids --match '^\S*node \S*worker\.mjs')
		[ "${out:-0}" -ge 4 ] && [ "$(echo $victims | wc -w)" -eq 2 ]
	}
	wait_until 60 both_at_work && kill -KILL $victims
	wait $rpid
	rc=$?
	left=$(own_procs --match 'chromium')
	check "--browser $mode: every worker ($(echo $victims)) SIGKILLed: the render fails (fb-render removes FB_TMPDIR), no chromium, profile or rendezvous directory left ($(echo $left | cut -c1-200); $(tmp_left))" \
		'[ -n "$victims" ] && [ $rc -ne 0 ] && [ -z "$left" ] && empty_tmp'
	rm -rf "${TMPDIR:?}"/* # judged: the next check starts clean

	# A page that navigates away mid-render: its frames would be another
	# page's.  The render fails naming it, in one line.
	fb-render --size ${W}x$H --frames 40 --workers 2 --frame-format jpeg \
		--source "$SELF --browser $mode $TMP/nav.html" -o "$TMP/nav.mp4" 2> "$TMP/err.nav.$mode"
	rc=$?
	check "--browser $mode: a page navigating away: exit 1, one line naming it ($(head -c 600 "$TMP/err.nav.$mode" | tr '\n' '~'))" \
		'[ $rc -eq 1 ] && [ "$(wc -l < "$TMP/err.nav.$mode")" -eq 1 ] && grep -q "navigated away to https://fb-html.invalid/away.html" "$TMP/err.nav.$mode"'
	check "... nothing left ($(tmp_left))" empty_tmp
	if [ $mode = own ]; then
		# To a URL that does not load: named, not Chrome's error page.
		sed 's|away\.html|http://127.0.0.1:1/nothing|' "$TMP/nav.html" > "$TMP/navx.html"
		fb-render --size ${W}x$H --frames 40 --workers 2 --frame-format jpeg \
			--source "$SELF $TMP/navx.html" -o "$TMP/nav.mp4" 2> "$TMP/err.navx"
		rc=$?
		check "... to a URL that does not load: exit 1, one line naming that URL ($(head -c 600 "$TMP/err.navx" | tr '\n' '~'))" \
			'[ $rc -eq 1 ] && [ "$(wc -l < "$TMP/err.navx")" -eq 1 ] &&
			 grep -q "navigated away to http://127.0.0.1:1/nothing (which did not load)" "$TMP/err.navx"'
	fi

	# An alert is dismissed, said once, and the render goes on (it held
	# the frame until --frame-timeout: bounded here, no restart).
	fb-render --size ${W}x$H --frames 12 --workers 2 --frame-format jpeg --frame-timeout 20 --max-restarts 0 \
		--source "$SELF --browser $mode $TMP/alert.html" -o "$TMP/al.mp4" 2> "$TMP/err.al.$mode"
	rc=$?
	check "--browser $mode: a page's alert is dismissed, said once, the render completes ($(head -c 600 "$TMP/err.al.$mode" | tr '\n' '~'))" \
		'[ $rc -eq 0 ] && [ "$(wc -l < "$TMP/err.al.$mode")" -eq 2 ] &&
		 grep -q "opened a dialog (alert \"hello\") at frame 5; dismissed" "$TMP/err.al.$mode" && grep -q "^fb-render: wrote " "$TMP/err.al.$mode"'

	# A seek that never settles fails the render at --seek-timeout, in one
	# line naming it — not at fb-render's --frame-timeout (30 s here, no
	# restart; the default 60 s and 10 restarts took 11 minutes), unnamed.
	start=$SECONDS
	timeout 120 fb-render --size ${W}x$H --frames 12 --workers 2 --frame-format jpeg --frame-timeout 30 --max-restarts 0 \
		--source "$SELF --browser $mode --seek-timeout 2 $TMP/hang.html" -o "$TMP/hg.mp4" 2> "$TMP/err.hg.$mode"
	rc=$? took=$((SECONDS - start))
	check "--browser $mode: a seek that never settles: exit 1 in ${took} s (< 30), one line naming it ($(head -c 600 "$TMP/err.hg.$mode" | tr '\n' '~'))" \
		'[ $rc -eq 1 ] && [ $took -lt 30 ] && [ "$(wc -l < "$TMP/err.hg.$mode")" -eq 1 ] &&
		 grep -q "frame 5: window.fbSeek(5, 30) did not finish within --seek-timeout 2 s: the page hangs" "$TMP/err.hg.$mode"'
	check "... nothing left ($(tmp_left))" empty_tmp
done

# The shared browser itself SIGKILLed once output flows: both workers give
# their frames back and exit 4; the first replacement relaunches it.
fb-render --name /$TID-bk --size ${W}x$H --frames $NK --workers 2 --frame-format jpeg --slots 4 \
	--sink-jitter-ms 150 --source "$SELF --browser shared $EX/page.html" \
	-o "$TMP/b.mkv" -- -c:v ffv1 2> "$TMP/err.b" &
rpid=$!
# browser_of PID: the shared browser (no --type=, listening on a port)
# descending from PID.
browser_of() {
	ps -e -o pid=,ppid=,args= | awk -v root="$1" '
		{ pp[$1] = $2; if ($0 ~ /chromium.* --remote-debugging-port=0/ && $0 !~ / --type=/) r[$1] = 1 }
		END { for (p in r) { q = p; while ((q in pp) && q != root && q > 1) q = pp[q]; if (q == root) print p } }'
}
bvictim= out=
past8() { out=$(fb-stat /$TID-bk --json 2> /dev/null | grep -o '"emitted":[0-9]*' | cut -d: -f2); [ "${out:-0}" -ge 8 ]; }
if wait_until 60 past8; then
	bvictim=$(browser_of $rpid | head -n 1)
	[ -n "$bvictim" ] && kill -KILL "$bvictim"
fi
wait $rpid
rc=$?
decoded "$TMP/b.mkv" > "$TMP/b.idx"
check "--browser shared: the browser SIGKILLed after frame ${out:-?} (pid ${bvictim:-none}): exit 0, every frame in order ($(grep -v '^fb-render: wrote' "$TMP/err.b" | tr '\n' '~' | cut -c1-600))" \
	'[ -n "$bvictim" ] && [ $rc -eq 0 ] && cmp -s "$TMP/b.idx" "$TMP/want.k"'
check "... both workers gave their frames back and were restarted, once each" \
	'[ "$(grep -c "went away; frame [0-9]* given back" "$TMP/err.b")" -eq 2 ] && grep -q "restart 2 of 10" "$TMP/err.b" && ! grep -q "restart 3 of" "$TMP/err.b"'

check_clean "chrome"
left=$(own_procs --match 'chromium|worker\.mjs')
check "no chromium or worker of ours at all ($(echo $left | cut -c1-200))" '[ -z "$left" ]'
finish
