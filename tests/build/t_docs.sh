#!/usr/bin/env bash
# Conventions: every program's --help and man page name every option it
# accepts (read from the program's own option table), the man pages render
# without warnings and document exit codes, --version agrees with the
# library's version.
. "$(dirname "$0")/../lib.sh"

version=$(awk '/define FB_VERSION_(MAJOR|MINOR|PATCH)/ {v = v s $3; s = "."} END {print v}' \
	"$ROOT/include/framebroker.h")
# options_of SRC: every long option of the program whose option parsing is
# in SRC: its own table (the entries in SRC), then the tables of the shared
# groups it asks fb_cli for (FB_OPTS_NAME: opts_name[] in tools/fb_cli.c or
# tools/fb_params.c), then the ones every program takes (opts_common[]).
options_of() {
	local src=$1 groups g
	groups="$(grep -oE 'FB_OPTS_[A-Z]+' "$src" | sort -u | tr 'A-Z' 'a-z' | sed 's/^fb_//') opts_common"
	{
		grep -E '^\s*\{ "[a-z-]+", (required|no)_argument' "$src"
		for g in $groups; do
			awk -v g="$g" '$0 ~ "^static const struct option " g "\\[" {t = 1; next}
				t && /^\};/ {t = 0} t' "$ROOT/tools/fb_cli.c" "$ROOT/tools/fb_params.c"
		done
	} | grep -oE '^\s*\{ "[a-z-]+", (required|no)_argument' | grep -oE '"[a-z-]+"' | tr -d '"'
}
for p in render:launcher/options.c broker:broker/fb-broker.c producer:producer/fb-producer.c \
	encoder:encoder/fb-encoder.c stat:stat/fb-stat.c; do
	prog=fb-${p%%:*} src=$ROOT/${p#*:} man=$ROOT/man/$prog.1
	opts=$(options_of "$src")
	help=$("$prog" --help)
	text=$(groff -man -Tascii -P-c -P-b -P-u "$man" 2> "$TMP/groff.err")
	missing_help= missing_man=
	for o in $opts; do
		# Whole option names only: --jitter-ms must not be found in --sink-jitter-ms.
		grep -qE -- "(^|[^a-z-])--$o([^a-z-]|$)" <<< "$help" || missing_help+=" --$o"
		grep -qE -- "(^|[^a-z-])--$o([^a-z-]|$)" <<< "$text" || missing_man+=" --$o"
	done
	check "$prog --help names all $(wc -w <<< "$opts") options${missing_help:+ (missing:$missing_help)}" \
		'[ -z "$missing_help" ]'
	check "man/$prog.1 names them all${missing_man:+ (missing:$missing_man)}" '[ -z "$missing_man" ]'
	check "man/$prog.1 renders without warnings and has EXIT STATUS" \
		'[ ! -s "$TMP/groff.err" ] && grep -q "^EXIT STATUS" <<< "$text"'
	check "$prog --version says $version" '[ "$("$prog" --version)" = "$prog $version" ]'
	"$prog" --log-level nonsense > /dev/null 2> "$TMP/err"
	rc=$?
	check "$prog --log-level nonsense: exit 2" '[ $rc -eq 2 ] && grep -q "invalid --log-level" "$TMP/err"'
done
# The scripts: their --help is the option table; the man page must name it all.
for prog in fb-stitch fb-farm fb-html; do
	man=$ROOT/man/$prog.1
	opts=$("$prog" --help | grep -oE -- '(^|[ ,])--[a-z-]+' | grep -oE -- '--[a-z-]+' | sort -u)
	text=$(groff -man -Tascii -P-c -P-b -P-u "$man" 2> "$TMP/groff.err")
	missing_man=
	for o in $opts; do
		grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" <<< "$text" || missing_man+=" $o"
	done
	check "man/$prog.1 names all $(wc -w <<< "$opts") options of $prog --help${missing_man:+ (missing:$missing_man)}" \
		'[ -z "$missing_man" ]'
	check "man/$prog.1 renders without warnings and has EXIT STATUS" \
		'[ ! -s "$TMP/groff.err" ] && grep -q "^EXIT STATUS" <<< "$text"'
	check "$prog --version says $version" '[ "$("$prog" --version)" = "$prog $version" ]'
	"$prog" --no-such-option > /dev/null 2> "$TMP/err"
	rc=$?
	check "$prog --no-such-option: exit 2, one line" '[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ]'
done
# The README's fb-render synopsis (the indented block under "## fb-render")
# and its option table name every option of fb-render's option table.
opts=$(options_of "$ROOT/launcher/options.c")
synopsis=$(awk '/^## fb-render/ {s = 1; next} s && /^    fb-render \[/ {b = 1}
	b && /^$/ {exit} b' "$ROOT/README.md")
table=$(awk '/^## fb-render/ {s = 1; next} s && /^\| option \|/ {t = 1}
	t && !/^\|/ {exit} t' "$ROOT/README.md")
missing_syn= missing_tab=
for o in $opts; do
	grep -qE -- "(^|[^a-z-])--$o([^a-z-]|$)" <<< "$synopsis" || missing_syn+=" --$o"
	grep -qE -- "(^|[^a-z-])--$o([^a-z-]|$)" <<< "$table" || missing_tab+=" --$o"
done
check "README's fb-render synopsis ($(wc -l <<< "$synopsis") lines) names all $(wc -w <<< "$opts") options${missing_syn:+ (missing:$missing_syn)}" \
	'[ "$(wc -l <<< "$synopsis")" -ge 3 ] && [ -z "$missing_syn" ]'
check "README's fb-render option table ($(wc -l <<< "$table") lines) names them all${missing_tab:+ (missing:$missing_tab)}" \
	'[ "$(wc -l <<< "$table")" -ge 10 ] && [ -z "$missing_tab" ]'

# The README's exit-code table: each code is listed in the --help of every
# program its row names (a row naming none is about every program).
# Only the "Exit..." paragraph of --help counts, whole numbers only (130
# is not 13; "128+N" literally).
progs="fb-render fb-broker fb-producer fb-encoder fb-stat"
rows=$(awk '/^### Exit codes/ {s = 1; next} s && /^\| [0-9]/ {print; t = 1; next} t {exit}' "$ROOT/README.md")
missing=
while IFS= read -r row; do
	codes=$(cut -d'|' -f2 <<< "$row" | tr ',' ' ')
	named=$(cut -d'|' -f3- <<< "$row" | grep -oE 'fb-(render|broker|producer|encoder|stat)' | sort -u)
	for p in ${named:-$progs}; do
		exits=$("$p" --help | sed -n '/^Exit/,$p')
		for c in $codes; do
			grep -qE -- "(^|[^0-9+])${c//+/\\+}([^0-9]|$)" <<< "$exits" || missing+=" $p:$c"
		done
	done
done <<< "$rows"
check "every exit code of the README's table ($(wc -l <<< "$rows") rows) is in the --help of the programs it names${missing:+ (missing:$missing)}" \
	'[ "$(wc -l <<< "$rows")" -ge 6 ] && [ -z "$missing" ]'

text=$(groff -man -Tascii -P-c -P-b -P-u "$ROOT/man/framebroker.3" 2>&1)
missing=
for f in $(grep -oE "^(int |void |const char \*)fb_[a-z_]+" "$ROOT/include/framebroker.h" |
	grep -oE "fb_[a-z_]+"); do
	grep -q "$f" <<< "$text" || missing+=" $f"
done
check "framebroker(3) names every function of framebroker.h${missing:+ (missing:$missing)}" \
	'[ -z "$missing" ] && grep -q "RETURN VALUE" <<< "$text"'
check_clean "docs"
finish
