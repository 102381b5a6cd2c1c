#!/usr/bin/env bash
# fb-html end to end (issue 22): the README's two lines, shortened with
# --range / --duration — a hyperframes registry example
# (../shared/compositions/decision-tree, unmodified, hyperframes' runtime
# from html/node_modules) and the plain GSAP page (examples/html/gsap.html:
# GSAP and Inter from their CDN URLs, a playing timeline, a
# performance.now() clock) — with 3 and 2 workers: exit 0, the one "wrote"
# line and nothing else (no warning: the CDN script and fonts were served,
# a worker still opening its page when the others finished is ended
# silently), the frame count ffprobe counts, frames that move (ffmpeg's
# own difference between the first and last frame) and are not blank; the
# GSAP page twice gives byte-identical JPEG frames (a playing timeline and
# a rAF loop, in any frame order), and motion-blur (a blur drawn from the
# previous frame's position) the same bytes with 1 worker and with 3. Then the failure paths through fb-html:
# a SIGTERM mid-render (exit 143, no node, chromium or profile left), and a
# Chrome renderer SIGKILLed mid-render of the project (one restart, every
# frame there).
. "$(dirname "$0")/../lib.sh"

COMP=$(cd "$ROOT/../shared/compositions" 2> /dev/null && pwd) || skip "no ../shared/compositions"
. "$(dirname "$0")/chrome.sh"
chrome_setup gsap @fontsource/inter hyperframes
export TMPDIR=$TMP # the workers' profiles, if any were left, land here

# packets FILE: video packets ffprobe counts.
packets() { ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of csv=p=0 "$1"; }
# moved FILE A B: PSNR (dB) between frames A and B of FILE, as ffmpeg computes it.
psnr_between() {
	ffmpeg -nostdin -v error -i "$1" -filter_complex \
		"[0:v]split[a][b];[a]select=eq(n\,$2),setpts=PTS-STARTPTS[x];[b]select=eq(n\,$3),setpts=PTS-STARTPTS[y];[x][y]psnr=stats_file=-" \
		-f null - 2> /dev/null | sed -n 's/.*psnr_avg:\([0-9.inf]*\).*/\1/p' | head -1
}
# stddev of a frame's luma (0..255): a blank frame has ~0.
luma_sd() {
	ffmpeg -nostdin -v error -i "$1" -vf "select=eq(n\,$2),format=gray" -frames:v 1 -f rawvideo - |
		python3 -c 'import sys,statistics; b=sys.stdin.buffer.read(); print(round(statistics.pstdev(b[::7]),1))'
}

# 1. The project, 30 frames of its 300, 3 workers.
fb-html "$COMP/decision-tree" --workers 3 --range 30:60 -o "$TMP/dt.mp4" > "$TMP/dt.out" 2> "$TMP/dt.err"
rc=$?
check "decision-tree --range 30:60, 3 workers: exit 0, only the wrote line ($(head -c 300 "$TMP/dt.err" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && [ "$(wc -l < "$TMP/dt.err")" -eq 1 ] && grep -q "^fb-render: wrote .*: 30 frames (30..59 of 300), 1920x1080" "$TMP/dt.err"'
check "decision-tree: ffprobe counts 30 frames" '[ "$(packets "$TMP/dt.mp4")" = 30 ]'
p=$(psnr_between "$TMP/dt.mp4" 0 29) sd=$(luma_sd "$TMP/dt.mp4" 15)
check "decision-tree: it moves (first vs last frame PSNR $p dB < 40) and is drawn (luma sd $sd > 5)" \
	'awk -v p="$p" -v s="$sd" "BEGIN { exit !(p != \"\" && p != \"inf\" && p + 0 < 40 && s + 0 > 5) }"'

# 2. The plain GSAP page, twice: the same JPEG bytes.
for run in a b; do
	fb-html "$ROOT/examples/html/gsap.html" --size 640x360 --duration 1 --workers 2 \
		-o "$TMP/g$run.mkv" -- -c:v copy > /dev/null 2> "$TMP/g$run.err"
	echo $? > "$TMP/g$run.rc"
done
check "gsap.html, 1 s at 30 fps, 2 workers, twice: exit 0, only the wrote line (no CDN or font warning: $(head -c 300 "$TMP/ga.err" | tr '\n' '~'))" \
	'[ "$(cat "$TMP/ga.rc")$(cat "$TMP/gb.rc")" = 00 ] && [ "$(cat "$TMP/ga.err" "$TMP/gb.err" | wc -l)" -eq 2 ]'
ffmpeg -nostdin -v error -i "$TMP/ga.mkv" -c copy -f framemd5 - | grep -v '^#' | cut -d, -f6 > "$TMP/ga.md5"
ffmpeg -nostdin -v error -i "$TMP/gb.mkv" -c copy -f framemd5 - | grep -v '^#' | cut -d, -f6 > "$TMP/gb.md5"
check "gsap.html: 30 JPEG frames, byte-identical run after run ($(sort -u "$TMP/ga.md5" | wc -l) distinct)" \
	'[ "$(wc -l < "$TMP/ga.md5")" -eq 30 ] && cmp -s "$TMP/ga.md5" "$TMP/gb.md5" && [ "$(sort -u "$TMP/ga.md5" | wc -l)" -gt 20 ]'

# 2b. A page that draws from what it drew last (motion-blur's blur is the
# motion since the previous seek): 1 worker and 3 give the same bytes
# (each frame is placed after the frame before it: html/clock.js).
for k in 1 3; do
	fb-html "$COMP/motion-blur" --range 0:24 --workers $k -o "$TMP/mb$k.mkv" -- -c:v copy > /dev/null 2>&1
	ffmpeg -nostdin -v error -i "$TMP/mb$k.mkv" -c copy -f framemd5 - | grep -v '^#' | cut -d, -f6 > "$TMP/mb$k.md5"
done
check "motion-blur, 24 frames: 1 worker and 3 give byte-identical JPEGs ($(sort -u "$TMP/mb1.md5" | wc -l) distinct)" \
	'[ "$(wc -l < "$TMP/mb1.md5")" -eq 24 ] && cmp -s "$TMP/mb1.md5" "$TMP/mb3.md5" && [ "$(sort -u "$TMP/mb1.md5" | wc -l)" -gt 12 ]'

# 3. SIGTERM to fb-html (it is fb-render by then: exec) mid-render.
fb-html "$COMP/decision-tree" --workers 2 -o "$TMP/term.mp4" > /dev/null 2> "$TMP/term.err" &
pid=$!
wait_until 120 '[ -s "$TMP/term.mp4" ] && [ "$(own_pids --match chrom | wc -l)" -gt 0 ]'
kill -TERM $pid
wait $pid
rc=$?
left() { own_pids --match 'chrom|worker.mjs' | wc -l; }
wait_until 20 '[ "$(left)" -eq 0 ]'
check "SIGTERM mid-render: exit 143, no node or chromium left, no profile in TMPDIR ($(tail -2 "$TMP/term.err" | tr '\n' '~'))" \
	'[ $rc -eq 143 ] && [ "$(left)" -eq 0 ] && [ -z "$(ls -d "$TMP"/fb-chrome-* "$TMP"/puppeteer* 2> /dev/null)" ]'

# 4. A Chrome renderer SIGKILLed while the project renders: its frame given
# back, the worker restarted once, every frame there.
fb-html "$COMP/decision-tree" --workers 2 --range 0:90 -o "$TMP/kill.mp4" > /dev/null 2> "$TMP/kill.err" &
pid=$!
renderer() { own_procs --match 'type=renderer' | awk 'NR == 1 { print $1 }'; }
wait_until 120 '[ -s "$TMP/kill.mp4" ] && [ -n "$(renderer)" ]'
victim=$(renderer)
[ -n "$victim" ] && kill -KILL "$victim"
wait $pid
rc=$?
check "a renderer (pid ${victim:-none}) SIGKILLed: exit 0, one restart, 90 frames ($(grep -c . "$TMP/kill.err") lines: $(head -c 300 "$TMP/kill.err" | tr '\n' '~'))" \
	'[ -n "$victim" ] && [ $rc -eq 0 ] && grep -q "exit 4 (restart me)" "$TMP/kill.err" && [ "$(packets "$TMP/kill.mp4")" = 90 ]'
# 5. Installed (make install into a prefix of the test's own): the worker,
# its npm packages and the Node binding under PREFIX/lib/framebroker;
# that fb-html renders from there, from another directory; uninstall
# leaves nothing of it.
make -s -C "$ROOT" CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" install PREFIX="$TMP/prefix" > "$TMP/inst.log" 2>&1
(cd / && "$TMP/prefix/bin/fb-html" "$ROOT/examples/html/gsap.html" --duration 0.2 --workers 2 -o "$TMP/inst.mp4") > /dev/null 2> "$TMP/inst.err"
rc=$?
check "installed: fb-html renders from PREFIX/lib/framebroker ($(tail -1 "$TMP/inst.err"))" \
	'[ $rc -eq 0 ] && [ "$(packets "$TMP/inst.mp4")" = 6 ] && grep -q "wrote" "$TMP/inst.err"'
make -s -C "$ROOT" uninstall PREFIX="$TMP/prefix" > /dev/null 2>&1
left=$(cd "$TMP/prefix" && find . -type f | head -3)
check "uninstalled: no file left in the prefix (${left:-none})" '[ -z "$left" ]'
check_clean "fb-html renders"
finish
