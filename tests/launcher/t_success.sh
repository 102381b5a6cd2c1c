#!/usr/bin/env bash
# Saying what happened: on success fb-render prints exactly one line on
# stderr, terminal or not — output, frames, size, wall time, fps —, none on
# failure and none below --log-level info; on a terminal the final status
# line appears once (it used to be drawn again for every child that
# exited); `make demo` ends with that line.
. "$(dirname "$0")/../lib.sh"

# The size as the line must print it, computed here from the file's size:
# powers of 1000, one decimal (two for GB), "N bytes" below 1000.
human() {
	python3 -c '
import sys
n = int(sys.argv[1])
if n < 1000: print("%d bytes" % n)
elif n < 10**6: print("%.1f kB" % (n / 1e3))
elif n < 10**9: print("%.1f MB" % (n / 1e6))
else: print("%.2f GB" % (n / 1e9))' "$1"
}
# wrote_re WHAT FRAMES-TEXT WxH [SIZE]: the whole line, as an ERE.
wrote_re() {
	local size=${4:+, $4}
	printf '^fb-render: wrote %s: %s, %s%s in [0-9]+(\\.[0-9]+)? s \\([0-9]+(\\.[0-9])? fps\\)$' \
		"$1" "$2" "$3" "$size"
}

# ---- off a terminal: raw sink, ffmpeg sink, a chunk, stdout
fb-render --size 64x48 --frames 30 --workers 2 --sink raw -o "$TMP/a.raw" 2> "$TMP/err"
rc=$?
re=$(wrote_re "$TMP/a.raw" "30 frames" 64x48 "$(human $((30 * 64 * 48 * 4)))")
check "raw render: exit 0, stderr is exactly the one line ($(cat "$TMP/err"))" \
	'[ $rc -eq 0 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qE "$re" "$TMP/err"'

fb-render --size 160x120 --frames 40 --workers 2 -o "$TMP/b.mp4" 2> "$TMP/err"
rc=$?
nb=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$TMP/b.mp4")
re=$(wrote_re "$TMP/b.mp4" "40 frames" 160x120 "$(human "$(stat -c %s "$TMP/b.mp4")")")
check "mp4 render ($nb frames by ffprobe): the line names the file, its size, 160x120 ($(cat "$TMP/err"))" \
	'[ $rc -eq 0 ] && [ "$nb" = 40 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qE "$re" "$TMP/err"'

fb-render --size 64x48 --frames 60 --range 10:30 --workers 2 --sink raw -o "$TMP/c.raw" 2> "$TMP/err"
rc=$?
re=$(wrote_re "$TMP/c.raw" "20 frames \\(10\\.\\.29 of 60\\)" 64x48 "$(human $((20 * 64 * 48 * 4)))")
check "a --range chunk says which frames ($(cat "$TMP/err"))" \
	'[ $rc -eq 0 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qE "$re" "$TMP/err"'

fb-render --size 64x48 --frames 10 --workers 2 --sink raw -o - > "$TMP/d.raw" 2> "$TMP/err"
rc=$?
re=$(wrote_re stdout "10 frames" 64x48 "$(human $((10 * 64 * 48 * 4)))")
check "-o - into a file: 'wrote stdout', with its size ($(cat "$TMP/err"))" \
	'[ $rc -eq 0 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qE "$re" "$TMP/err"'
fb-render --size 64x48 --frames 10 --workers 2 --sink raw -o - 2> "$TMP/err" | cat > "$TMP/e.raw"
rc=${PIPESTATUS[0]}
re=$(wrote_re stdout "10 frames" 64x48)
check "-o - into a pipe: 'wrote stdout', no size ($(cat "$TMP/err"))" \
	'[ $rc -eq 0 ] && [ "$(stat -c %s "$TMP/e.raw")" -eq $((10 * 64 * 48 * 4)) ] &&
	 [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qE "$re" "$TMP/err"'

for lvl in warning error quiet; do
	fb-render --log-level $lvl --size 64x48 --frames 10 --workers 2 --sink raw -o "$TMP/f.raw" 2> "$TMP/err"
	rc=$?
	check "--log-level $lvl: exit 0, nothing on stderr ($(cat "$TMP/err"))" \
		'[ $rc -eq 0 ] && [ ! -s "$TMP/err" ] && [ -s "$TMP/f.raw" ]'
done
FB_LOG_LEVEL=warning fb-render --size 64x48 --frames 10 --workers 2 --sink raw -o "$TMP/f.raw" 2> "$TMP/err"
rc=$?
check "FB_LOG_LEVEL=warning silences it too ($(cat "$TMP/err"))" '[ $rc -eq 0 ] && [ ! -s "$TMP/err" ]'

# ---- failures: no such line
FB_FAULT=encoder:after-acquire:5 FB_FAULT_ONCE=$TMP/fault.g fb-render --size 64x48 --frames 30 --workers 2 --sink raw \
	-o "$TMP/g.raw" 2> "$TMP/err"
rc=$?
check "encoder killed: exit 1, no 'wrote' line ($(tr '\n' '~' < "$TMP/err"))" \
	'[ $rc -eq 1 ] && [ -s "$TMP/err" ] && ! grep -q "wrote" "$TMP/err"'
fb-render --size 64x48 --frames 30 --workers 2 -o "$TMP/h.mp4" -- -c:v no-such-codec 2> "$TMP/err"
rc=$?
check "ffmpeg refuses its options: exit 1, no 'wrote' line" \
	'[ $rc -eq 1 ] && ! grep -q "wrote" "$TMP/err"'
fb-render --size 64x48 --frames 3000 --workers 2 --delay-ms 5 --sink raw -o "$TMP/i.raw" 2> "$TMP/err" &
pid=$!
wait_until 10 '[ -s "$TMP/i.raw" ]'
kill -INT $pid
wait $pid
rc=$?
check "SIGINT: exit 130, no 'wrote' line" '[ $rc -eq 130 ] && ! grep -q "wrote" "$TMP/err"'

# ---- on a terminal: stderr is a pty.  Every status line is drawn with \r
# over the last one; a break (\n) then a redraw makes a second line.  The
# render is long enough for several ticks, and its children exit at
# different moments (the repeat came once per exiting child).
cat > "$TMP/tty_run.py" << 'PY'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
buf = b""
while True:
    r, _, _ = select.select([fd], [], [], 60)
    if not r:
        break
    try:
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d:
        break
    buf += d
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(buf)
sys.exit(os.waitstatus_to_exitcode(st))
PY
python3 "$TMP/tty_run.py" "$BIN/fb-render" --name /$TID-tty --size 64x48 --frames 90 --workers 3 \
	--delay-ms 30 --sink raw -o "$TMP/t.raw" > "$TMP/tty.out"
rc=$?
# Lines as the terminal shows them: split on newlines (the pty makes \r\n),
# each line what its last \r segment left.
python3 - "$TMP/tty.out" > "$TMP/tty.lines" << 'PY'
import sys
data = open(sys.argv[1], "rb").read().decode(errors="replace")
for line in data.replace("\r\n", "\n").split("\n"):
    seg = [s for s in line.split("\r") if s]
    if seg:
        print(seg[-1].replace("\x1b[K", ""))
PY
nstatus=$(grep -c "^fb-render: frame" "$TMP/tty.lines")
check "on a terminal: exit 0, the status line is one line ($nstatus), the last drawn 90/90: $(tr '\n' '~' < "$TMP/tty.lines")" \
	'[ $rc -eq 0 ] && [ "$nstatus" -eq 1 ] && grep -q "^fb-render: frame 90/90 (100%)" "$TMP/tty.lines"'
re=$(wrote_re "$TMP/t.raw" "90 frames" 64x48 "$(human $((90 * 64 * 48 * 4)))")
check "on a terminal: then the 'wrote' line, once, last" \
	'[ "$(grep -c "wrote" "$TMP/tty.lines")" -eq 1 ] && tail -n 1 "$TMP/tty.lines" | grep -qE "$re"'
# 90 frames of 30 ms over 3 producers is ~1 s, several ticks: the line
# really was redrawn, so "one line" above is not a render too short to tell.
check "on a terminal: the line was redrawn in place (\\r) several times" \
	'[ "$(tr -cd "\r" < "$TMP/tty.out" | wc -c)" -ge 3 ]'

# ---- an adversary's findings: a path the line cannot show as it is, and a
# "file" that is ffmpeg's own stderr (the video went into the encoder's log,
# and the line said "wrote /dev/stderr").
odd="$TMP/a
b$(printf '\033')[31mc.raw"
fb-render --name /$TID-odd --size 16x16 --frames 2 --sink raw -o "$odd" 2> "$TMP/err"
rc=$?
check "a path with a newline and an escape: one line, control characters as '?' ($(cat -v "$TMP/err" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qF "wrote $TMP/a?b?[31mc.raw: 2 frames" "$TMP/err"'
rm -f "$odd"
for o in /dev/stderr /dev/fd/2 /proc/self/fd/2 /dev/stdout; do
	fb-render --name /$TID-fd --size 16x16 --frames 2 -o $o -- -f matroska 2> "$TMP/err" > /dev/null
	rc=$?
	check "-o $o into ffmpeg: refused, exit 2, one line ($(head -c 100 "$TMP/err"))" \
		'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q "use -o - for stdout" "$TMP/err"'
done
fb-render --name /$TID-fd --size 16x16 --frames 2 --sink raw -o /dev/stdout 2> "$TMP/err" > "$TMP/raw.out"
rc=$?
check "--sink raw -o /dev/stdout (fb-encoder writes it itself): exit 0, the frames on stdout" \
	'[ $rc -eq 0 ] && [ "$(stat -c %s "$TMP/raw.out")" -eq $((16 * 16 * 4 * 2)) ]'

# ---- make demo ends by naming the file it wrote (built as this run is,
# so a sanitizer build is not replaced by a plain one).
# As a user types it: in the checkout, not below another make (which would
# print its own "Leaving directory" last).
(cd "$ROOT" && env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS \
	make CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" demo DEMO_OUT="$TMP/demo.mp4") > "$TMP/demo.log" 2>&1
rc=$?
nb=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$TMP/demo.mp4")
re=$(wrote_re "$TMP/demo.mp4" "300 frames" 1280x720 "$(human "$(stat -c %s "$TMP/demo.mp4" 2> /dev/null || echo 0)")")
check "make demo: exit 0, $nb frames, its last line names the file: $(tail -n 1 "$TMP/demo.log")" \
	'[ $rc -eq 0 ] && [ "$nb" = 300 ] && tail -n 1 "$TMP/demo.log" | grep -qE "$re"'

check_clean "success line"
finish
