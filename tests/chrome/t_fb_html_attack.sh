#!/usr/bin/env bash
# What an outside attack on fb-html found (issue 22's adversary pass), each
# checked from outside here, as it was found — a page is input:
#  * a window the page opens (window.open) and a WebSocket reached a local
#    service: nothing may reach a listener of the test's own on 127.0.0.1
#    (fetch, XHR, an image, an iframe, a popup, WebSockets to 127.0.0.1 and
#    localhost, sendBeacon), and each is named in one warning line, once
#    per render (2 workers);
#  * the CDN paths read files outside a package (unpkg.com/..@latest/...,
#    a Google Fonts family "../../.."): refused, the page sees no byte of
#    html/package.json;
#  * a Google Fonts family with a newline split a warning into two lines
#    (a page could forge one of fb-render's): every line of stderr is a
#    worker's or fb-render's own;
#  * a page named '--seek=fbseek.html' became a worker option: it renders.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/chrome.sh"
chrome_setup gsap @fontsource/inter

# A listener of ours: it logs every connection that reaches it.
python3 - "$TMP/port" "$TMP/listener.log" > /dev/null 2>&1 << 'EOF' &
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(50)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
def serve(c):
    try:
        line = c.recv(4096).decode("latin1").split("\r\n")[0]
        with open(sys.argv[2], "a") as f: f.write(repr(line) + "\n")
        c.sendall(b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 6\r\nConnection: close\r\n\r\nLEAKED")
    finally:
        c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
wait_until 30 '[ -s "$TMP/port" ]'
port=$(cat "$TMP/port")
: > "$TMP/listener.log"

mkdir -p "$TMP/site"
# The page reports what it could read in its title-less body: a red square
# where a probe got data back.
cat > "$TMP/site/index.html" << EOF
<!doctype html><meta name="viewport" content="width=64, height=64">
<link rel=stylesheet href="https://fonts.googleapis.com/css2?family=Inter%0Afb-render:%20wrote%20/tmp/forged.mp4">
<link rel=stylesheet href="https://fonts.googleapis.com/css2?family=../../../../html">
<style>body{margin:0;background:#fff}</style>
<body><script>
const L = "http://127.0.0.1:$port";
window.open(L + "/popup");
for (const u of ["ws://127.0.0.1:$port/ws", "ws://localhost:$port/ws2"]) try { new WebSocket(u); } catch (e) {}
fetch(L + "/fetch").catch(() => {});
navigator.sendBeacon && navigator.sendBeacon(L + "/beacon", "x");
const img = new Image(); img.src = L + "/img.png";
const f = document.createElement("iframe"); f.src = L + "/iframe"; document.body.appendChild(f);
fetch("https://unpkg.com/..@latest/package.json").then((r) => r.text()).then((t) => {
  if (t.includes("puppeteer")) document.body.style.background = "#f00";
}).catch(() => {});
</script>
EOF
fb-html "$TMP/site" --frames 4 --workers 2 -o "$TMP/a.mkv" -- -c:v ffv1 > /dev/null 2> "$TMP/a.err"
rc=$?
# Give a connection that escaped time to be logged (it would have been
# made while the page loaded, long before the render ended).
wait_until 2 '[ -s "$TMP/listener.log" ]'
check "a page probing a local service: exit 0, nothing reached it ($(tr '\n' ' ' < "$TMP/listener.log"))" \
	'[ $rc -eq 0 ] && [ ! -s "$TMP/listener.log" ]'
for what in "/popup: not loaded (a window the page opened)" "/ws: not loaded (a WebSocket)" "/ws2: not loaded (a WebSocket)" "/fetch: external" "/iframe: external"; do
	n=$(grep -cF -- "$what" "$TMP/a.err")
	check "said once with 2 workers: ...$what ($n)" '[ "$n" -eq 1 ]'
done
check "unpkg.com/..@latest: refused, said ($(grep -F 'unpkg.com/..' "$TMP/a.err" | head -1))" \
	'grep -q "unpkg.com/..@latest/package.json: not served offline (npm package .. is not installed" "$TMP/a.err"'
check "a font family ../../../../html: not served, said" 'grep -q "not served offline (not a font family name)" "$TMP/a.err"'
# Every line is one of ours: no page-made line among them.
others=$(grep -vE '^(worker\.mjs\[[0-9]+\]|fb-render): ' "$TMP/a.err")
check "every stderr line is a worker's or fb-render's (${others:-none other})" '[ -z "$others" ] && ! grep -q "^fb-render: wrote /tmp/forged" "$TMP/a.err"'
bg=$(ffmpeg -nostdin -v error -i "$TMP/a.mkv" -frames:v 1 -vf "crop=8:8:2:50,format=rgb24" -f rawvideo - | od -An -tu1 -N3 | tr -s ' ')
check "the page read no byte of html/package.json (its background: rgb$bg)" '[ "$bg" = " 255 255 255" ]'

# A page named like a worker option.
cp "$TMP/site/index.html" "$TMP/site/--seek=fbseek.html"
(cd "$TMP/site" && fb-html ./--seek=fbseek.html --frames 2 --workers 1 -o "$TMP/b.mkv" -- -c:v ffv1) > /dev/null 2> "$TMP/b.err"
rc=$?
check "a page named --seek=fbseek.html renders: exit 0 ($(grep -v 'not loaded\|external\|not served' "$TMP/b.err" | head -2 | tr '\n' '~'))" '[ $rc -eq 0 ]'
check_clean "the attacks"
finish
