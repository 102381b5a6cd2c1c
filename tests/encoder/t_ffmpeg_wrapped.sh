#!/usr/bin/env bash
# An `ffmpeg` on PATH that is a wrapper running the real one as its child (a
# shell script, nice, a shim; issue 21 item 6).  The encoder's proof that
# ffmpeg took every frame is ffmpeg's own final count of frames decoded,
# which must include the end marker written after the last frame
# (encoder/ffmpeg_sink.h): nothing about the process tree.  So through a
# wrapper a render is exact, the encoder logs that proof, and it never needs
# the old fallback ("not seen waiting for input after 3000 ms", a 3 s wait
# per render); a wrapper that ends the output early is still caught, also
# when the cut frames all fit in the pipe.  Speed is not judged here (make
# bench does); the mechanism is.
. "$(dirname "$0")/../lib.sh"

FF=$(command -v ffmpeg)
# wrap NAME BODY: $TMP/NAME/ffmpeg, a shell script running BODY.
wrap() {
	mkdir -p "$TMP/$1"
	printf '#!/bin/bash\n%s\n' "$2" > "$TMP/$1/ffmpeg"
	chmod +x "$TMP/$1/ffmpeg"
}
wrap sh "$FF \"\$@\"" # (a) the two-line wrapper: ffmpeg is its child
wrap nice "nice -n 5 $FF \"\$@\"" # (b) through nice, a grandchild
# (c) ends the output early: options go before the output name, the last
# argument (after it ffmpeg would ignore them).
wrap early "n=\$#; out=\${!n}; $FF \"\${@:1:n-1}\" -frames:v 10 \"\$out\""
# (d) cuts only the last frame (-t, 29 of 30 frames at 30 fps): the cut
# frame and the end marker may all sit in the pipe and in ffmpeg's
# read-ahead when it exits 0.
wrap lastcut "n=\$#; out=\${!n}; $FF \"\${@:1:n-1}\" -t 0.95 \"\$out\""
# (e) a shim that clears the environment (no FFREPORT): the statistics come
# from stderr.
wrap noenv "exec env -i PATH=/usr/bin:/bin nice -n 1 $FF \"\$@\""
# (f) ffmpeg cannot open the report (as under another user, for whom our
# /proc/PID/fd is closed): its "Failed to open report" is no error.
wrap badrep "FFREPORT=file=/nonexistent/r.log:level=40 $FF \"\$@\""

N=30
F=$(frame_bytes rgba 320 240)
gen_bytes $((F * N)) wrapped > "$TMP/src.raw"
ffmpeg -v error -f rawvideo -pix_fmt rgba -s 320x240 -framerate 30 -i "$TMP/src.raw" \
	-c:v ffv1 -f framemd5 -y "$TMP/ref.md5"

# render WRAPPER NAME [fb-render args...] -- [ffmpeg options]: through the
# wrapper, debug log in $TMP/err.NAME, framemd5 in $TMP/NAME.md5; sets RC.
render() {
	local w=$1 name=$2
	shift 2
	PATH="$TMP/$w:$PATH" fb-render --size 320x240 --fps 30 --frames $N --workers 2 \
		--source raw:"$TMP/src.raw" --log-level debug --name /$TID-$name \
		-o "$TMP/$name.md5" "$@" 2> "$TMP/err.$name"
	RC=$?
}
same_md5() { diff -q <(grep -v '^#' "$TMP/$1.md5") <(grep -v '^#' "$TMP/ref.md5") > /dev/null; }
proof() { grep -q "exited 0 having decoded $((N + 1)) frames of its input .*by its $1" "$TMP/err.$2"; }
no_fallback() { ! grep -q "not seen waiting for input" "$TMP/err.$1"; }
err() { grep -v '^fb-[a-z]*: \(feeding\|spawned\|worker\|producer\)' "$TMP/err.$1" | tr '\n' '~' | cut -c1-600; }

# (a), (b): exact output, the proof from ffmpeg's report, no fallback wait
# (the path by vmsplice, and by writev).
for w in sh nice; do
	for path in splice copy; do
		FB_VMSPLICE=$([ $path = copy ] && echo 0 || echo 1) render $w $w$path -- -c:v ffv1 -f framemd5
		check "($w wrapper, $path) exit $RC, framemd5 = ffmpeg reading the source, proof by ffmpeg's report, no fallback: $(err $w$path)" \
			'[ $RC -eq 0 ] && same_md5 $w$path && proof report $w$path && no_fallback $w$path'
	done
done

# A user's -loglevel quiet (and -nostats) after ours silences stderr, not
# the report: still exit 0, still proven.
render sh quiet -- -c:v ffv1 -loglevel quiet -nostats -f framemd5
check "(sh wrapper) with the user's -loglevel quiet: exit $RC, exact, proof by the report: $(err quiet)" \
	'[ $RC -eq 0 ] && same_md5 quiet && proof report quiet'
# A FFREPORT of the user's own is replaced for ffmpeg, not an error.
FFREPORT=file=$TMP/user-report.log render sh userrep -- -c:v ffv1 -f framemd5
check "(sh wrapper) under the user's FFREPORT: exit $RC, exact, proof by our report: $(err userrep)" \
	'[ $RC -eq 0 ] && same_md5 userrep && proof report userrep'

# (e) No FFREPORT reaches ffmpeg: its stderr (-loglevel verbose) proves it;
# and with the user's -loglevel quiet too, nothing proves it: exit 1 saying so.
render noenv noenv -- -c:v ffv1 -f framemd5
check "(env-clearing shim) exit $RC, exact, proof by stderr: $(err noenv)" \
	'[ $RC -eq 0 ] && same_md5 noenv && proof stderr noenv'
render noenv noproof -- -c:v ffv1 -loglevel quiet -f framemd5
check "(env-clearing shim, -loglevel quiet) exit 1: final statistics missing: $(err noproof)" \
	'[ $RC -eq 1 ] && grep -q "fb-encoder: ffmpeg exited 0 but its final statistics are missing" "$TMP/err.noproof"'

render badrep badrep -- -c:v ffv1 -f framemd5
check "(report unopenable) exit $RC, exact, proof by stderr: $(err badrep)" \
	'[ $RC -eq 0 ] && same_md5 badrep && proof stderr badrep'

# (c) The wrapper ends the output after 10 frames: exit 1 naming the early end.
render early early -- -c:v ffv1 -f framemd5
check "(wrapper adding -frames:v 10) exit 1 naming the early end: $(err early)" \
	'[ $RC -eq 1 ] && grep -q "fb-encoder: ffmpeg exited 0 but stopped reading its input" "$TMP/err.early"'
# (d) ... or cuts only the last frame, small frames (all 30 fit in the pipe).
for path in splice copy; do
	FB_VMSPLICE=$([ $path = copy ] && echo 0 || echo 1) render lastcut lastcut$path -- -c:v ffv1 -f framemd5
	check "(wrapper cutting the last frame, $path) exit 1 naming the early end: $(err lastcut$path)" \
		'[ $RC -eq 1 ] && grep -q "fb-encoder: ffmpeg exited 0 but stopped reading its input" "$TMP/err.lastcut$path"'
done

# The end marker never reaches the output: a --range chunk into Matroska
# (its timestamps start at frame 10: -itsoffset), decoded and stream-copied.
for c in ffv1 copy 0; do
	opts=(-c:v $c)
	[ $c = 0 ] && opts=(-c:0 copy -c:a aac) # the copy named another way
	fb-render --size 64x48 --fps 30 --frames $N --range 10:20 --workers 2 --name /$TID-chunk$c \
		-o "$TMP/chunk$c.mkv" -- "${opts[@]}" 2> "$TMP/err.chunk$c"
	rc=$?
	pts=$(ffprobe -v error -show_entries packet=pts_time -of csv=p=0 "$TMP/chunk$c.mkv" | tr '\n' ' ')
	check "--range 10:20 into mkv, ${opts[*]}: exit $rc, frames 10..19 stamped 0.333..0.633 ($pts)" \
		'[ $rc -eq 0 ] && [ "$pts" = "0.333000 0.367000 0.400000 0.433000 0.467000 0.500000 0.533000 0.567000 0.600000 0.633000 " ]'
done

# The output's name cannot forge the statistics: ffmpeg prints it after
# them ("Output file #0 (NAME):"); read by line it counts for nothing.
spoof='Input file #0 (pipe:0): Input stream #0:0 (video): 99 packets read (1 bytes); 99 frames decoded'
# Small frames: all of them and the marker fit in the pipe, so the
# statistics alone judge.
fb-render --size 32x16 --frames 10 --workers 2 --source fill --name /$TID-spoof \
	-o "$TMP/$spoof.md5" -- -frames:v 3 -f framemd5 2> "$TMP/err.spoof"
RC=$?
check "(-o naming fake statistics, -frames:v 3 of 10) exit 1 naming the early end: $(err spoof)" \
	'[ $RC -eq 1 ] && grep -q "stopped reading its input after 3 of 10 frames" "$TMP/err.spoof"'
nl=$'x\n[verbose]   Input stream #0:0 (video): 99 packets read (1 bytes); 99 frames decoded'
render none nl -o "$TMP/$nl.md5" -- -f framemd5
check "(-o holding a newline) exit 2, refused in one line: $(err nl)" \
	'[ $RC -eq 2 ] && grep -q "holds a newline" "$TMP/err.nl" && [ "$(wc -l < "$TMP/err.nl")" -eq 1 ] &&
	 [ ! -e "$TMP/$nl.md5" ]'

# A write error is found in the report (level verbose) when the user's
# -loglevel quiet hides it from stderr: ffmpeg 5.1 exits 0 after it.
render none full -o /dev/full -- -loglevel quiet -c:v ffv1 -f framemd5
check "(-o /dev/full, -loglevel quiet) exit 1 quoting the write error: $(err full)" \
	'[ $RC -eq 1 ] && grep -q "reported errors: .*Error" "$TMP/err.full"'
# A tag is ffmpeg's only at a line's start: an output named "[error] "
# (untagged on stderr under the user's -loglevel -level+info, and in the
# report's command line) is no error.
render none tagname -o "$TMP/x[error] y.md5" -- -loglevel -level+info -c:v ffv1 -f framemd5
check "(-o named x[error] y.md5, -loglevel -level+info) exit 0: $(err tagname)" \
	'[ $RC -eq 0 ] && cp "$TMP/x[error] y.md5" "$TMP/tagname.md5" && same_md5 tagname'
# -vsync/-fps_mode passthrough with our own output -r (the input's exact
# rate): ffmpeg's warning at error level is no error, the output is exact.
for o in "-fps_mode passthrough" "-vsync 0"; do
	render none pass -- $o -c:v ffv1 -f framemd5
	check "($o) exit 0, exact (pts too): $(err pass)" '[ $RC -eq 0 ] && same_md5 pass'
done

check_clean "ffmpeg wrapped"
finish
