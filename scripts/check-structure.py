#!/usr/bin/env python3
"""The codebase's structural bars, checked (`.ci/run` calls this):

- no import cycle: in every Rust crate, at every level of the module tree,
  the sibling modules' `use` graph (a module counted with everything under
  it) is acyclic; the JS client's files import each other without a cycle;
- no non-test source file over 400 lines;
- each Lambda `main.rs` at most 15 lines;
- the README at most 300 lines.

Exits 1 with what is wrong.
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
CRATES = ["shared", "local", "bench", "clients/rust", "examples/hooks-rust"]
MAX_LINES = 400
problems = []


def rel(p):
    return os.path.relpath(p, ROOT)


def module_files(src):
    """Maps module paths (tuples) to files, for one crate's src/."""
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            parts = os.path.relpath(path, src)[:-3].split(os.sep)
            if parts[0] == "bin" or parts[-1] in ("lib", "main"):
                if len(parts) == 1:
                    mods[()] = mods.get((), []) + [path]
                continue
            if parts[-1] == "mod":
                parts = parts[:-1]
            mods[tuple(parts)] = [path]
    return mods


def strip_tests(text):
    """The text without `#[cfg(test)] mod tests { ... }` blocks."""
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


USE = re.compile(r"\b(crate|super|self)((?:::\w+)+)")


def uses(mod, text, mods):
    """The modules `mod` refers to by path (crate::, super::, self::)."""
    found = set()
    for m in USE.finditer(text):
        head, tail = m.group(1), [p for p in m.group(2).split("::") if p]
        if head == "crate":
            base = ()
        elif head == "self":
            base = mod
        else:
            base = mod[:-1]
            while tail and tail[0] == "super":
                base = base[:-1]
                tail = tail[1:]
        path = base
        for p in tail:
            if path + (p,) in mods:
                path = path + (p,)
            else:
                break
        found.add(path)
    # use super::{a, b}: each name may be a sibling module
    for m in re.finditer(r"\b(super|crate|self)::\{([^}]*)\}", text):
        base = () if m.group(1) == "crate" else (mod if m.group(1) == "self" else mod[:-1])
        for name in re.findall(r"\b(\w+)", m.group(2)):
            if base + (name,) in mods:
                found.add(base + (name,))
    return found


def cycles_in(graph):
    """Strongly connected components with more than one node."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def check_crate(crate):
    src = os.path.join(ROOT, crate, "src")
    mods = module_files(src)
    edges = {}
    for mod, files in mods.items():
        for f in files:
            text = re.sub(r"//[^\n]*", "", strip_tests(open(f).read()))
            for target in uses(mod, text, mods):
                edges.setdefault(mod, set()).add(target)
    # At every level: siblings under one parent.
    parents = {m[:-1] for m in mods if m}
    for parent in parents:
        kids = {m for m in mods if len(m) == len(parent) + 1 and m[: len(parent)] == parent}
        graph = {k: set() for k in kids}
        for a, targets in edges.items():
            if len(a) <= len(parent) or a[: len(parent)] != parent:
                continue
            ka = a[: len(parent) + 1]
            for t in targets:
                if len(t) <= len(parent) or t[: len(parent)] != parent:
                    continue
                kt = t[: len(parent) + 1]
                if kt != ka:
                    graph[ka].add(kt)
        for comp in cycles_in(graph):
            names = ", ".join("::".join(c) for c in comp)
            problems.append(f"{crate}: import cycle among {names}")


def check_js(folder):
    files = [f for f in os.listdir(folder) if f.endswith(".js")]
    graph = {}
    for f in files:
        text = open(os.path.join(folder, f)).read()
        graph[f] = {os.path.basename(m) for m in re.findall(r"from\s+'\./([\w.-]+)'", text)}
    for comp in cycles_in(graph):
        problems.append(f"{rel(folder)}: import cycle among {', '.join(comp)}")


def check_lengths():
    skip = ("target", "node_modules", ".venv", ".tools", ".aws-sam", ".git", "tests", "test")
    for dirpath, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        for f in files:
            if not f.endswith((".rs", ".js", ".py", ".sh")) or f.endswith(".test.js"):
                continue
            path = os.path.join(dirpath, f)
            n = sum(1 for _ in open(path, errors="replace"))
            if n > MAX_LINES:
                problems.append(f"{rel(path)}: {n} lines (at most {MAX_LINES})")


def main():
    for crate in CRATES:
        check_crate(crate)
    check_js(os.path.join(ROOT, "clients/js"))
    check_lengths()
    for d in sorted(os.listdir(os.path.join(ROOT, "functions"))):
        main_rs = os.path.join(ROOT, "functions", d, "src", "main.rs")
        n = sum(1 for _ in open(main_rs))
        if n > 15:
            problems.append(f"{rel(main_rs)}: {n} lines (at most 15)")
    n = sum(1 for _ in open(os.path.join(ROOT, "README.md")))
    if n > 300:
        problems.append(f"README.md: {n} lines (at most 300)")
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print("structure: no import cycle, no file over 400 lines, main.rs ≤ 15, README ≤ 300")


main()
