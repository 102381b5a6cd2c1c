#!/usr/bin/env python3
"""examples/python/matplotlib_plot.py — a matplotlib animation as the
producers of a render: an Agg canvas of the frame's size, drawn for each
frame and copied once into the slot (raw rgba or rgb24), or written into
the slot as one PNG by print_png (--frame-format png):

    fb-render --size 640x360 --source 'attach:/usr/bin/python3 examples/python/matplotlib_plot.py' -o plot.mp4
    fb-render --size 640x360 --frame-format png --source 'attach:/usr/bin/python3 examples/python/matplotlib_plot.py' -o plot.mp4

Plot(width, height, frames).draw(frame) is the drawing alone (the test
compares it with what the render wrote).
"""
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ImportError as e:
    sys.exit(f"matplotlib_plot.py: {sys.executable} lacks {e.name}: run it with an interpreter "
             "that has matplotlib and numpy (Debian: /usr/bin/python3 with python3-matplotlib)")
try:
    import framebroker
except ImportError:  # from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "bindings", "python"))
    import framebroker


class Plot:
    """A damped wave travelling across the axes, one phase step a frame."""

    def __init__(self, width, height, frames):
        self.frames = max(frames, 1)
        self.fig = Figure(figsize=(width / 100, height / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.fig)
        if self.canvas.get_width_height() != (width, height):
            # figsize * dpi rounds down for some sizes: ask for the pixels.
            self.fig.set_size_inches((width + 0.5) / 100, (height + 0.5) / 100)
        if self.canvas.get_width_height() != (width, height):
            sys.exit(f"matplotlib_plot.py: no {width}x{height} canvas "
                     f"(got {self.canvas.get_width_height()})")
        ax = self.fig.add_subplot()
        self.x = np.linspace(0, 4 * np.pi, 400)
        (self.line,) = ax.plot(self.x, np.sin(self.x), lw=2)
        ax.set_ylim(-1.1, 1.1)
        ax.set_xlim(0, 4 * np.pi)
        self.title = ax.set_title("frame 0")

    def draw(self, frame):
        """Draw FRAME; the canvas then holds it."""
        phase = 2 * np.pi * frame / self.frames
        self.line.set_ydata(np.sin(self.x - phase) * np.exp(-self.x / 10))
        self.title.set_text(f"frame {frame}")
        self.canvas.draw()
        return self.canvas


class SlotWriter:
    """A file object writing into a slot's view (print_png's target):
    the PNG is written into the slot itself, no intermediate buffer."""

    def __init__(self, view):
        self.view, self.n = view, 0

    def write(self, b):
        b = memoryview(b).cast("B")
        if self.n + len(b) > len(self.view):
            raise OverflowError(f"the PNG is over the slot's {len(self.view)} bytes")
        self.view[self.n:self.n + len(b)] = b
        self.n += len(b)
        return len(b)

    def flush(self):
        pass


def main():
    with framebroker.attach(sys.argv[1] if len(sys.argv) > 1 else None) as p:
        g = p.geometry
        png = g.frame_format == "png"
        if not png and (g.frame_format != "raw" or g.pix_fmt not in ("rgba", "rgb24")):
            sys.exit(f"matplotlib_plot.py: renders raw rgba or rgb24, or png; not "
                     f"{g.frame_format} {g.pix_fmt}")
        plot = Plot(g.width, g.height, g.frames)
        for frame, view in p:
            canvas = plot.draw(frame)
            if png:
                w = SlotWriter(view)
                try:
                    canvas.print_png(w)
                except OverflowError as e:
                    p.fail(f"matplotlib_plot.py: frame {frame}: {e}")
                    sys.exit(1)
                p.publish(w.n)
            else:
                rgba = np.asarray(canvas.buffer_rgba())  # the canvas's own memory
                p.array()[...] = rgba[:, :, :3] if g.pix_fmt == "rgb24" else rgba  # one copy
                p.publish()


if __name__ == "__main__":
    main()
