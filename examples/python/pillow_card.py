#!/usr/bin/env python3
"""examples/python/pillow_card.py — Pillow draws a title card straight into
each slot: Image.frombuffer over the slot's view is the frame itself, and
ImageDraw writes into it (no copy at all):

    fb-render --size 640x360 --source 'attach:/usr/bin/python3 examples/python/pillow_card.py' -o card.mp4

rgba or gray raw frames (the modes Pillow can map over a buffer as they are:
RGBA and L).  draw(image, frame) is the drawing alone (the test compares it
with what the render wrote).
"""
import os
import sys

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:
    sys.exit(f"pillow_card.py: {sys.executable} has no PIL: run it with an interpreter that "
             "has Pillow (Debian: /usr/bin/python3 with python3-pil)")
try:
    import framebroker
except ImportError:  # from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "bindings", "python"))
    import framebroker

MODES = {"rgba": "RGBA", "gray": "L"}


def draw(im, frame):
    """Frame FRAME of the card onto IM (any size): a background that
    shifts colour, a bar sliding across, the frame number."""
    w, h = im.size
    d = ImageDraw.Draw(im)
    bg = ((frame * 3) % 256, 40, (255 - frame * 3) % 256, 255)
    d.rectangle((0, 0, w - 1, h - 1), fill=bg if im.mode == "RGBA" else bg[0])
    x = (frame * 5) % max(w, 1)
    bar = (255, 220, 0, 255) if im.mode == "RGBA" else 220
    d.rectangle((x, h // 3, min(x + w // 5, w - 1), h // 3 + h // 8), fill=bar)
    ink = (255, 255, 255, 255) if im.mode == "RGBA" else 255
    d.text((w // 20, h - h // 4), f"frame {frame}", fill=ink, font=ImageFont.load_default())


def main():
    with framebroker.attach(sys.argv[1] if len(sys.argv) > 1 else None) as p:
        g = p.geometry
        if g.frame_format != "raw" or g.pix_fmt not in MODES:
            sys.exit(f"pillow_card.py: renders raw rgba or gray, not {g.frame_format} {g.pix_fmt}")
        mode = MODES[g.pix_fmt]
        for frame, view in p:
            im = Image.frombuffer(mode, (g.width, g.height), view, "raw", mode, 0, 1)
            # frombuffer marks the image read-only, and ImageDraw would then
            # draw on a copy; the slot is writable: draw on it.
            im.readonly = 0
            draw(im, frame)
            p.publish()  # im is now stale: cut off the slot (framebroker's guard)


if __name__ == "__main__":
    main()
