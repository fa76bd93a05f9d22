#!/bin/sh
# Lists the `crate::` import edges between the gateway's modules and fails on a cycle.
#   scripts/module-edges.sh        # modules: `app`, `observe::sink`, `reload` (mod.rs), …
#   scripts/module-edges.sh top    # top-level modules only: `observe`, `reload`, …
# Prints "from -> to" lines (sorted), then each cycle (strongly connected set of modules)
# or "no cycle"; exits 1 when there is a cycle. A directory module's submodules are its
# files and folders one level down; deeper paths count as that submodule. Test code
# (tests.rs files, a trailing `#[cfg(test)] mod tests { … }`) is left out.
set -eu
src="$(dirname "$0")/../crates/gateway/src"
python3 - "$src" "${1:-}" <<'PY'
import os, re, sys
src, level = sys.argv[1], sys.argv[2]
def stem(n): return n[:-3] if n.endswith('.rs') else n
tops = {stem(n) for n in os.listdir(src) if n.endswith('.rs') or os.path.isdir(os.path.join(src, n))} - {'main', 'lib'}
subs = {t: {stem(n) for n in os.listdir(os.path.join(src, t)) if n not in ('mod.rs', 'tests.rs')}
        for t in tops if os.path.isdir(os.path.join(src, t))}
def node(parts):
    top = stem(parts[0])
    if level == 'top' or top not in subs or len(parts) < 2 or stem(parts[1]) not in subs[top]:
        return top
    return f'{top}::{stem(parts[1])}'
edges = set()
for root, _, files in os.walk(src):
    for f in files:
        rel = os.path.relpath(os.path.join(root, f), src).split(os.sep)
        if not f.endswith('.rs') or f == 'tests.rs' or rel in (['main.rs'], ['lib.rs']):
            continue
        here = node(rel)
        text = open(os.path.join(root, f)).read()
        cut = text.find('#[cfg(test)]\nmod tests {')
        text = text if cut < 0 else text[:cut]
        # Doc links (`[App](crate::app::App)`) are not imports.
        text = '\n'.join(l for l in text.split('\n') if not l.lstrip().startswith('//'))
        for m in re.finditer(r'crate::([a-z_]+)(?:::([a-z_]+))?', text):
            if m.group(1) not in tops:
                continue
            to = node([m.group(1)] + ([m.group(2)] if m.group(2) else []))
            if to != here and not (to == here.split('::')[0]):
                edges.add((here, to))
for a, b in sorted(edges):
    print(f'{a} -> {b}')
graph = {}
for a, b in edges:
    graph.setdefault(a, set()).add(b)
# Tarjan's strongly connected components: every component of more than one node is a cycle.
index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in sorted(graph.get(v, ())):
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            comps.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(set(graph) | {b for _, b in edges}):
    if v not in index:
        strong(v)
for c in comps:
    print('cycle: ' + ' <-> '.join(c))
if comps:
    sys.exit(1)
print('no cycle')
PY
