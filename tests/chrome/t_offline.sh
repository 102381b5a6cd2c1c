#!/usr/bin/env bash
# Real content offline (issue 22 items 3-4; html/serve.mjs, offline.mjs):
# a page served by the worker's own Fetch interception at
# https://fb-html.invalid/ (--root DIR) loads GSAP from its jsDelivr URL and
# Inter 600 from a Google Fonts stylesheet, with no internet: both come
# from html/node_modules.  Checked with pixels: the page's frames equal
# (PSNR >= 50 dB) a reference page drawing the same text in the local
# font file referenced directly and the box where the test computes it,
# while the same text in the fallback font does not (< 35 dB: the check can
# fail).  An unknown external script is aborted with exactly one warning
# line naming it (2 workers: said once per render); path escapes (../ as
# %2f, a symlink out of the root) are refused while a file inside is
# served (the page fails its render otherwise); two renders of the same
# input give byte-identical JPEG frames (framemd5 of -c:v copy).
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/chrome.sh"
chrome_setup gsap @fontsource/inter

W=480 H=270 N=12
S=$TMP/site
mkdir -p "$S" "$TMP/outside"
echo secret > "$TMP/secret.txt"
echo secret > "$TMP/outside/secret.txt"
ln -s "$TMP/outside" "$S/link"
echo fine > "$S/ok.txt"
cp "$EX/node_modules/@fontsource/inter/files/inter-latin-600-normal.woff2" "$S/inter600.woff2"

# The page and its references share the text and the box: only the font's
# source and the box's mover differ.  The box moves 20 px a frame (GSAP's
# linear ease: x = 600 px/s * t).
body='<div id="t">Hamburgefonstiv 0123</div><div id="b"></div>'
style='body{margin:0;background:#fff} #t{font:600 44px/1 F,monospace;position:absolute;top:40px;left:10px;color:#111}
#b{position:absolute;top:150px;left:0;width:60px;height:60px;background:#c33}'
cat > "$S/page.html" << EOF
<!doctype html><html><head>
<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Inter:wght@600&display=block">
<script src="https://cdn.jsdelivr.net/npm/gsap@3.14.2/dist/gsap.min.js"></script>
<script src="https://example.invalid/unknown.js"></script>
<style>${style/F,/Inter,}</style></head><body>$body<script>
const tl = gsap.timeline({ paused: true }).to('#b', { x: 600, duration: 1, ease: 'none' });
// Escapes must fail, the file inside must be served: else the render fails.
const probes = Promise.all(['/..%2fsecret.txt', '/link/secret.txt', '/%2e%2e/secret.txt', '/ok.txt']
	.map((u) => fetch(u).then((r) => r.ok, () => false)));
window.fbSeek = async (f, fps) => {
	const [a, b, c, ok] = await probes;
	if (a || b || c || !ok) throw new Error('probes ' + [a, b, c, ok]);
	await document.fonts.ready;
	tl.seek(f / fps);
};
</script></body></html>
EOF
ref() { # ref FILE FONT-CSS
	cat > "$S/$1" << EOF
<!doctype html><html><head><style>$2 ${style/F,/X,}</style></head><body>$body<script>
window.fbSeek = async (f, fps) => {
	await document.fonts.ready;
	document.getElementById('b').style.transform = 'translate(' + (600 * f / fps) + 'px, 0px)';
};
</script></body></html>
EOF
}
ref ref.html "@font-face{font-family:X;font-weight:600;src:url(/inter600.woff2) format('woff2')}"
ref fallback.html ""

render() { # render PAGE OUT [FORMAT]
	fb-render --size ${W}x$H --fps 30 --frames $N --frame-format "${3:-png}" --workers 2 \
		--source "attach:node $EX/worker.mjs --root $S $1" -o "$2" -- -c:v copy 2> "$2.err"
}
render page.html "$TMP/page.mkv"
check "the offline page renders ($(tail -2 "$TMP/page.mkv.err" | tr '\n' '~'))" '[ -s "$TMP/page.mkv" ]'
render ref.html "$TMP/ref.mkv"
render fallback.html "$TMP/fallback.mkv"
psnr() { ffmpeg -nostdin -i "$1" -i "$2" -lavfi "[0][1]psnr" -f null - 2>&1 | sed -n 's/.*PSNR.* average:\([^ ]*\).*/\1/p'; }
p=$(psnr "$TMP/page.mkv" "$TMP/ref.mkv")
check "Inter 600 from the Google Fonts URL, GSAP from jsDelivr: as the local font file and the computed box (PSNR $p dB >= 50)" \
	'[ "$p" = inf ] || awk "BEGIN{exit !($p >= 50)}"'
p=$(psnr "$TMP/page.mkv" "$TMP/fallback.mkv")
check "the fallback font differs (PSNR $p dB < 35)" 'awk "BEGIN{exit !($p < 35)}"'
n=$(grep -c 'example.invalid/unknown.js' "$TMP/page.mkv.err")
check "the unknown external script: one warning line naming it ($n)" '[ "$n" = 1 ]'
n=$(grep -c 'refused (outside the served root)' "$TMP/page.mkv.err")
check "the escapes refused, said once each ($n lines: ..%2f, the symlink)" '[ "$n" = 2 ]'
check "nothing else said: $(grep -v 'example.invalid\|refused\|secret.txt\|^fb-render: wrote' "$TMP/page.mkv.err" | head -3 | tr '\n' '~')" \
	'! grep -v "example.invalid\|refused\|secret.txt\|^fb-render: wrote" "$TMP/page.mkv.err" | grep -q .'

# Repeatable: the same input twice, JPEG frames compared byte for byte.
render page.html "$TMP/a.mkv" jpeg
render page.html "$TMP/b.mkv" jpeg
ffmpeg -nostdin -loglevel error -i "$TMP/a.mkv" -c copy -f framemd5 - | grep -v '^#' | cut -d, -f6 > "$TMP/a.md5"
ffmpeg -nostdin -loglevel error -i "$TMP/b.mkv" -c copy -f framemd5 - | grep -v '^#' | cut -d, -f6 > "$TMP/b.md5"
check "two renders: $N byte-identical JPEG frames ($(wc -l < "$TMP/a.md5") and $(sort -u "$TMP/a.md5" | wc -l) distinct)" \
	'[ "$(wc -l < "$TMP/a.md5")" = $N ] && cmp -s "$TMP/a.md5" "$TMP/b.md5"'
finish
