#!/usr/bin/env bash
# The launcher's shape (issue 23): its files call each other in one
# direction only — a file that calls into another is never called back by
# it, directly or around a loop — so fb-render's supervisor loop
# (launcher/supervisor.c) is the only place that decides; no function is
# over 80 lines, no file over 600, and each file says at its top what it is
# for.  The calls are read from the objects' symbol tables (nm), compiled
# here from the sources as they are.
. "$(dirname "$0")/../lib.sh"

make -s -C "$ROOT" BUILD="$TMP/b" \
	$(cd "$ROOT" && for c in launcher/*.c; do echo "$TMP/b/${c%.c}.o"; done) > "$TMP/make.log" 2>&1
objs=$(ls "$TMP"/b/launcher/*.o 2> /dev/null | wc -l)
srcs=$(ls "$ROOT"/launcher/*.c | wc -l)
check "every launcher source compiles on its own ($objs of $srcs objects)" \
	'[ "$objs" -eq "$srcs" ] || { cat "$TMP/make.log"; false; }'

# "caller callee" for every function a launcher object uses that another
# launcher object defines.
for o in "$TMP"/b/launcher/*.o; do
	f=$(basename "$o" .o)
	nm "$o" | awk -v f="$f" '$2 ~ /^[TDRB]$/ {print "D", f, $3} $1 == "U" {print "U", f, $2}'
done | awk '$1 == "D" {def[$3] = $2; next}
	$1 == "U" {use[$2 " " $3] = 1}
	END {for (u in use) {split(u, a, " "); if ((a[2] in def) && def[a[2]] != a[1]) print a[1], def[a[2]]}}' |
	sort -u > "$TMP/edges"
n=$(wc -l < "$TMP/edges")
check "the launcher's files call each other ($n caller-callee pairs; supervisor calls children)" \
	'[ "$n" -ge 5 ] && grep -qx "supervisor children" "$TMP/edges"'
tsort "$TMP/edges" > /dev/null 2> "$TMP/tsort"
check "no circle of calls between launcher files ($(sed "s|$TMP/edges: ||" "$TMP/tsort" | tr "\n" " "))" '[ ! -s "$TMP/tsort" ]'
check "nothing calls up into supervisor.c or fb-render.c" \
	'! awk '\''$2 == "supervisor" && $1 != "fb-render" || $2 == "fb-render"'\'' "$TMP/edges" | grep -q .'

# Function lengths: from the line naming the function to its closing brace
# at column 0 (the project's style puts both there).
awk '/^[A-Za-z_].*\(/ && !/;[ \t]*$/ {name = $0; line = FNR; next}
	/^\{/ && name != "" {start = line; body = 1; next}
	/^\}/ && body {sub(/\(.*/, "", name); k = split(name, a, /[ *]+/)
		print FNR - start + 1, FILENAME ":" a[k]; body = 0; name = ""}' "$ROOT"/launcher/*.c |
	sort -rn > "$TMP/lengths"
long=$(awk '$1 > 80' "$TMP/lengths" | tr '\n' ' ')
check "no launcher function over 80 lines (longest: $(head -1 "$TMP/lengths" | sed "s|$ROOT/||"))${long:+ (over: $long)}" \
	'[ "$(wc -l < "$TMP/lengths")" -ge 20 ] && [ -z "$long" ]'
big=$(wc -l "$ROOT"/launcher/*.[ch] | awk '$2 != "total" && $1 > 600' | tr '\n' ' ')
check "no launcher file over 600 lines${big:+ (over: $big)}" '[ -z "$big" ]'
bare=
for f in "$ROOT"/launcher/*.[ch]; do
	head -1 "$f" | grep -q '^/\*' || bare+=" ${f#"$ROOT"/}"
done
check "every launcher file opens with a comment${bare:+ (not:$bare)}" '[ -z "$bare" ]'
finish
