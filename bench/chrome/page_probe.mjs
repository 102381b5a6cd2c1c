// bench/chrome/page_probe.mjs PAGE.html OUTDIR FRAME... (Node, puppeteer-core
// from the bench cache): render the given frames of a fbSeek page the way a
// third-party worker would (one browser, one page, fbSeek then
// Page.captureScreenshot JPEG q100, hyperframes' Chrome flags), one JPEG per
// frame -- checks that fb-index.html seeks right without framebroker, and is
// the recipe HYPERFRAMES.md describes.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

// puppeteer-core from the bench cache (hyperframes depends on it): MODULES=CACHE/node_modules.
const req = createRequire(resolve(process.env.MODULES || "build/bench-chrome/node_modules") + "/");
const { default: puppeteer } = await import(pathToFileURL(req.resolve("puppeteer-core")).href);

const [page_, outDir, ...frames] = process.argv.slice(2);
const W = 1920, H = 1080, FPS = Number(process.env.FPS || 30);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--use-gl=angle", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--disable-gpu-compositing", "--font-render-hinting=none",
         "--force-color-profile=srgb", "--force-device-scale-factor=1", `--window-size=${W},${H}`,
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows", "--hide-scrollbars", "--mute-audio"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: W, height: H, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(resolve(page_)).href, { waitUntil: "domcontentloaded" });
  // fbSeek's first call waits for hyperframes' runtime and the fonts.
  const cdp = await page.createCDPSession();
  const t0 = Date.now();
  for (const f of frames) {
    await page.evaluate((fr, fps) => window.fbSeek(fr, fps), Number(f), FPS);
    const { data } = await cdp.send("Page.captureScreenshot", {
      format: "jpeg", quality: 100, fromSurface: true, captureBeyondViewport: false,
      optimizeForSpeed: true, clip: { x: 0, y: 0, width: W, height: H, scale: 1 },
    });
    writeFileSync(`${outDir}/frame_${String(f).padStart(5, "0")}.jpg`, Buffer.from(data, "base64"));
  }
  console.log(`page_probe: ${frames.length} frames in ${Date.now() - t0} ms`);
} finally {
  await browser.close();
}
