#!/usr/bin/env python3
"""tests/helpers/progress.py FILE EXPR... — judge a file written by fb-render --progress.

The file is key=value lines in blocks, each ended by a "progress=" line
(ffmpeg's -progress format).  Every EXPR is a Python expression evaluated
with `blocks` (the list of blocks, each a dict), `last` (the last block)
and `rest` (keys after the last block: a torn write) in scope; the first
that is false exits 1 naming it and the last block.
"""
import sys


def read(path):
    blocks, cur = [], {}
    for line in open(path).read().splitlines():
        key, value = line.split("=", 1)
        cur[key] = value
        if key == "progress":
            blocks.append(cur)
            cur = {}
    return blocks, cur


def main():
    blocks, rest = read(sys.argv[1])
    scope = {"blocks": blocks, "last": blocks[-1] if blocks else {}, "rest": rest}
    for expr in sys.argv[2:]:
        if not eval(expr, scope):
            sys.exit(f"progress.py: not true: {expr}; last block: {scope['last']}")


main()
