#!/usr/bin/env bash
# fb-html's command line (issue 22), no browser needed: what it reads from
# the content and hands fb-render (--dry-run prints the command; the
# expected figures come from the compositions' own files, read here with
# sed, and from arithmetic done here), options given winning over the
# content, and every bad input refused in one line, exit 2, before anything
# starts (no fb-render, no segment, no temp directory of ours).
. "$(dirname "$0")/../lib.sh"

COMP=$(cd "$ROOT/../shared/compositions" 2> /dev/null && pwd || echo "$ROOT/../shared/compositions")
command -v node > /dev/null || skip "no node (fb-html checks a hyperframes package with it; make deps)"
FBH=$BIN/fb-html
make -s -C "$ROOT" CC="${FB_CC:-cc}" SAN="${FB_SAN:-}" all > "$TMP/make.log" 2>&1
check "fb-html built" '[ -x "$FBH" ]'

# A hyperframes package made here (fb-html checks it as the worker will,
# html/hyperframes.mjs --check: its name and version, the manifest, the
# runtime it names and that file's sha256); the render is not started.
fakehf() { # fakehf DIR [SHA256]
	mkdir -p "$1/dist"
	echo '{"name": "hyperframes", "version": "0.9.84"}' > "$1/package.json"
	echo 'window.__player = {};' > "$1/dist/rt.js"
	printf '{"artifacts": {"iife": "rt.js"}, "sha256": "%s", "contract": {"globals": {"player": "__player", "renderReady": "__renderReady"}}}\n' \
		"${2:-$(sha256sum < "$1/dist/rt.js" | cut -d' ' -f1)}" > "$1/dist/hyperframe.manifest.json"
}
HFP=$TMP/hf/node_modules/hyperframes
fakehf "$HFP"

# dry ARGS...: fb-html's fb-render command, one word per line.
dry() { "$FBH" --dry-run "$@" | python3 -c 'import shlex,sys; print("\n".join(shlex.split(sys.stdin.read())))'; }
# value WORDS OPTION: the word after OPTION.
value() { grep -A1 -x -- "$2" <<< "$1" | sed -n 2p; }

# A project in a directory: the root composition's attributes.
if [ -d "$COMP/decision-tree" ]; then
	dt=$COMP/decision-tree
	root_attr() { sed -n '/data-composition-id="main"/,/>/p' "$dt/index.html" | sed -n "s/.*$1=\"\([^\"]*\)\".*/\1/p" | head -1; }
	w=$(root_attr data-width) h=$(root_attr data-height) dur=$(root_attr data-duration)
	out=$(dry "$dt" --hyperframes "$HFP")
	check "decision-tree: --size ${w}x$h from its root composition" '[ "$(value "$out" --size)" = "${w}x$h" ]'
	check "decision-tree: 30 fps (hyperframes' default: no data-fps)" '[ "$(value "$out" --fps)" = 30 ]'
	check "decision-tree: --frames $((dur * 30)) ($dur s at 30 fps)" '[ "$(value "$out" --frames)" = $((dur * 30)) ]'
	check "decision-tree: jpeg frames by default" '[ "$(value "$out" --frame-format)" = jpeg ]'
	src=$(value "$out" --source)
	check "the source is the Chrome worker with the project's root and runtime" \
		'[[ $src == attach:*/html/worker.mjs\ --root\ "$dt"\ --hyperframes\ "$HFP"\ --\ index.html ]]'
	out=$(dry "$dt" --hyperframes "$HFP" --size 640x360 --fps 24 --frames 10 --frame-format png --workers 3 --range 2:5 -o x.mkv -- -c:v ffv1)
	check "options given win over the content (size, fps, frames, format)" \
		'[ "$(value "$out" --size)" = 640x360 ] && [ "$(value "$out" --fps)" = 24 ] && [ "$(value "$out" --frames)" = 10 ] && [ "$(value "$out" --frame-format)" = png ]'
	check "fb-render's options and the ffmpeg options pass through" \
		'[ "$(value "$out" --workers)" = 3 ] && [ "$(value "$out" --range)" = 2:5 ] && [ "$(value "$out" -o)" = x.mkv ] && [ "$(tail -2 <<< "$out" | tr "\n" " ")" = "-c:v ffv1 " ]'
	out=$(dry "$dt" --hyperframes "$HFP" --fps 7/3)
	check "--fps 7/3 over $dur s: ceil($dur*7/3) = $(((dur * 7 + 2) / 3)) frames" '[ "$(value "$out" --frames)" = $(((dur * 7 + 2) / 3)) ]'
else
	ok "# skip: no $COMP/decision-tree"
fi

# Content made here: a plain page (viewport meta), odd paths.
mkdir -p "$TMP/it's a dir"
page="$TMP/it's a dir/p.html"
echo '<html><head><meta name="viewport" content="width=640, height=360"></head><body>x</body></html>' > "$page"
out=$(dry "$page" --duration 2.5)
check "a plain page: --size from its viewport meta, --duration 2.5 = 75 frames at 30 fps" \
	'[ "$(value "$out" --size)" = 640x360 ] && [ "$(value "$out" --frames)" = 75 ]'
src=$(value "$out" --source)
check "a path with a space and a quote reaches fb-render's source quoted" \
	'[[ $src == *"--root '"'"'$TMP/it'"'"'\"'"'"'\"'"'"'s a dir'"'"' -- p.html" ]]'
"$FBH" "$page" --duration 0.5 --check -o "$TMP/o.mp4" 2> "$TMP/check.err"
check "fb-render --check accepts that source ($(head -c 200 "$TMP/check.err"))" '[ $? -eq 0 ] || false'
out=$(dry "https://example.invalid/x.html" --size 320x240 --frames 5)
check "a URL goes to the worker as is" '[[ $(value "$out" --source) == *" https://example.invalid/x.html" ]]'

# Bad input: one line, exit 2, nothing started.
mkdir -p "$TMP/empty" "$TMP/bad"
bad() { # bad DESCRIPTION EXPECTED-WORDS ARGS...
	local d=$1 want=$2
	shift 2
	"$FBH" "$@" > "$TMP/bad.out" 2> "$TMP/bad.err"
	local rc=$? n
	n=$(wc -l < "$TMP/bad.err")
	if [ $rc -eq 2 ] && [ "$n" -eq 1 ] && grep -q -- "$want" "$TMP/bad.err" && [ ! -s "$TMP/bad.out" ]; then
		ok "$d: exit 2, one line ($(cat "$TMP/bad.err"))"
	else
		not_ok "$d: exit $rc, $n lines: $(head -3 "$TMP/bad.err")"
	fi
}
mkproj() { # mkproj DIR ATTRS: a one-file hyperframes project
	mkdir -p "$1"
	echo "<html><body><div id=r data-composition-id=main $2></div></body></html>" > "$1/index.html"
}
bad "no output" "no output given" "$page" --duration 1
bad "no content" "no page, URL or project" -o "$TMP/o.mp4"
bad "a missing path" "no such file" "$TMP/nope.html" -o "$TMP/o.mp4"
bad "a directory without index.html" "without index.html" "$TMP/empty" -o "$TMP/o.mp4"
bad "an ftp URL" "only http" "ftp://x/y.html" -o "$TMP/o.mp4"
bad "a plain page without a duration" "states no duration" "$page" -o "$TMP/o.mp4"
bad "a page without a size" "states no size" "$ROOT/html/page.html" --duration 1 -o "$TMP/o.mp4"
bad "--source given" "--source is fb-html's own" "$page" --duration 1 --source pattern -o "$TMP/o.mp4"
bad "an unknown option" "unknown option --bogus" "$page" --bogus -o "$TMP/o.mp4"
bad "--duration and --frames" "both given" "$page" --duration 1 --frames 3 -o "$TMP/o.mp4"
bad "--duration -1" "--duration -1" "$page" --duration -1 -o "$TMP/o.mp4"
bad "--fps 0" "--fps 0" "$page" --duration 1 --fps 0 -o "$TMP/o.mp4"
mkproj "$TMP/bad/w" 'data-width="abc" data-height="1080" data-duration="1"'
bad "data-width abc" "data-width/data-height" "$TMP/bad/w" --hyperframes "$HFP" -o "$TMP/o.mp4"
mkproj "$TMP/bad/huge" 'data-width="16384" data-height="16384" data-duration="1"'
bad "data-width 16384 (8 GiB of slots, then ffmpeg refuses it)" "data-width/data-height" "$TMP/bad/huge" --hyperframes "$HFP" -o "$TMP/o.mp4"
mkproj "$TMP/bad/d" 'data-width="64" data-height="64" data-duration="1e999"'
bad "data-duration 1e999" "data-duration" "$TMP/bad/d" --hyperframes "$HFP" -o "$TMP/o.mp4"
mkproj "$TMP/bad/fps" 'data-width="64" data-height="64" data-duration="1" data-fps="30;rm"'
bad "data-fps '30;rm'" "data-fps" "$TMP/bad/fps" --hyperframes "$HFP" -o "$TMP/o.mp4"
mkproj "$TMP/bad/nodur" 'data-width="64" data-height="64"'
bad "a project with no duration anywhere" "states no duration" "$TMP/bad/nodur" --hyperframes "$HFP" -o "$TMP/o.mp4"
mkproj "$TMP/bad/nohf" 'data-width="64" data-height="64" data-duration="1"'
bad "a project, no hyperframes package" "needs the npm package hyperframes" "$TMP/bad/nohf" --hyperframes "$TMP/empty" -o "$TMP/o.mp4"
fakehf "$TMP/hfsum" 0000
bad "a runtime whose sha256 is not the manifest's" "not the manifest's" "$TMP/bad/nohf" --hyperframes "$TMP/hfsum" -o "$TMP/o.mp4"
fakehf "$TMP/hffifo"
rm "$TMP/hffifo/dist/rt.js" && mkfifo "$TMP/hffifo/dist/rt.js"
bad "a runtime that is a FIFO (no hang)" "not a regular file" "$TMP/bad/nohf" --hyperframes "$TMP/hffifo" -o "$TMP/o.mp4"
fakehf "$TMP/hfold" && sed -i 's/0.9.84/0.8.170/' "$TMP/hfold/package.json"
bad "hyperframes 0.8.170 (its runtime has no manifest contract)" "holds hyperframes 0.8.170" "$TMP/bad/nohf" --hyperframes "$TMP/hfold" -o "$TMP/o.mp4"
bad "--hyperframes on a plain page" "no root composition" "$page" --duration 1 --hyperframes "$HFP" -o "$TMP/o.mp4"
# A project whose duration is its sub-compositions' (as hyperframes derives it).
mkdir -p "$TMP/subs"
echo '<div data-composition-id=main data-width=64 data-height=64><div data-composition-src=a.html data-start=1 data-duration=2></div></div>' > "$TMP/subs/index.html"
out=$(dry "$TMP/subs" --hyperframes "$HFP")
check "no root data-duration: the sub-compositions' end (3 s = 90 frames)" '[ "$(value "$out" --frames)" = 90 ]'
check "nothing written for the refused renders" '[ ! -e "$TMP/o.mp4" ]'
check_clean "fb-html's refusals"
finish
