#!/usr/bin/env bash
# The build keeps its mandatory flags whatever the user gives: with
# CFLAGS=-O0 (and SAN=, LDFLAGS=, LDLIBS= on the command line) every compile
# still has -std=c11, -D_GNU_SOURCE, -Werror and the include paths, and
# every link the libraries and the sanitizer.  Read from make's dry run into
# a build directory of the test's own: nothing is built.
. "$(dirname "$0")/../lib.sh"

mandatory="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib -Iinclude"
# dry CC-ARGS...: the commands make would run for the programs, the library
# and the unit tests, into $TMP/b and $TMP/bin.
dry() {
	make -n -C "$ROOT" BUILD="$TMP/b" BIN="$TMP/bin" "$@" all "$TMP/bin/test_unit" 2> "$TMP/make.err"
}
# lines LIST PATTERN: how many of LIST's lines match PATTERN.
count() { grep -cE -- "$2" <<< "$1"; }

for args in "CFLAGS=-O0" "CFLAGS=-O0 SAN=address,undefined LDFLAGS=-g LDLIBS=-lm" ""; do
	# shellcheck disable=SC2086
	out=$(dry $args)
	compiles=$(grep -E '^(cc|gcc|clang) .* -c -o ' <<< "$out")
	links=$(grep -E '^(cc|gcc|clang) .* -o [^ ]*/bin/' <<< "$out")
	n=$(wc -l <<< "$compiles")
	missing=
	for f in $mandatory; do
		[ "$(count "$compiles" " ${f}( |$)")" -eq "$n" ] || missing+=" $f"
	done
	case $args in *O0*) [ "$(count "$compiles" " -O0 ")" -eq "$n" ] || missing+=" -O0" ;; esac
	case $args in *SAN=*)
		[ "$(count "$compiles" " -fsanitize=address,undefined ")" -eq "$n" ] || missing+=" -fsanitize(cc)"
		[ "$(count "$links" " -fsanitize=address,undefined ")" -eq "$(wc -l <<< "$links")" ] ||
			missing+=" -fsanitize(ld)" ;;
	esac
	[ "$(count "$links" " -pthread -lrt")" -eq "$(wc -l <<< "$links")" ] || missing+=" -pthread/-lrt"
	check "make ${args:-(no flags)}: $n compiles and $(wc -l <<< "$links") links keep every mandatory flag${missing:+ (missing:$missing)}" \
		'[ ! -s "$TMP/make.err" ] && [ "$n" -ge 20 ] && [ "$(wc -l <<< "$links")" -ge 6 ] && [ -z "$missing" ]'
done
check "the dry runs built nothing" '[ ! -e "$TMP/b/lib/fb_util.o" ] && [ ! -e "$TMP/bin/fb-render" ]'
check_clean "build"
finish
