#!/usr/bin/env bash
# fb-render's segmented render, the parts that need no segmenting encoder:
# --segment/--resume/--work-dir refusals (exit 2, one line, nothing made),
# the work directory refused (a plan without --resume, another render's
# plan, a symlink, group-writable, another user's), --plan-check on plans
# made here with segment files hashed by sha256sum, and a resume whose
# plan already covers every frame: only the join (fb-stitch) runs, the
# output has every frame (ffmpeg's count), and the directory is removed.
. "$(dirname "$0")/../lib.sh"

command -v ffmpeg > /dev/null && command -v ffprobe > /dev/null || skip "no ffmpeg/ffprobe"
cd "$TMP" || exit 1
: > out.txt
: > err
R="$BIN/fb-render"
SMALL=(--size 64x48 --workers 1)

# expect CODE PATTERN DESC -- ARGS...: one line, the code, nothing new here.
expect() {
	local code=$1 pat=$2 desc=$3 rc before after
	shift 4
	before=$(ls -A | sort | md5sum)
	"$R" "$@" > "$TMP/out.txt" 2> "$TMP/err"
	rc=$?
	after=$(ls -A | sort | md5sum)
	if [ $rc -eq "$code" ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q -- "$pat" "$TMP/err" &&
		[ "$before" = "$after" ]; then
		ok "$desc: exit $code, '$(cat "$TMP/err")'"
	else
		not_ok "$desc: exit $rc (want $code): $(cat "$TMP/err")"
	fi
}

expect 2 "invalid --segment 'x'" "--segment x" -- --segment x -o a.mp4
expect 2 "invalid --segment '0s'" "--segment 0s" -- --segment 0s -o a.mp4
expect 2 "invalid --segment '-1'" "--segment -1" -- --segment -1 -o a.mp4
expect 2 "cannot be joined with -o -" "--segment with -o -" -- --segment 10 -o -
expect 2 "cannot be joined with --sink raw" "--segment with --sink raw" -- --segment 10 --sink raw -o a.raw
expect 2 "cannot be joined with this -o container" "--segment into .out" -- --segment 10 -o a.out
expect 2 "cannot be joined with -f among the ffmpeg options" "--segment with -f" \
	-- --segment 10 -o a.mkv -- -f matroska
expect 2 "cannot be joined with an -o without an extension" "--segment, -o without extension" \
	-- --segment 10 -o noext
gen_bytes 1000 audio > "$TMP/a.wav"
expect 2 "cannot be joined with --audio" "--segment with --audio" -- --segment 10 --audio a.wav -o a.mp4
expect 2 "resume needs a segmented render" "--resume on a short render" -- --resume -o a.mp4 --frames 10
expect 2 "work-dir needs a segmented render" "--work-dir with --segment 0" \
	-- --segment 0 --work-dir w -o a.mp4
# The default: on at 60 s (1800 frames at 30 fps), 10 s segments: --check
# makes nothing, the plan check finds nothing to check.
"$R" --frames 1800 -o long.mp4 --check 2> err
check "--check of a 60 s render makes no work directory" '[ $? -eq 0 ] && [ ! -e long.mp4.fbsegments ]'

# A work directory that is not ours to use.
ln -s /tmp sym.fbsegments
expect 2 "is a symlink" "a symlinked work directory" -- --segment 5 --work-dir sym.fbsegments -o a.mkv
touch file.fbsegments
expect 2 "not a directory" "a file as work directory" -- --segment 5 --work-dir file.fbsegments -o a.mkv
mkdir -m 0770 shared && chmod 0770 shared
expect 2 "writable by others" "a group-writable work directory" -- --segment 5 --work-dir shared -o a.mkv
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 0700 theirs && chown nobody theirs
	expect 2 "not ours" "another user's work directory" -- --segment 5 --work-dir theirs -o a.mkv
else
	ok "# skip: another user's directory needs root (chown)"
fi

# Segments made as fb-render --range chunks are (the encoder will write
# the same), hashed by sha256sum, recorded in a plan written here.
N=25 L=10
src=$(printf %s pattern | sha256sum | cut -c1-64)
LINE="render size=64x48 pix_fmt=rgba fps=30/1 frames=$N segment=$L format=raw sink=ffmpeg ext=mkv source=$src ffmpeg=default"
mkdir -m 0700 out.mkv.fbsegments
D=out.mkv.fbsegments
printf 'fb-segments 1\n%s\n' "$LINE" > "$D/plan"
for a in 0 10 20; do
	b=$((a + L > N ? N : a + L))
	name=$(printf 'seg-%010d-%010d.mkv' $a $b)
	"$R" "${SMALL[@]}" --log-level error --frames $N --range $a:$b -o "$D/$name" 2>> err ||
		not_ok "chunk $a:$b: $(cat err)"
	printf 'segment %d %d %d %s\n' $a $b "$(stat -c %s "$D/$name")" \
		"$(sha256sum < "$D/$name" | cut -c1-64)" >> "$D/plan"
done
check "--plan-check lists the three segments" \
	'[ "$("$R" --plan-check $D 2>&1)" = "$(printf "0 10\n10 20\n20 25")" ]'
expect 2 "add --resume or remove it" "an existing plan without --resume" \
	-- "${SMALL[@]}" --frames $N --segment $L -o out.mkv
expect 2 "fps differs (plan: fps=30/1, this render: fps=25/1)" "a resume of another render" \
	-- "${SMALL[@]}" --frames $N --segment $L --fps 25 -o out.mkv --resume
expect 2 "size differs" "another size" -- --size 32x48 --frames $N --segment $L -o out.mkv --resume

# A plan changed by hand: --plan-check refuses, naming the line, and
# changes nothing; a torn last line is ignored.
cp "$D/plan" plan.good
printf 'segment 5 15 1 %064d\n' 0 >> "$D/plan"
expect 2 "line 6: frames 5:15 are not a segment" "--plan-check: off the grid" -- --plan-check $D
cp plan.good "$D/plan" && printf 'render x=1\n' >> "$D/plan"
expect 2 "line 6: a second render line" "--plan-check: a second render line" -- --plan-check $D
cp plan.good "$D/plan" && printf 'segment 20 25 9' >> "$D/plan"
check "--plan-check: a torn last line is ignored" \
	'[ "$("$R" --plan-check $D 2> /dev/null | wc -l)" -eq 3 ]'
sed -i '1s/1/2/' "$D/plan"
expect 2 "line 1" "--plan-check: bad magic" -- --plan-check $D
cp plan.good "$D/plan"
# A segment changed: not listed; --plan-check leaves it there.
cp "$D/seg-0000000010-0000000020.mkv" seg1.keep
printf 'x' >> "$D/seg-0000000010-0000000020.mkv"
check "--plan-check skips a changed segment" \
	'[ "$("$R" --plan-check $D)" = "$(printf "0 10\n20 25")" ] && [ -e $D/seg-0000000010-0000000020.mkv ]'
cp seg1.keep "$D/seg-0000000010-0000000020.mkv"

# Every frame is in the plan: --resume only joins (no broker: the
# encoder's new options are not needed), and the directory goes.
touch "$D/seg-0000000020-0000000025.part.mkv"
"$R" "${SMALL[@]}" --frames $N --segment $L -o out.mkv --resume 2> err
rc=$?
check "a complete plan resumed: the join alone, exit 0 ($(tail -1 err))" \
	'[ $rc -eq 0 ] && grep -q "wrote out.mkv: 25 frames.*, 3 segments" err'
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
	-of csv=p=0 out.mkv 2> /dev/null)
check "ffprobe counts $N frames in the joined output ($frames)" '[ "$frames" = "$N" ]'
check "the work directory is removed after the join" '[ ! -e $D ]'

# A join that fails (a segment swapped for another render's chunk with
# the plan re-hashed): exit 1, one cause line, the directory kept.
mkdir -m 0700 $D
printf 'fb-segments 1\n%s\n' "$LINE" > "$D/plan"
for a in 0 10; do
	b=$((a + L))
	name=$(printf 'seg-%010d-%010d.mkv' $a $b)
	"$R" "${SMALL[@]}" --log-level error --frames $((N + 1)) --range $a:$b -o "$D/$name" 2>> err
	printf 'segment %d %d %d %s\n' $a $b "$(stat -c %s "$D/$name")" \
		"$(sha256sum < "$D/$name" | cut -c1-64)" >> "$D/plan"
done
name=seg-0000000020-0000000025.mkv
"$R" "${SMALL[@]}" --log-level error --frames $N --range 20:25 -o "$D/$name" 2>> err
printf 'segment 20 25 %d %s\n' "$(stat -c %s "$D/$name")" "$(sha256sum < "$D/$name" | cut -c1-64)" >> "$D/plan"

"$R" "${SMALL[@]}" --frames $N --segment $L -o out2.mkv --work-dir $D --resume 2> err
rc=$?

check "a failed join: exit 1, 'joining the segments failed' ($(head -1 err))" \
	'[ $rc -eq 1 ] && grep -q "joining the segments failed: " err && [ ! -e out2.mkv ]'
check "a failed join keeps the directory and says so" \
	'[ -e $D/plan ] && grep -q "3 of 3 segments kept in $D; run again with --resume" err'
check_clean "nothing of ours left"
finish
