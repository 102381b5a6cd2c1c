// bench/chrome/hf_page.mjs HYPERFRAMES_DIR COMPILED_DIR PROJECT_DIR FPS OUT.html
// (Node >= 22): write the page exactly as hyperframes' render file server
// serves it to Chrome, plus a `window.fbSeek(frame, fps)` hook, so that
// framebroker's Chrome worker renders the same composition from a plain
// file: with the same runtime, shims and seek.
//
// Why not a copy of the template: hyperframes does not show Chrome the
// project's index.html.  It compiles it (COMPILED_DIR/index.html, kept by
// `hyperframes render --debug`: deterministic fonts inlined, an after-fonts
// gate, text-rendering), then its file server (createFileServer in the
// dist chunk that exports it) injects at the head's start HF_EARLY_STUB, a
// render-mode flag and the virtual-time shim (Date/performance.now/rAF
// driven by seek), in the head its runtime (hyperframe.runtime.iife.js) and
// at the body's end the render-mode script and a bridge that defines
// window.__hf = { duration, seek(t) }.  We run that server once, fetch the
// page, and save it.  The shim builder is not exported: its source is taken
// from the same chunk (hyperframes is pinned by package-lock.json; a
// different build fails loudly here).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [hfDir, compiledDir, projectDir, fpsArg, out] = process.argv.slice(2);
if (!out) {
  console.error("usage: hf_page.mjs HYPERFRAMES_DIR COMPILED_DIR PROJECT_DIR FPS OUT.html");
  process.exit(2);
}
const dist = join(hfDir, "dist");
const chunk = readdirSync(dist)
  .filter((f) => f.startsWith("chunk-") && f.endsWith(".js"))
  .map((f) => ({ f, src: readFileSync(join(dist, f), "utf8") }))
  .find(({ src }) => src.includes("function buildVirtualTimeShim(") && /export \{[^}]*\bcreateFileServer\b/.test(src));
if (!chunk) {
  console.error(`hf_page.mjs: no chunk in ${dist} defines buildVirtualTimeShim and exports createFileServer`);
  process.exit(1);
}
const start = chunk.src.indexOf("function buildVirtualTimeShim(");
const end = chunk.src.indexOf("\nvar VIRTUAL_TIME_SHIM", start);
if (end < 0) {
  console.error("hf_page.mjs: buildVirtualTimeShim's end not found");
  process.exit(1);
}
const buildVirtualTimeShim = new Function(`${chunk.src.slice(start, end)}\nreturn buildVirtualTimeShim;`)();
// What the render uses (VIRTUAL_TIME_SHIM in the chunk): no seeded random.
const shim = buildVirtualTimeShim({ seedRandomFromFrame: false });
const { createFileServer } = await import(pathToFileURL(join(dist, chunk.f)).href);

const fps = Number(fpsArg);
const server = await createFileServer({ projectDir, compiledDir, port: 0, preHeadScripts: [shim], fps });
let html;
try {
  const res = await fetch(`${server.url}/index.html`);
  if (!res.ok) throw new Error(`GET /index.html: ${res.status}`);
  html = await res.text();
} finally {
  server.close();
}

// The hook framebroker's worker calls before each screenshot: what
// hyperframes' prepareFrameForCapture does for a page like this one
// (seek the quantized time t = frame / fps, decode any new CSS background
// images, wait for the runtime's pending seek work), minus what only
// video/LUT/shader compositions need.  fbReady() is hyperframes'
// pollHfReady condition.
const hook = `<script>/* framebroker bench-chrome: fbSeek adapter (bench/chrome/hf_page.mjs) */
window.fbReady = function () {
  return !!(window.__hf && typeof window.__hf.seek === "function" && window.__hf.duration > 0);
};
// The first call waits for what hyperframes waits for before its first
// frame (its GSAP proxy flush, pollHfReady, fonts): a worker may call fbSeek
// as soon as the page has loaded.  Polled with the real setTimeout (the
// virtual-time shim owns the page's clocks).
window.__fbWhenReady = function () {
  if (window.__fbReadyP) return window.__fbReadyP;
  var vt = window.__HF_VIRTUAL_TIME__;
  var later = vt && vt.originalSetTimeout ? vt.originalSetTimeout : window.setTimeout.bind(window);
  var deadline = 450;  // x 100 ms: hyperframes' 45 s player-ready timeout
  // hyperframes' order: flush the GSAP tween batching first (it drains on
  // rAF, which the virtual clock only runs on a seek), then poll.
  if (typeof window.__hfFlushSync === "function") window.__hfFlushSync();
  window.__fbReadyP = new Promise(function (resolve, reject) {
    (function poll() {
      if (typeof window.__hfStartupError === "string") return reject(new Error(window.__hfStartupError));
      if (window.fbReady()) return resolve();
      if (--deadline < 0) return reject(new Error("hyperframes runtime not ready after 45 s (window.__hf)"));
      later(poll, 100);
    })();
  }).then(function () {
    return document.fonts ? document.fonts.ready : null;
  });
  return window.__fbReadyP;
};
window.fbSeek = async function (frame, fps) {
  await window.__fbWhenReady();
  var t = Math.round(frame) / fps;
  window.__hf.seek(t);
  if (typeof window.__hfWaitForSeekCompletion === "function") await window.__hfWaitForSeekCompletion();
  return t;
};
</script>`;
const i = html.lastIndexOf("</body>");
html = i < 0 ? html + hook : html.slice(0, i) + hook + html.slice(i);
writeFileSync(out, html);
console.log(`hf_page.mjs: ${out} (${html.length} bytes, server chunk ${chunk.f})`);
