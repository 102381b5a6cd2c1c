#!/usr/bin/env bash
# No circle of calls between C files: a file that calls into another is
# never called back by it, directly or around a loop.  Read from the built
# objects' symbol tables (nm): an edge A -> B when A.o has an undefined
# symbol that B.o defines (a global function or variable); every strongly
# connected component of more than one file is a circle, named with the
# symbols that close it.  The objects are build/**/*.o whose source X.c
# exists (the partial links of the library and the position-independent
# copies in build/pic are the same files again; the fuzzer is built
# elsewhere).  Run after `make all bin/test_unit` (make test does).
#
# Its limit: it sees only calls by name.  A call through a function pointer
# leaves no undefined symbol in the caller, so that edge is invisible —
# fb_ring.c hands its own static claim_may_succeed and frame_may_be_ready
# to fb_spin.c's fb_spin_until, which calls them back: fb_spin.c -> fb_ring.c
# is such an edge (a callback, by design; the rule is about named calls).
# A circle closed only by a pointer, or by a static function (no symbol
# outside its object), is not found here.
. "$(dirname "$0")/../lib.sh"

cd "$ROOT" || exit 1
objs=()
while IFS= read -r o; do
	src=${o#build/}
	[ -e "${src%.o}.c" ] && objs+=("$o")
done < <(find build -path build/pic -prune -o -path build/fuzz -prune -o -name '*.o' -print | sort)
check "objects to read (${#objs[@]}, the library's among them)" \
	'[ ${#objs[@]} -gt 10 ] && [[ " ${objs[*]} " == *" build/lib/fb_ring.o "* ]]'

# One "OBJECT TYPE SYMBOL" line per symbol (nm -A: the file on each line).
nm -A "${objs[@]}" 2> "$TMP/nm.err" | sed -E 's/^([^:]+):[0-9a-f ]* ([A-Za-z]) (.*)$/\1 \2 \3/' > "$TMP/syms"
check "nm reads them ($(head -c 200 "$TMP/nm.err"))" '[ -s "$TMP/syms" ]'

python3 - "$TMP/syms" > "$TMP/cycles" << 'EOF'
import sys
defined, undefined = {}, {}
for line in open(sys.argv[1]):
    obj, kind, sym = line.split(None, 2)
    sym = sym.strip()
    src = obj[len("build/"):-2] + ".c"
    if kind == "U":
        undefined.setdefault(src, set()).add(sym)
    elif kind in "TDBRCVWGS":  # a global definition
        defined.setdefault(sym, set()).add(src)
edges = {}  # A -> {B: symbols of B that A uses}
for a, syms in undefined.items():
    for s in syms:
        for b in defined.get(s, ()):
            if b != a:
                edges.setdefault(a, {}).setdefault(b, set()).add(s)
# Tarjan's strongly connected components (iterative).
index, low, on, stack, comps, n = {}, {}, set(), [], [], 0
nodes = sorted(set(edges) | {b for d in edges.values() for b in d})
for root in nodes:
    if root in index:
        continue
    work = [(root, iter(sorted(edges.get(root, {}))))]
    index[root] = low[root] = n; n += 1; stack.append(root); on.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = n; n += 1; stack.append(w); on.add(w)
                work.append((w, iter(sorted(edges.get(w, {})))))
            elif w in on:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))
for comp in comps:
    inside = [f"{a} -> {b} ({', '.join(sorted(edges[a][b])[:3])})"
              for a in comp for b in sorted(edges.get(a, {})) if b in comp]
    print(f"circle of {len(comp)}: {' '.join(comp)}: " + "; ".join(inside))
print(f"# {len(nodes)} files, {sum(len(d) for d in edges.values())} edges", file=sys.stderr)
EOF
sed 's/^/# /' "$TMP/cycles"
check "no circle of calls between C files ($(wc -l < "$TMP/cycles") found)" '[ ! -s "$TMP/cycles" ]'

finish
