#!/usr/bin/env bash
# On a real terminal (tmux: a pty, an interactive bash with job control,
# `stty tostop`), issue 21 item 2: attach: producers in C, Node and Python
# that write a line to stderr every frame are never stopped by SIGTTOU —
# Node resets the dispositions it inherits, so ignoring SIGTTOU is not
# enough; fb-render's children have no controlling terminal — each render
# exits 0, no process of the render is ever in state T, the lines are on
# the terminal.  And a render that fails stops drawing its status line at
# once: nothing of it after the cause, though a producer that ignores
# SIGTERM keeps the render ending for seconds more.  In the background with
# `stty tostop`, fb-render's own lines do not stop fb-render either.  Ctrl-Z
# stops even a helper in a session of its own.
. "$(dirname "$0")/../lib.sh"

command -v tmux > /dev/null || skip "no tmux"
# Terminal job control does not depend on the compiler: this runs in the
# plain build's suite.  In a sanitizer build its Node and Python producers
# would need the sanitizer's runtime preloaded (t_node.sh, t_python.sh do
# that, and test the bindings there).
[ -z "${FB_SAN:-}" ] || skip "FB_SAN=$FB_SAN (compiler-independent; runs in the plain build)"
FRAMES=40

# The producers: each writes "LANG frame N" to stderr for every frame, and
# takes 30 ms a frame.  C: `cprod [FAIL_AT]` exits 1 at frame FAIL_AT.
cat > "$TMP/cprod.c" << 'EOF'
#include <framebroker.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long long fail_at = argc > 1 ? atoll(argv[1]) : -1;
	struct fb_geometry g;
	fb_producer *p;
	uint64_t f;
	void *slot;
	int rc;

	if (fb_attach(NULL, 5000, &p) < 0)
		return 1;
	fb_get_geometry(p, &g);
	while ((rc = fb_claim(p, &f, &slot)) == 1) {
		memset(slot, (int)(f & 0xff), g.frame_bytes);
		fprintf(stderr, "c frame %llu\n", (unsigned long long)f);
		if ((long long)f == fail_at) {
			fprintf(stderr, "cprod: failing on purpose at frame %lld\n", fail_at);
			return 1;
		}
		usleep(30000);
		if (fb_publish(p, g.frame_bytes) < 0)
			return 1;
	}
	fb_detach(p);
	return rc < 0 ? 1 : 0;
}
EOF
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$ROOT/include" -o "$TMP/cprod" "$TMP/cprod.c" \
	-L"$ROOT/build/lib" -lframebroker -Wl,-rpath,"$ROOT/build/lib" 2> "$TMP/cc.log"
check "the C producer builds" '[ -x "$TMP/cprod" ] || { cat "$TMP/cc.log"; false; }'
cat > "$TMP/nprod.mjs" << EOF
import { attach } from '$ROOT/bindings/node/index.mjs';
const p = await attach();
for await (const { frame, data } of p) {
	data.fill(frame & 255);
	console.error(\`node frame \${frame}\`);
	await new Promise((r) => setTimeout(r, 30));
	p.publish();
}
EOF
cat > "$TMP/pprod.py" << EOF
import sys, time
sys.path.insert(0, "$ROOT/bindings/python")
import framebroker
with framebroker.attach() as p:
    for frame, view in p:
        print(f"python frame {frame}", file=sys.stderr, flush=True)
        time.sleep(0.03)
        p.publish()
EOF
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3)
export FRAMEBROKER_LIB=$ROOT/build/lib/libframebroker.so.0

# tm ARGS: our own tmux server (its socket named by TID), no user config.
tm() { tmux -L "$TID" -f /dev/null "$@"; }
# start_term NAME: an interactive bash on a pty, in `stty tostop`, all its
# output appended to $TMP/NAME.tty; waits until the shell has said so.
start_term() {
	tm new-session -d -s "$1" -x 250 -y 50 "bash --norc --noprofile -i"
	tm pipe-pane -t "$1" -o "cat >> $TMP/$1.tty"
	# ("T""OSTOP" etc.: the echo of what is typed does not match.)
	tm send-keys -t "$1" "PS1='$ '; stty tostop && stty -a | grep -qw -- -tostop || echo T\"\"OSTOP_ON" Enter
	wait_until 20 "grep -aqs TOSTOP_ON '$TMP/$1.tty'"
}
# job NAME CMD: type CMD in terminal NAME; until it has printed RC=N (120 s
# at most), look at every process of this test (the render's own among
# them) for state T.  Sets stopped ("" or the stopped ones) and rc.
job() {
	local name=$1 cmd=$2 t
	stopped=""
	tm send-keys -t "$name" "$cmd; echo R\"\"C=\$?" Enter
	# ended: RC printed; on the way, every look at the processes counts
	ended() {
		t=$(own_procs | awk '$2 == "T"')
		if [ -n "$t" ] && [ -z "$stopped" ]; then
			stopped=$(echo "$t" | cut -c1-100 | tr '\n' ';')
			# Stopped for good: end it now rather than wait for its
			# --frame-timeout.
			own_kill --match "/$TID-$name"
			for p in $(echo "$t" | cut -d' ' -f1); do kill -KILL "$p" 2> /dev/null; done
		fi
		grep -aq 'RC=[0-9]' "$TMP/$name.tty"
	}
	wait_until 120 ended
	rc=$(grep -ao 'RC=[0-9]*' "$TMP/$name.tty" | head -1 | cut -d= -f2)
}
# lines NAME LANG: distinct "LANG frame N" lines the terminal showed.
lines() { grep -ao "$2 frame [0-9]*" "$TMP/$1.tty" | sort -u | wc -l; }

render="$BIN/fb-render --size 64x48 --frames $FRAMES --workers 2 --slots 4 --sink raw --frame-timeout 20"

# ---- C
start_term c
job c "$render -o $TMP/c.raw --name /$TID-c --source attach:$TMP/cprod"
check "C attach: producer, stty tostop: exit ${rc:-none}, no process stopped (${stopped:-none}), $(lines c c) of $FRAMES lines on the terminal" \
	'[ "$rc" = 0 ] && [ -z "$stopped" ] && [ "$(lines c c)" -eq $FRAMES ]'

# ---- Node
if ! command -v node > /dev/null || [ ! -f /usr/include/node/node_api.h ] || [ -n "${FB_SAN:-}" ]; then
	echo "# t_terminal.sh: no Node case (no node, no node_api.h, or a sanitizer build: see t_node.sh)"
else
	make -s -C "$ROOT" node > "$TMP/make.log" 2>&1
	check "make node ($(tail -2 "$TMP/make.log" | tr '\n' '~'))" '[ -s "$ROOT/bindings/node/framebroker.node" ]'
	start_term n
	job n "$render -o $TMP/n.raw --name /$TID-n --source 'attach:node $TMP/nprod.mjs'"
	check "Node attach: producer, stty tostop: exit ${rc:-none}, no process stopped (${stopped:-none}), $(lines n node) of $FRAMES lines on the terminal" \
		'[ "$rc" = 0 ] && [ -z "$stopped" ] && [ "$(lines n node)" -eq $FRAMES ]'
fi

# ---- Python
start_term p
job p "$render -o $TMP/p.raw --name /$TID-p --source 'attach:$PY $TMP/pprod.py'"
check "Python attach: producer, stty tostop: exit ${rc:-none}, no process stopped (${stopped:-none}), $(lines p python) of $FRAMES lines on the terminal" \
	'[ "$rc" = 0 ] && [ -z "$stopped" ] && [ "$(lines p python)" -eq $FRAMES ]'

# ---- A failure: one producer exits 1 at frame 10; the other ignores
# SIGTERM and sleeps 5 s, so the render takes that long to end after the
# cause.  Not one status line may be drawn after the cause line.
start_term f
cat > "$TMP/fprod.sh" << EOF
#!/bin/sh
if mkdir "$TMP/first" 2> /dev/null; then exec "$TMP/cprod" 10; fi
trap '' TERM
sleep 5
EOF
chmod +x "$TMP/fprod.sh"
job f "$render -o $TMP/f.raw --name /$TID-f --source attach:$TMP/fprod.sh"
after=$(sed -n '/exited with status 1/,$p' "$TMP/f.tty" | tr '\r' '\n')
check "a failing render on a terminal: exit ${rc:-none} (want 1), the cause said" \
	'[ "$rc" = 1 ] && grep -aq "producer .* exited with status 1" "$TMP/f.tty"'
check "... the status line was drawn while it ran, never after the cause ($(echo "$after" | grep -ac 'fb-render: frame') times)" \
	'grep -aq "fb-render: frame" "$TMP/f.tty" && ! echo "$after" | grep -aq "fb-render: frame"'

# ---- A renderer that opens /dev/tty (as a password prompt would): it has no
# controlling terminal, so the open fails (ENXIO) instead of a write that
# stops it; the render goes on.
F=$((64 * 48 * 4))
start_term d
job d "$render -o $TMP/d.raw --name /$TID-d --source 'sh:if { echo tty-write > /dev/tty; } 2> /dev/null; then echo TTY_\"\"OPENED >&2; else echo TTY_\"\"ENXIO >&2; fi; while read f; do head -c $F /dev/zero; done'"
check "a renderer opening /dev/tty: exit ${rc:-none}, no process stopped (${stopped:-none}), the open failed" \
	'[ "$rc" = 0 ] && [ -z "$stopped" ] && grep -aq TTY_ENXIO "$TMP/d.tty" && ! grep -aq TTY_OPENED "$TMP/d.tty"'

# ---- Ctrl-Z still stops the whole render (every process of it in state T,
# the producers given by a runtime that resets its signals included) and
# fg resumes it to the end.
start_term z
prod="attach:$TMP/cprod"
command -v node > /dev/null && [ -s "$ROOT/bindings/node/framebroker.node" ] && prod="attach:node $TMP/nprod.mjs"
tm send-keys -t z "$render -o $TMP/z.raw --name /$TID-z --source '$prod'" Enter
wait_until 60 "[ \$(grep -aoc 'frame [0-9]' '$TMP/z.tty') -ge 6 ]"
tm send-keys -t z C-z
# fb-render, broker, encoder, 2 producers: all stopped
wait_until 20 '[ "$(own_procs --match "$TID-z|$TMP/(cprod|nprod)" | awk "\$2 == \"T\"" | wc -l)" -ge 5 ]'
zstop=$(own_procs --match "$TID-z|$TMP/(cprod|nprod)" | awk '{print $2}' | sort | uniq -c | tr -s ' \n' ' ')
tm send-keys -t z "fg; echo R\"\"C=\$?" Enter
wait_until 120 "grep -aq 'RC=[0-9]' '$TMP/z.tty'"
rc=$(grep -ao 'RC=[0-9]*' "$TMP/z.tty" | head -1 | cut -d= -f2)
check "Ctrl-Z ($prod): the whole render stopped (states:$zstop), fg: exit ${rc:-none}, all $FRAMES frames" \
	'[[ $zstop == *" 5 T"* || $zstop == *" 6 T"* ]] && [ "$rc" = 0 ] && [ "$(stat -c %s "$TMP/z.raw")" -eq $((FRAMES * F)) ]'

# ---- Ctrl-Z reaches what left the render's group: a producer's helper in
# a session of its own (as a browser a Chrome worker launches detached),
# spinning as fast as it can, is stopped (state T, its CPU time still) until
# fg, then goes on, and the render ends with exit 0.
cat > "$TMP/hprod.sh" << EOF
#!/bin/sh
if mkdir "$TMP/helper" 2> /dev/null; then
	setsid sh -c 'echo \$\$ > "$TMP/helper.pid"; while :; do :; done' &
fi
exec "$TMP/cprod"
EOF
chmod +x "$TMP/hprod.sh"
# hstate: the helper's state letter; count: its CPU time (ticks).
hstate() { sed 's/.*) //' "/proc/$(cat "$TMP/helper.pid")/stat" 2> /dev/null | cut -c1; }
count() { sed 's/.*) //' "/proc/$(cat "$TMP/helper.pid")/stat" 2> /dev/null | awk '{print $12 + $13}'; }
start_term h
tm send-keys -t h "$BIN/fb-render --size 64x48 --frames 400 --workers 2 --slots 4 --sink raw --frame-timeout 60 -o $TMP/h.raw --name /$TID-h --source attach:$TMP/hprod.sh" Enter
wait_until 60 "[ -s '$TMP/helper.pid' ] && [ \$(grep -aoc 'c frame [0-9]' '$TMP/h.tty') -ge 6 ]"
tm send-keys -t h C-z
wait_until 20 '[ "$(hstate)" = T ]'
hst=$(hstate) c1=$(count)
sleep 1 # the window the count must stand still in
c2=$(count)
tm send-keys -t h "fg; echo R\"\"C=\$?" Enter
wait_until 20 '[ "$(hstate)" != T ] && [ "$(count)" != "$c2" ]'
hcont=$(hstate) c3=$(count)
wait_until 120 "grep -aq 'RC=[0-9]' '$TMP/h.tty'"
rc=$(grep -ao 'RC=[0-9]*' "$TMP/h.tty" | head -1 | cut -d= -f2)
check "Ctrl-Z: a helper in its own session stopped (state $hst, CPU ticks $c1 -> $c2 over 1 s); fg: running again (state $hcont, ticks $c3), exit ${rc:-none}" \
	'[ "$hst" = T ] && [ -n "$c1" ] && [ "$c1" = "$c2" ] && [ "$hcont" != T ] && [ "$c3" != "$c2" ] && [ "$rc" = 0 ]'

# ---- A render started in the background (`&`; no tostop here, or its
# closing line would stop it, as it should): no status line is drawn over
# the shell's prompt; the producers' lines still show.
start_term b
tm send-keys -t b "stty -tostop" Enter
job b "$render -o $TMP/b.raw --name /$TID-b --source attach:$TMP/cprod & wait \$!"
check "in the background: exit ${rc:-none}, $(lines b c) of $FRAMES producer lines, the status line drawn $(grep -ac 'fb-render: frame' "$TMP/b.tty") times (want 0)" \
	'[ "$rc" = 0 ] && [ "$(lines b c)" -eq $FRAMES ] && ! grep -aq "fb-render: frame" "$TMP/b.tty"'

# ---- In the background with `stty tostop`: fb-render's own lines (the
# warning of a replacement, the final "wrote") are written, not a SIGTTOU
# that would stop fb-render alone while its children run on.
start_term g
job g "$render -o $TMP/g.raw --name /$TID-g --source 'sh:if mkdir $TMP/died 2> /dev/null; then read f; exit 9; fi; while read f; do head -c $F /dev/zero; done' & wait \$!"
check "in the background, stty tostop, a renderer dies once: exit ${rc:-none}, no process stopped (${stopped:-none}), the warning and the last line written" \
	'[ "$rc" = 0 ] && [ -z "$stopped" ] && grep -aq "starting a replacement" "$TMP/g.tty" && grep -aq "fb-render: wrote" "$TMP/g.tty"'

tm kill-server 2> /dev/null
check_clean "t_terminal"
finish
