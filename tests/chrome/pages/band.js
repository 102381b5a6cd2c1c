// tests/chrome/pages/band.js — the clock test pages' readout: band(value)
// draws a 32-bit value as fb-render's test-card band (32 blocks across the
// top H/16 rows, bit 31 leftmost, white = 1), which
// tests/helpers/decode_band.py reads back from the video; split(a, b) packs
// two 16-bit values (a high).  Each page calls it with numbers read from
// its own animation mechanism, so a wrong clock shows as a wrong number.
"use strict";
window.split = (a, b) => ((Math.round(a) & 0xffff) << 16 | (Math.round(b) & 0xffff)) >>> 0;
window.band = (v) => {
  let c = document.getElementById("band");
  if (!c) {
    c = document.createElement("canvas");
    c.id = "band";
    c.style.cssText = "position:fixed;left:0;top:0;z-index:2147483647";
    document.body.appendChild(c);
  }
  const w = window.innerWidth, h = Math.max(1, Math.floor(window.innerHeight / 16));
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  const g = c.getContext("2d", { alpha: false });
  for (let bit = 0; bit < 32; bit++) {
    const x0 = Math.floor(bit * w / 32), x1 = Math.floor((bit + 1) * w / 32);
    g.fillStyle = ((v >>> (31 - bit)) & 1) ? "#fff" : "#000";
    g.fillRect(x0, 0, x1 - x0, h);
  }
};
// translateX of an element's computed transform, in px.
window.tx = (el) => {
  const m = getComputedStyle(el).transform;
  return m === "none" ? 0 : new DOMMatrixReadOnly(m).m41;
};
