#!/usr/bin/env bash
# The library's edges, as built: libframebroker.so exports exactly the
# functions include/framebroker.h declares (nm -D of the built library
# against the header's prototypes, parsed from the header itself by
# tests/helpers/api_names.py: no list kept by hand), and nothing in lib/
# includes a header of tools/ or of a program (each quoted #include
# resolved as the compiler would: the file's own folder, then -Ilib
# -Iinclude).  Judges build/lib/: run after
# `make all`.
. "$(dirname "$0")/../lib.sh"

SO=$ROOT/build/lib/libframebroker.so
check "the shared library is built ($SO)" '[ -e "$SO" ]'

# The header's function declarations (tests/helpers/api_names.py says how
# they are read; tests/bindings/t_library.sh reads them the same way).
python3 "$ROOT/tests/helpers/api_names.py" "$ROOT/include/framebroker.h" > "$TMP/declared" 2> "$TMP/cpp.err"
check "the header's declarations are read ($(head -c 300 "$TMP/cpp.err"))" '[ -s "$TMP/declared" ]'
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
