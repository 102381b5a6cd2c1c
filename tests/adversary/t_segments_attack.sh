#!/usr/bin/env bash
# t_segments_attack.sh — the segmented render's work directory attacked from
# outside (issue 24): a --work-dir that already holds someone's files, -o
# inside the work directory or equal to it, two renders on one directory at
# once, a plan torn by a crash and then appended to, a plan spoiled while
# the render runs, and the plan and segment files as hostile input
# (--plan-check: FIFO, NUL, CR, oversize, symlinked, swapped or edited
# segments), a disk full as the plan is written.  Judges: the files the test planted (bytes it wrote), ffmpeg's
# frame count of -o, exit codes and line counts.
. "$(dirname "$0")/../lib.sh"
command -v ffmpeg > /dev/null || skip "ffmpeg not installed"
command -v ffprobe > /dev/null || skip "ffprobe not installed"
cd "$TMP" || exit 1
SMALL=(--size 64x48 --workers 1 --frames 60 --segment 20)
FF=(-- -c:v ffv1)
plan_segs() { if [ -f "$1/plan" ]; then awk '/^segment /{n++} END{print n+0}' "$1/plan"; else echo 0; fi; }
nframes() { ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
	-of csv=p=0 "$1" 2> /dev/null; }
# one_line FILE: FILE holds exactly one line.
one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }
# interrupted OUT: a render of 60 frames into OUT.fbsegments SIGKILLed
# once its first segment is recorded (its children gone with it).
interrupted() {
	fb-render "${SMALL[@]}" --delay-ms 40 -o "$1" "${FF[@]}" 2> /dev/null &
	local p=$! dir=$1.fbsegments
	wait_until 60 '[ "$(plan_segs "$dir")" -ge 1 ]'
	kill -9 $p
	wait $p 2> /dev/null
	wait_until 10 '[ -z "$(own_pids --fb)" ]'
}

# 1. --work-dir naming a directory of the user's own that holds files: not
#    a work directory (no plan), so nothing in it may be touched.
mkdir -m 0700 mine
echo precious > mine/seg-notes.txt
echo precious > mine/seg-0000000000-0000000099.mkv
echo precious > mine/draft.part.mkv
before=$(cd mine && md5sum -- * | sort)
fb-render "${SMALL[@]}" --work-dir mine -o a.mkv "${FF[@]}" 2> a.err
rc=$?
check "--work-dir of a directory holding files, no plan: refused, exit 2, one line ($(head -1 a.err))" \
	'[ $rc -eq 2 ] && one_line a.err && [ ! -e a.mkv ]'
check "--work-dir of a directory holding files: every file of the user's kept, no plan written" \
	'[ "$(cd mine && md5sum -- * | sort)" = "$before" ] && [ ! -e mine/plan ]'
mkdir -m 0700 empty
fb-render "${SMALL[@]}" --work-dir empty -o e.mkv "${FF[@]}" 2> e.err
rc=$?
check "--work-dir of an empty directory of ours: used (exit 0, 60 frames), then removed" \
	'[ $rc -eq 0 ] && [ "$(nframes e.mkv)" = 60 ] && [ ! -e empty ]'

# 2. A resume removes only its own files: names that merely look alike
#    (put in the directory after the plan was made) are not its to delete.
interrupted r.mkv
echo precious > r.mkv.fbsegments/notes.part.txt
echo precious > r.mkv.fbsegments/seg-notes.mkv
fb-render "${SMALL[@]}" -o r.mkv --resume "${FF[@]}" 2> r.err
rc=$?
check "--resume: exit 0 and 60 frames ($(tail -1 r.err))" '[ $rc -eq 0 ] && [ "$(nframes r.mkv)" = 60 ]'
check "--resume: files not named as segments are not removed" \
	'[ -f r.mkv.fbsegments/notes.part.txt ] && [ -f r.mkv.fbsegments/seg-notes.mkv ]'
rm -rf r.mkv.fbsegments

# 3. -o inside the work directory, or the work directory itself: refused
#    before anything is rendered (the join could only fail at the end).
mkdir -m 0700 w v u
fb-render "${SMALL[@]}" --work-dir w -o w/seg-0000000000-0000000020.mkv "${FF[@]}" 2> o1.err
rc=$?
check "-o naming a segment in the work directory: exit 2, one line ($(head -1 o1.err))" \
	'[ $rc -eq 2 ] && one_line o1.err && [ -z "$(ls -A w)" ]'
fb-render "${SMALL[@]}" --work-dir v -o v/out.mkv "${FF[@]}" 2> o2.err
rc=$?
check "-o inside the work directory: exit 2, one line ($(head -1 o2.err))" \
	'[ $rc -eq 2 ] && one_line o2.err && [ -z "$(ls -A v)" ]'
fb-render "${SMALL[@]}" --work-dir same.mkv -o same.mkv "${FF[@]}" 2> o3.err
rc=$?
check "--work-dir equal to -o: exit 2, one line, nothing made ($(head -1 o3.err))" \
	'[ $rc -eq 2 ] && one_line o3.err && [ ! -e same.mkv ]'
fb-render "${SMALL[@]}" --work-dir "$TMP/u" -o ./u/../u/x.mkv "${FF[@]}" 2> o4.err
rc=$?
check "-o inside the work directory, spelled another way: exit 2 ($(head -1 o4.err))" \
	'[ $rc -eq 2 ] && one_line o4.err && [ -z "$(ls -A u)" ]'

# 4. Two renders on one work directory: the second is refused, the first
#    is not disturbed.
fb-render "${SMALL[@]}" --delay-ms 40 -o c.mkv "${FF[@]}" 2> c1.err &
p1=$!
wait_until 60 '[ "$(plan_segs c.mkv.fbsegments)" -ge 1 ]'
fb-render "${SMALL[@]}" -o c.mkv --resume "${FF[@]}" 2> c2.err
rc2=$?
wait $p1
rc1=$?
check "a --resume while a render runs on the directory: refused, exit 2, one line ($(head -1 c2.err))" \
	'[ $rc2 -eq 2 ] && one_line c2.err'
check "the running render undisturbed: exit 0, 60 frames ($(tail -1 c1.err))" \
	'[ $rc1 -eq 0 ] && [ "$(nframes c.mkv)" = 60 ] && [ ! -e c.mkv.fbsegments ]'

# 5. A plan whose last line was torn (a crash, a full disk) and a resume
#    that appends after it: the torn bytes must not glue onto the new line.
interrupted t.mkv
printf 'segment 20 40 13' >> t.mkv.fbsegments/plan
fb-render "${SMALL[@]}" -o t.mkv --resume "${FF[@]}" 2> t.err
rc=$?
check "--resume after a torn last line: exit 0, 60 frames ($(tail -1 t.err))" \
	'[ $rc -eq 0 ] && [ "$(nframes t.mkv)" = 60 ]'
rm -rf t.mkv.fbsegments

# 6. The plan spoiled while the render runs, then the render stopped: the
#    finished segments are kept (the plan cannot vouch for anything, so
#    nothing is deleted), not the whole directory thrown away.
fb-render "${SMALL[@]}" --delay-ms 40 -o s.mkv "${FF[@]}" 2> s.err &
p=$!
wait_until 60 '[ "$(plan_segs s.mkv.fbsegments)" -ge 1 ]'
echo 'garbage' >> s.mkv.fbsegments/plan
kill -INT $p
wait $p
rc=$?
check "an unreadable plan at the end of a failed render: the directory and its segment kept" \
	'[ $rc -ne 0 ] && [ -f s.mkv.fbsegments/seg-0000000000-0000000020.mkv ] && [ -f s.mkv.fbsegments/plan ]'
rm -rf s.mkv.fbsegments

# 7. The plan and the segments as input (held before; kept as checks):
#    --plan-check refuses or invalidates, exit 2 or 0, one line, never hangs.
interrupted p.mkv
D=p.mkv.fbsegments
cp $D/plan good.plan
S=$D/seg-0000000000-0000000020.mkv
cp $S good.seg
# pc: --plan-check of D, its exit code in rc.
pc() {
	timeout 10 fb-render --plan-check $D > pc.out 2> pc.err
	rc=$?
}
pc
check "--plan-check of the interrupted render: the first segment valid" \
	'[ $rc -eq 0 ] && [ "$(cat pc.out)" = "0 20" ]'
rm $D/plan && mkfifo $D/plan
pc
check "a FIFO as plan: exit 2, one line, no hang" '[ $rc -eq 2 ] && one_line pc.err'
rm $D/plan && { head -c 20 good.plan; printf '\0'; tail -c +21 good.plan; } > $D/plan
pc
check "a NUL in the plan: exit 2" '[ $rc -eq 2 ] && grep -q NUL pc.err'
sed 's/$/\r/' good.plan > $D/plan
pc
check "CRLF lines: exit 2" '[ $rc -eq 2 ] && one_line pc.err'
cp good.plan $D/plan && truncate -s 17M $D/plan
pc
check "a 17 MB plan: exit 2" '[ $rc -eq 2 ] && grep -q bound pc.err'
cp good.plan $D/plan && echo "segment 60 80 10 $(printf '%064d' 0)" >> $D/plan
pc
check "a segment line past the render: exit 2" '[ $rc -eq 2 ] && one_line pc.err'
cp good.plan $D/plan && echo "segment 10 30 10 $(printf '%064d' 0)" >> $D/plan
pc
check "an off-grid (overlapping) segment line: exit 2" '[ $rc -eq 2 ] && one_line pc.err'
cp good.plan $D/plan && echo "segment 0 20 99999999999999999999 $(printf '%064d' 0)" >> $D/plan
pc
check "an absurd byte count: exit 2" '[ $rc -eq 2 ] && one_line pc.err'
cp good.plan $D/plan
rm $S && ln -s "$TMP/good.seg" $S
pc
check "the segment a symlink to the right bytes: not valid" '[ $rc -eq 0 ] && [ ! -s pc.out ]'
rm $S && mkfifo $S
pc
check "the segment a FIFO: not valid, no hang" '[ $rc -eq 0 ] && [ ! -s pc.out ]'
rm $S && ffmpeg -v error -f lavfi -i testsrc=size=64x48:rate=30 -frames:v 20 -c:v ffv1 other.mkv &&
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); n=int(sys.argv[2]); open(sys.argv[3],"wb").write((d+b"\0"*n)[:n])' \
		other.mkv "$(stat -c %s good.seg)" $S
pc
check "the segment swapped for another video of the same size: not valid" '[ $rc -eq 0 ] && [ ! -s pc.out ]'
cp good.seg $S && printf 'X' | dd of=$S bs=1 seek=500 conv=notrunc 2> /dev/null
pc
check "the segment edited in place: not valid" '[ $rc -eq 0 ] && [ ! -s pc.out ]'
rm -rf $D

# 8. Stopped while fb-stitch joins: the stop is the cause (exit 130, no
#    "joining the segments failed" line), nothing partial beside -o, the
#    directory and its segments kept for --resume, no fb-stitch left.
fb-render --size 320x240 --workers 2 --frames 400 --segment 5 -o j.mkv -- -c:v ffv1 2> j.err &
p=$!
wait_until 120 'ls -A | grep -q "^\.j\.fb-stitch-" || ! alive $p'
kill -INT $p 2> /dev/null
wait $p
rc=$?
check "SIGINT during the join: exit 130, the stop said, not a failed join ($(tail -1 j.err))" \
	'[ $rc -eq 130 ] && ! grep -q "joining the segments failed" j.err'
check "SIGINT during the join: no partial file, the segments kept, no fb-stitch left" \
	'[ -z "$(ls -A | grep fb-stitch)" ] && [ "$(plan_segs j.mkv.fbsegments)" -eq 80 ] &&
	 [ ! -e j.mkv ] && [ -z "$(own_procs --match fb-stitch)" ]'

# A disk that fills as the plan is written (a full 4 MiB tmpfs, in a mount
# namespace of the test's own, root only): exit 1, not 2 (a farm retries
# it), the work directory it made gone, no plan left half written — and
# with room again the same command renders (it was refused for good, "no
# render line: not a plan", while an empty plan stayed).  A plan.new that
# a killed writer left is no reason to refuse the directory either.
if [ "$(id -u)" = 0 ] && unshare --mount true 2> /dev/null; then
	mkdir full
	unshare --mount --propagation private bash -c '
		mount -t tmpfs -o size=4m,mode=0700 fbfull full || exit 99
		head -c 8M /dev/zero > full/filler 2> /dev/null # to the last byte
		fb-render "$@" -o full/o.mkv -- -c:v ffv1 2> err.full; echo $? > rc.full
		ls -A full > left.full
		rm full/filler
		fb-render "$@" -o full/o.mkv -- -c:v ffv1 2> err.again; echo $? > rc.again
		mkdir -m 0700 full/w && : > full/w/plan.new
		fb-render "$@" --work-dir full/w -o full/p.mkv -- -c:v ffv1 2> err.new; echo $? > rc.new
		ls -A full > left.after' fbfull "${SMALL[@]}"
	check "disk full as the plan is written: exit 1, one line naming it ($(cat err.full))" \
		'[ "$(cat rc.full)" = 1 ] && one_line err.full && grep -q "No space left on device" err.full'
	check "...the work directory it made is gone" '[ "$(cat left.full)" = filler ]'
	check "...with room again, the same command renders: exit 0 ($(tail -1 err.again))" \
		'[ "$(cat rc.again)" = 0 ]'
	check "a work directory holding only a killed writer's plan.new: taken, exit 0 ($(tail -1 err.new))" \
		'[ "$(cat rc.new)" = 0 ] && [ "$(cat left.after | tr "\n" " ")" = "o.mkv p.mkv " ]'
else
	echo "# disk-full case skipped: needs root and mount namespaces"
fi

check_clean "segments attacked"
finish
