#!/usr/bin/python3
"""bench/chrome/animate.py PROJECT_DIR DURATION_S: make `hyperframes init
--example blank`'s index.html an animation both renderers can draw offline.

Why each change:
- the template loads GSAP from cdn.jsdelivr.net; the bench runs without
  network, so the <script src> points at the copy npm installed (gsap.min.js,
  copied next to index.html by setup.sh) -- both renderers load that file;
- the blank template's timeline is empty (one static title): hyperframes
  detects static frames and skips capturing them, so a static page would
  compare its frame dedup with our capture; every element here moves on
  every frame (the rotating square, the bar, the counter, the background
  hue), so every frame is a real capture on both sides;
- the frame counter (text set from the timeline's time) makes a wrong seek
  visible in the psnr/ssim comparison.
Idempotent: a project already patched (marker comment) is left alone.
"""
import re
import sys

MARK = "<!-- framebroker bench-chrome animation -->"

ELEMENTS = """
      <div id="bg" class="clip" data-start="0" data-duration="{d}" data-track-index="1"></div>
      <div id="square" class="clip" data-start="0" data-duration="{d}" data-track-index="2"></div>
      <div id="bar" class="clip" data-start="0" data-duration="{d}" data-track-index="3"></div>
      <div id="counter" class="clip" data-start="0" data-duration="{d}" data-track-index="4">0</div>
"""

STYLE = """
      #bg { position: absolute; inset: 0; background: linear-gradient(135deg, #1e3a8a, #9d174d); }
      #square { position: absolute; left: 760px; top: 340px; width: 400px; height: 400px;
                background: #f59e0b; border-radius: 40px; box-shadow: 0 20px 60px rgba(0,0,0,.5); }
      #bar { position: absolute; left: 0; bottom: 0; height: 24px; width: 0; background: #22d3ee; }
      #counter { position: absolute; right: 60px; top: 40px; color: #fff; font: 700 96px monospace; }
      #title { position: relative; z-index: 5; }
"""

TWEENS = """
      const D = {d};
      tl.fromTo("#title", {{ opacity: 0, y: 120 }}, {{ opacity: 1, y: -300, duration: D, ease: "none" }}, 0);
      tl.to("#square", {{ rotation: 720, x: 500, scale: 0.5, duration: D, ease: "sine.inOut" }}, 0);
      tl.to("#bar", {{ width: 1920, duration: D, ease: "none" }}, 0);
      tl.to("#bg", {{ filter: "hue-rotate(360deg)", duration: D, ease: "none" }}, 0);
      const ctr = {{ v: 0 }};
      tl.to(ctr, {{ v: D * 1000, duration: D, ease: "none",
                   onUpdate: () => {{ document.getElementById("counter").textContent =
                                      String(Math.round(ctr.v)).padStart(5, "0"); }} }}, 0);
"""


def main():
    proj, dur = sys.argv[1], sys.argv[2]
    path = proj + "/index.html"
    with open(path, encoding="utf-8") as f:
        html = f.read()
    if MARK in html:
        return
    html, n = re.subn(r'<script src="https://cdn\.jsdelivr\.net/npm/gsap@[^"]*/gsap\.min\.js"></script>',
                      '<script src="gsap.min.js"></script>', html)
    if n != 1:
        sys.exit("animate.py: no GSAP CDN script in %s (template changed?)" % path)
    html = html.replace('data-duration="10"', 'data-duration="%s"' % dur)
    html = html.replace("</style>", STYLE + "    </style>", 1)
    html, n = re.subn(r'(<div\s+id="root"[^>]*>)', lambda m: m.group(1) + ELEMENTS.format(d=dur), html)
    if n != 1:
        sys.exit("animate.py: no #root in %s" % path)
    html, n = re.subn(r'\n\s*// Example: tl\.fromTo[^\n]*', TWEENS.format(d=dur), html)
    if n != 1:
        sys.exit("animate.py: no example tween line in %s" % path)
    html = html.replace("<body>", "<body>\n    " + MARK, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)


if __name__ == "__main__":
    main()
