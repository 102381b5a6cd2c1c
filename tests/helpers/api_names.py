#!/usr/bin/env python3
"""api_names.py HEADER — the functions a public header declares, one a line,
sorted: the one derivation of the library's API for the tests that check
it (tests/build/t_layout.sh against the built .so, tests/bindings/
t_library.sh against the installed .so and .a), so no list is kept by hand.

The header goes through the preprocessor ($FB_CC, else cc: comments gone,
conditionals decided as for a C program, macros expanded), and only the
lines that come from HEADER itself are kept; braced bodies (structs, enums)
are dropped, then every top-level statement of the form TYPE NAME(ARGS) —
typedefs excepted — declares one.  Exit 1, with the preprocessor's words on
stderr, if it fails or nothing is declared."""
import os
import re
import subprocess
import sys

header = os.path.realpath(sys.argv[1])
cc = os.environ.get("FB_CC") or "cc"
cpp = subprocess.run([cc, "-E", "-x", "c", header], capture_output=True, text=True)
if cpp.returncode != 0:
    sys.stderr.write(cpp.stderr)
    sys.exit(1)
ours, keep = False, []
for line in cpp.stdout.splitlines(keepends=True):
    m = re.match(r'^# \d+ "([^"]*)"', line)
    if m:
        ours = os.path.realpath(m.group(1)) == header
    elif ours:
        keep.append(line)
src = "".join(keep)
while True:  # innermost braces first, until none is left
    s = re.sub(r"\{[^{}]*\}", " ", src)
    if s == src:
        break
    src = s
names = set()
for stmt in src.split(";"):
    stmt = " ".join(stmt.split())
    if not stmt or stmt.startswith("typedef"):
        continue
    m = re.match(r"^(?:extern )?[\w\s\*]*?\b(\w+)\s*\([^()]*\)(?:\s*__attribute__\s*\(\(.*\)\))?$", stmt)
    if m:
        names.add(m.group(1))
if not names:
    sys.stderr.write("api_names.py: %s declares no function\n" % header)
    sys.exit(1)
print("\n".join(sorted(names)))
