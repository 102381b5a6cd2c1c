#!/usr/bin/env bash
# The library's edges, as built: libframebroker.so exports exactly the
# functions include/framebroker.h declares (nm -D of the built library
# against the header's prototypes, parsed here from the header itself: no
# list kept by hand), and nothing in lib/ includes a header of tools/ or of
# a program (each quoted #include resolved as the compiler would: the
# file's own folder, then -Ilib -Iinclude).  Judges build/lib/: run after
# `make all`.
. "$(dirname "$0")/../lib.sh"

SO=$ROOT/build/lib/libframebroker.so
check "the shared library is built ($SO)" '[ -e "$SO" ]'

# The header's function declarations, read from the preprocessor's output
# (comments gone, conditionals decided as for a C program, macros
# expanded), keeping only the lines that come from framebroker.h itself;
# braced bodies (structs, enums) dropped, then every top-level statement of
# the form TYPE NAME(ARGS) — typedefs excepted — declares one.
${FB_CC:-cc} -E -x c "$ROOT/include/framebroker.h" > "$TMP/header.i" 2> "$TMP/cpp.err"
check "the header preprocesses ($(head -c 300 "$TMP/cpp.err"))" '[ -s "$TMP/header.i" ]'
python3 - "$TMP/header.i" > "$TMP/declared" << 'EOF'
import re, sys
ours, keep = False, []
for line in open(sys.argv[1]):
    m = re.match(r'^# \d+ "([^"]*)"', line)
    if m:
        ours = m.group(1).endswith("include/framebroker.h")
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
print("\n".join(sorted(names)))
EOF
# The defined dynamic symbols but the version nodes (type A), unversioned.
nm -D --defined-only "$SO" 2> "$TMP/nm.err" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u > "$TMP/exported"
check "the header declares functions ($(wc -l < "$TMP/declared")) and the library exports symbols ($(wc -l < "$TMP/exported"))" \
	'[ -s "$TMP/declared" ] && [ -s "$TMP/exported" ]'
extra=$(comm -13 "$TMP/declared" "$TMP/exported" | tr '\n' ' ')
missing=$(comm -23 "$TMP/declared" "$TMP/exported" | tr '\n' ' ')
check "libframebroker.so exports nothing the header does not declare (extra: ${extra:-none})" '[ -z "$extra" ]'
check "libframebroker.so exports every function the header declares (missing: ${missing:-none})" '[ -z "$missing" ]'

# Every quoted #include in lib/ resolves inside lib/ or include/.
bad=
n=0
while IFS= read -r f; do
	while IFS= read -r inc; do
		n=$((n + 1))
		found=
		for d in "$(dirname "$f")" "$ROOT/lib" "$ROOT/include"; do
			[ -e "$d/$inc" ] && { found=$(realpath "$d/$inc"); break; }
		done
		case $found in
		"$ROOT"/lib/* | "$ROOT"/include/*) ;;
		"") bad="$bad ${f#"$ROOT"/}: \"$inc\" (not in lib/ or include/);" ;;
		*) bad="$bad ${f#"$ROOT"/}: \"$inc\" is ${found#"$ROOT"/};" ;;
		esac
	done < <(sed -nE 's/^[ \t]*#[ \t]*include[ \t]*"([^"]+)".*/\1/p' "$f")
done < <(find "$ROOT/lib" -name '*.[ch]')
check "lib/ includes no header of tools/ or of a program ($n quoted includes;${bad:- none outside lib/ and include/})" \
	'[ "$n" -gt 0 ] && [ -z "$bad" ]'

finish
