#!/usr/bin/env bash
# The Python binding (bindings/python, issue 16): the three examples render
# through fb-render --source 'attach:PY examples/python/X.py' and their
# frames are checked (numpy_waves against its formula recomputed here in
# pure Python; matplotlib_plot and pillow_card against their drawing code
# run alone, raw and as PNG frames decoded by ffmpeg); the package installs
# with pip offline; then the pytest suite (tests/bindings/python) runs against live
# renders, and its closing line is echoed.
#
# PY is an interpreter with numpy, matplotlib, PIL and pytest (Debian's
# /usr/bin/python3; the python3 first on PATH may be another one): the
# first of $FB_PYTHON, /usr/bin/python3, every python3 on PATH that has them.
# In a sanitizer build (FB_SAN) the library is instrumented and Python is
# not: PY is then a wrapper preloading the compiler's ASan runtime.
. "$(dirname "$0")/../lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

PY= tried=()
for cand in ${FB_PYTHON:-} /usr/bin/python3 $(type -ap python3); do
	tried+=("$cand")
	if "$cand" -c 'import numpy, matplotlib, PIL, pytest' 2> /dev/null; then
		PY=$cand
		break
	fi
done
check "an interpreter with numpy, matplotlib, PIL and pytest: ${PY:-none of ${tried[*]} has them (Debian: apt-get install python3-numpy python3-matplotlib python3-pil python3-pytest)}" \
	'[ -n "$PY" ]'
[ -n "$PY" ] || { finish; exit; }
echo "# interpreter: $PY ($("$PY" --version 2>&1))"
if [[ ${FB_SAN:-} == *address* ]]; then
	asan=$("${FB_CC:-cc}" -print-file-name=libclang_rt.asan-x86_64.so)
	[ -f "$asan" ] || asan=$("${FB_CC:-cc}" -print-file-name=libasan.so)
	check "SAN=$FB_SAN: the ASan runtime to preload into Python exists ($asan)" '[ -f "$asan" ]'
	printf '#!/bin/sh\nLD_PRELOAD=%q ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 exec %q "$@"\n' \
		"$asan" "$PY" > "$TMP/python"
	chmod +x "$TMP/python"
	PY=$TMP/python
	echo "# SAN=$FB_SAN: Python runs with LD_PRELOAD=$asan (the library is instrumented)"
fi
EX=$ROOT/examples/python

# numpy_waves: the formula, recomputed here in pure Python.
W=160 H=90 N=24
fb-render --size ${W}x$H --frames $N --workers 2 --slots 4 \
	--source "attach:$PY $EX/numpy_waves.py" --sink raw -o "$TMP/waves.raw" 2> "$TMP/err.waves"
rc=$?
python3 - "$TMP/waves.want" $W $H $N rgba << 'PY'
import sys
path, w, h, n, fmt = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]
def tri(v): return min(abs(v % 512 - 256), 255)
with open(path, "wb") as out:
    for f in range(n):
        px = bytearray()
        for y in range(h):
            for x in range(w):
                r, g, b = tri(4 * x + 6 * f), tri(3 * y + 4 * f), tri(2 * x + 2 * y + 10 * f)
                px += bytes({"rgba": (r, g, b, 255), "bgra": (b, g, r, 255), "rgb24": (r, g, b)}[fmt])
        out.write(px)
PY
check "numpy_waves.py, K=2, rgba: exit 0, every byte as the formula says ($(tr '\n' '~' < "$TMP/err.waves"))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/waves.raw" "$TMP/waves.want"'
fb-render --size ${W}x$H --pix-fmt bgra --frames 6 --workers 1 \
	--source "attach:$PY $EX/numpy_waves.py" --sink raw -o "$TMP/wavesb.raw" 2> "$TMP/err.wavesb"
rc=$?
check "numpy_waves.py, bgra: exit 0, the same colours in bgra order" \
	'[ $rc -eq 0 ] && [ "$(python3 -c "
import sys
a, b = open(sys.argv[1], \"rb\").read(), open(sys.argv[2], \"rb\").read()[:len(open(sys.argv[1], \"rb\").read())]
print(all(a[i:i+4] == bytes((b[i+2], b[i+1], b[i], b[i+3])) for i in range(0, len(a), 4)))
" "$TMP/wavesb.raw" "$TMP/waves.want")" = True ]'
# As the docs show it: into ffmpeg, an mp4 with every frame.
fb-render --size ${W}x$H --frames $N --workers 2 --source "attach:$PY $EX/numpy_waves.py" \
	-o "$TMP/waves.mp4" 2> "$TMP/err.mp4"
rc=$?
got=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
	-of csv=p=0 "$TMP/waves.mp4" 2> /dev/null)
check "numpy_waves.py into ffmpeg (x264): exit 0, $N frames (ffprobe: ${got:-none})" \
	'[ $rc -eq 0 ] && [ "$got" = $N ]'

# matplotlib_plot and pillow_card: each frame equals the example's drawing
# code run alone, in this interpreter (the render must deliver exactly it).
drawn() { # drawn EXAMPLE W H N OUT: the frames drawn without framebroker (rgba, and gray
	# for pillow_card into OUT.gray; matplotlib: rgb24 into OUT.rgb24, the alpha dropped)
	PYTHONPATH=$EX "$PY" - "$@" << 'PY'
import sys
ex, w, h, n, out = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]
with open(out, "wb") as f, open(out + (".rgb24" if ex == "matplotlib_plot" else ".gray"), "wb") as g:
    if ex == "matplotlib_plot":
        import numpy as np
        from matplotlib_plot import Plot
        plot = Plot(w, h, n)
        for i in range(n):
            rgba = np.asarray(plot.draw(i).buffer_rgba())
            f.write(rgba.tobytes())
            g.write(rgba[:, :, :3].tobytes())
    else:
        from PIL import Image
        from pillow_card import draw
        for i in range(n):
            for mode, o in (("RGBA", f), ("L", g)):
                im = Image.new(mode, (w, h))
                draw(im, i)
                o.write(im.tobytes())
PY
}
# matplotlib starts slowly (seconds on a loaded machine): one producer, few
# frames; Pillow: two producers.
W=160 H=120 N=6
drawn matplotlib_plot $W $H $N "$TMP/matplotlib_plot.want"
drawn pillow_card $W $H $N "$TMP/pillow_card.want"
for ex in matplotlib_plot:rgba:1 matplotlib_plot:rgb24:1 pillow_card:rgba:2 pillow_card:gray:2; do
	IFS=: read -r name fmt k <<< "$ex"
	want=$TMP/$name.want
	[ $fmt = rgba ] || want=$want.$fmt
	fb-render --size ${W}x$H --pix-fmt $fmt --frames $N --workers $k \
		--source "attach:$PY $EX/$name.py" --sink raw -o "$TMP/$name.$fmt.raw" 2> "$TMP/err.$name"
	rc=$?
	check "$name.py, K=$k, $fmt: exit 0, frames identical to its drawing alone ($(tr '\n' '~' < "$TMP/err.$name"))" \
		'[ $rc -eq 0 ] && [ -s "$want" ] && cmp -s "$TMP/$name.$fmt.raw" "$want"'
done
# PNG frames (print_png into the slot), decoded by ffmpeg from a lossless file.
fb-render --size ${W}x$H --frame-format png --frames $N --workers 1 \
	--source "attach:$PY $EX/matplotlib_plot.py" -o "$TMP/plot.mkv" -- -c:v ffv1 -pix_fmt rgba 2> "$TMP/err.png"
rc=$?
ffmpeg -v error -i "$TMP/plot.mkv" -f rawvideo -pix_fmt rgba - > "$TMP/plot.png.raw" 2> /dev/null
check "matplotlib_plot.py, --frame-format png: exit 0, ffmpeg decodes the drawn frames ($(tr '\n' '~' < "$TMP/err.png"))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/plot.png.raw" "$TMP/matplotlib_plot.want"'
# A format an example does not render: refused with a line, the render fails.
fb-render --size 32x32 --pix-fmt yuv420p --frames 4 --workers 1 \
	--source "attach:$PY $EX/pillow_card.py" --sink raw -o "$TMP/no.raw" 2> "$TMP/err.no"
rc=$?
check "pillow_card.py with yuv420p: exit 1, says what it renders ($(tr '\n' '~' < "$TMP/err.no"))" \
	'[ $rc -eq 1 ] && grep -q "renders raw rgba or gray, not raw yuv420p" "$TMP/err.no"'

# pip, offline, with Debian's setuptools: into a target directory (never the
# system), from a copy (an in-tree build would write build/ and egg-info).
cp -r "$ROOT/bindings/python" "$TMP/pkg"
PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install --disable-pip-version-check --no-build-isolation --no-index --quiet --target "$TMP/site" "$TMP/pkg" \
	> "$TMP/pip.log" 2>&1
rc=$?
check "pip install --no-build-isolation --no-index: exit 0 ($(tail -n 2 "$TMP/pip.log" | tr '\n' '~'))" \
	'[ $rc -eq 0 ] && [ -f "$TMP/site/framebroker/__init__.py" ]'
(cd "$TMP" && PYTHONPATH=$TMP/site FRAMEBROKER_LIB=$ROOT/build/lib/libframebroker.so.0 \
	fb-render --size 64x32 --frames 10 --source "attach:$PY $EX/numpy_fill.py" --sink raw \
	-o "$TMP/fill.raw" 2> "$TMP/err.fill")
rc=$?
python3 -c 'import sys; sys.stdout.buffer.write(b"".join(bytes([i]) * 8192 for i in range(10)))' > "$TMP/fill.want"
check "the installed package (FRAMEBROKER_LIB=build/lib) renders numpy_fill.py exactly ($(tr '\n' '~' < "$TMP/err.fill"))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/fill.raw" "$TMP/fill.want"'
check "... and it is the installed copy that was imported" \
	'[ "$(cd "$TMP" && PYTHONPATH=$TMP/site "$PY" -c "import framebroker; print(framebroker.__file__)")" = "$TMP/site/framebroker/__init__.py" ]'

# The pytest suite; its closing line is the verdict.
(cd "$ROOT" && FB_PYTHON=$PY FB_PY_NOTES=$TMP/notes "$PY" -m pytest -q -p no:cacheprovider --basetemp="$TMP/pytest" \
	tests/bindings/python) > "$TMP/pytest.log" 2>&1
rc=$?
closing=$(grep -E '[0-9]+ (passed|failed|error)' "$TMP/pytest.log" | tail -n 1)
[ $rc -eq 0 ] || tail -n 40 "$TMP/pytest.log"
[ -f "$TMP/notes" ] && sed 's/^/# /' "$TMP/notes"
echo "# pytest: ${closing:-no closing line}"
check "pytest tests/bindings/python: exit 0 (${closing:-no closing line})" \
	'[ $rc -eq 0 ] && [[ $closing == *passed* ]] && [[ $closing != *failed* ]]'

check_clean "python"
finish
