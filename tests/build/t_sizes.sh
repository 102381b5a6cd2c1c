#!/usr/bin/env bash
# Sizes, tree-wide (the standard of issue 23): no C file (.c or .h) over
# 600 lines and no function over 80, unless it states why.  The reason is
# a comment line containing "size:" and the reason (grep 'size:'): for a
# file, in the comment that opens it; for a function, in the comment right
# above it.  Every C file git tracks is judged (without git: every one
# under the tree's source folders), tests and examples included.
# tests/launcher/t_calls.sh holds launcher/ to the same limits, with no
# way out.
#
# A function is measured as tests/launcher/t_calls.sh measures it: from
# the line at column 0 that names it to its closing brace at column 0 (the
# project's style puts both there).
. "$(dirname "$0")/../lib.sh"

cd "$ROOT" || exit 1
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
	git ls-files '*.c' '*.h' > "$TMP/files"
else
	find bench bindings broker encoder examples include launcher lib producer stat tests tools \
		-name node_modules -prune -o -name '*.[ch]' -print | sort > "$TMP/files"
fi

# sizes FILE...: one line per file or function over its limit, "BAD ..." or
# "ok ... marked"; then "measured N functions in M files".
cat > "$TMP/sizes.py" << 'EOF'
import re, sys
MARK = re.compile(r"\bsize:\s*\S.{8,}")  # "size:" and a reason of some words
FILE_MAX, FUNC_MAX = 600, 80
COMMENT = ("/*", " *", "//")

def comment_line(l):
    return l.startswith(COMMENT) or l.rstrip().endswith("*/")

out, nfuncs = [], 0
for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > FILE_MAX:
        head = []
        for l in lines:
            if not comment_line(l):
                break
            head.append(l)
        ok = any(MARK.search(l) for l in head)
        out.append("%s file %s: %d lines%s" % ("ok" if ok else "BAD", path, len(lines), ", marked" if ok else ""))
    name = body = None
    for i, l in enumerate(lines):
        if re.match(r"^[A-Za-z_].*\(", l) and not re.search(r";\s*$", l) \
                and not l.startswith("__attribute__"):
            name, start, body = l, i, None
        elif l.startswith("{") and name is not None:
            body = i
        elif l.startswith("}") and body is not None:
            nfuncs += 1
            n = i - start + 1
            if n > FUNC_MAX:
                j = start - 1
                while j >= 0 and lines[j].startswith("__attribute__"):
                    j -= 1
                block = []
                while j >= 0 and comment_line(lines[j]):
                    block.append(lines[j])
                    j -= 1
                ok = any(MARK.search(b) for b in block)
                fn = re.sub(r"\(.*", "", name).split()[-1].lstrip("*")
                out.append("%s function %s:%d %s: %d lines%s" % ("ok" if ok else "BAD", path, start + 1, fn, n,
                                                             ", marked" if ok else ""))
            name = body = None
out.append("measured %d functions in %d files" % (nfuncs, len(sys.argv) - 1))
print("\n".join(out))
EOF
sizes() { python3 "$TMP/sizes.py" "$@"; }

# The judge can fail: a made-up file with one function of 81 lines, then
# the same with the reason above it; and 601 lines, then with a reason.
{ echo 'static int f(void)'; echo '{'; for i in $(seq 77); do echo '	;'; done; echo '	return 0;'; echo '}'; } > "$TMP/long.c"
{ echo '/* size: one table of cases, read as a whole */'; cat "$TMP/long.c"; } > "$TMP/long_marked.c"
{ echo '/* a big file */'; for i in $(seq 600); do echo 'int x;'; done; } > "$TMP/big.c"
{ echo '/* a big file; size: it is one concept, said at length */'; tail -n +2 "$TMP/big.c"; } > "$TMP/big_marked.c"
for f in long long_marked big big_marked; do sizes "$TMP/$f.c" > "$TMP/$f.out"; done
check "the judge flags an 81-line function and passes it with a reason ($(head -1 "$TMP/long.out" | sed "s|$TMP/||"))" \
	'grep -q "^BAD function .*long.c:1 f: 81 lines" "$TMP/long.out" &&
	 grep -q "^ok function .*f: 81 lines, marked" "$TMP/long_marked.out"'
check "the judge flags a 601-line file and passes it with a reason" \
	'grep -q "^BAD file .*big.c: 601 lines" "$TMP/big.out" &&
	 grep -q "^ok file .*big_marked.c: 601 lines, marked" "$TMP/big_marked.out"'

mapfile -t files < "$TMP/files"
sizes "${files[@]}" > "$TMP/sizes"
measured=$(tail -1 "$TMP/sizes")
check "every C file of the tree read ($measured)" \
	'[ ${#files[@]} -gt 100 ] && [ "$(awk "{print \$2}" <<< "$measured")" -gt 500 ]'
marked=$(grep '^ok ' "$TMP/sizes" | sed 's/^ok //' | tr '\n' ';')
echo "# over the limit with a stated reason: ${marked:-none}"
bad=$(grep '^BAD ' "$TMP/sizes" | sed 's/^BAD //' | tr '\n' ';')
check "no C file over 600 lines, no function over 80, without a reason (\"size:\")${bad:+ — over: $bad}" '[ -z "$bad" ]'
finish
