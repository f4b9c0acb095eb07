#!/usr/bin/env python3
"""Fails when the top-level modules of a crate import each other in a cycle.

For every crate under crates/ (and fuzz/), each top-level module of src/ (a file `x.rs` or a
directory `x/`) is a node; a `crate::y` path in non-test code of module x is an edge x -> y.
Strongly connected components larger than one module are cycles and make the check fail.
Usage: scripts/module-cycles.py [CRATE_DIR...]
"""
import pathlib
import re
import sys

PATH = re.compile(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)
GROUP_ITEM = re.compile(r"(?:^|[{,])\s*([a-z_][a-z0-9_]*)\b")


def strip(text):
    """Drops comments and `#[cfg(test)]` modules, which may import anything."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def modules(src):
    mods = {}
    for p in sorted(src.iterdir()):
        if p.is_file() and p.suffix == ".rs" and p.stem not in ("lib", "main"):
            mods[p.stem] = [p]
        elif p.is_dir():
            mods[p.name] = sorted(p.rglob("*.rs"))
    return mods


def root_exports(src):
    """Names the crate root re-exports (`pub use m::{A, B}`), mapped to the module they come
    from, so that a `crate::A` path counts as an edge to `m`."""
    out = {}
    for root in ("lib.rs", "main.rs"):
        f = src / root
        if not f.exists():
            continue
        for m in re.finditer(r"pub(?:\([a-z]+\))?\s+use\s+([a-z_][a-z0-9_]*)::([^;]*);", f.read_text()):
            for name in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\b\s*(?:[,}]|$)", m.group(2)):
                out[name] = m.group(1)
    return out


def edges(mods, exports):
    graph = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            text = strip(f.read_text())
            targets = {exports.get(t, t) for t in PATH.findall(text)}
            for g in USE_GROUP.findall(text):
                for part in re.split(r",(?![^{]*\})", g):
                    head = part.strip().split("::")[0].strip("{} \n")
                    if head:
                        targets.add(head)
            graph[m] |= {t for t in targets if t in mods and t != m}
    return graph


def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    out.append(sorted(comp))
            elif nxt not in index:
                index[nxt] = low[nxt] = n[0]
                n[0] += 1
                stack.append(nxt)
                on.add(nxt)
                work.append((nxt, iter(sorted(graph[nxt]))))
            elif nxt in on:
                low[node] = min(low[node], index[nxt])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv):
    root = pathlib.Path(__file__).resolve().parent.parent
    crates = [pathlib.Path(a) for a in argv] or sorted(
        p for p in list((root / "crates").iterdir()) + [root / "fuzz"] if (p / "src").is_dir()
    )
    failed = False
    for crate in crates:
        graph = edges(modules(crate / "src"), root_exports(crate / "src"))
        cycles = [c for c in sccs(graph) if len(c) > 1]
        for c in cycles:
            failed = True
            print(f"{crate.name}: import cycle among {len(c)} modules: {' '.join(c)}")
            for m in c:
                inside = sorted(graph[m] & set(c))
                print(f"  {m} -> {' '.join(inside)}")
    if not failed:
        print(f"no module cycles in {len(crates)} crates")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
