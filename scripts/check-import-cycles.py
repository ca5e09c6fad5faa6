#!/usr/bin/env python3
"""Report import cycles between the files of Rust crates.

    python3 scripts/check-import-cycles.py core/src cli/src ffi-c/src py/src node/src
    python3 scripts/check-import-cycles.py --self-test

For each source folder (a crate's `src/`, whose root is lib.rs or main.rs) it reads every
`.rs` file, finds what each file refers to in another file of the same crate, and prints
every cycle (strongly connected group of files) with the references that close it. Exit
status 1 when there is one, 0 when there is none.

What counts as a reference from file A to file B:
- a `use` (any visibility, also inside functions and `mod tests`) naming an item of B;
- a path written out in code: `crate::x::y`, `super::y`, `self::y`, or `child::y` where
  `child` is a module declared by A;
- a `pub use` re-export in A of an item of B (the facade depends on what it re-exports).

An item is located where it is *defined*: a path through a module that only imports it
(`pub use sql::SqlMetaStore;` in store/mod.rs, or a private `use` a child sees) leads to
the file that defines it. So `use super::SqlMetaStore` in another child of `store`
depends on sql.rs, not on mod.rs, and a facade is part of a cycle only when it also
defines something its children use. A bare `mod x;` declaration is not a reference.

The reading is lexical (comments and literals are removed first, then `use` trees and
paths are parsed), which is exact for the code of this project: no `#[path]`, macros
that build module paths, or `extern crate` renames in these folders.
"""

import os
import re
import sys

# ------------------------------------------------------------------------------------------
# Lexical clean-up: drop comments, strings and char literals, keep line numbers.

_RAW_STR = re.compile(r'b?r(#*)"')


def strip_code(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
            continue
        m = _RAW_STR.match(text, i)
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            # A char literal ('a', '\n', '\u{..}') and not a lifetime ('a).
            m = re.match(r"'(\\.[^']*|[^'\\])'", text[i : i + 12])
            if m:
                out.append("' '")
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


# ------------------------------------------------------------------------------------------
# `use` trees.

_TOKEN = re.compile(r"::|[{},*]|\w+")


def expand_use_tree(tree):
    """`a::{b, c::{d as e, self}, *}` -> [(["a","b"], "b"), (["a","c","d"], "e"), ...].
    The second element is the name the import binds ("*" for a glob)."""
    tokens = _TOKEN.findall(tree)
    pos = 0

    def parse(prefix):
        nonlocal pos
        results = []
        path = list(prefix)
        while pos < len(tokens):
            t = tokens[pos]
            if t == "::":
                pos += 1
            elif t == "{":
                pos += 1
                while pos < len(tokens) and tokens[pos] != "}":
                    if tokens[pos] == ",":
                        pos += 1
                        continue
                    results += parse(path)
                pos += 1
                return results
            elif t == "*":
                pos += 1
                return results + [(path, "*")]
            elif t in (",", "}"):
                break
            elif t == "as":
                alias = tokens[pos + 1] if pos + 1 < len(tokens) else "_"
                pos += 2
                return results + [(path, alias)]
            elif t == "self" and path:
                pos += 1
                return results + [(path, path[-1])]
            else:
                path.append(t)
                pos += 1
        if path != list(prefix):
            results.append((path, path[-1]))
        return results

    return parse([])


# ------------------------------------------------------------------------------------------
# One crate.

_ITEM = re.compile(
    r"\b(?:fn|struct|enum|trait|const|static|type|union|mod)\s+(\w+)|macro_rules!\s*(\w+)"
)
_USE = re.compile(r"(?<![\w$])(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]+);")
_INLINE_MOD = re.compile(r"\bmod\s+(\w+)\s*\{")
_DECLARED_MOD = re.compile(r"\bmod\s+(\w+)\s*;")
_PATH = re.compile(r"(?<![\w$:])((?:crate|self|super)(?:\s*::\s*\w+)+)")


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # relative file name -> cleaned text
        self.module_of = {}  # file -> module path (tuple)
        self.file_of = {}  # module path (file or inline) -> file
        self.defined = {}  # file -> names of items it defines
        self.imports = {}  # file -> {name a `use` binds at file scope: absolute path}
        self.glob_imports = {}  # file -> [absolute module path of a `use …::*`]
        self._load()

    def _load(self):
        roots = [r for r in ("lib.rs", "main.rs") if os.path.exists(os.path.join(self.src, r))]
        if not roots:
            raise SystemExit(f"{self.src}: no lib.rs or main.rs")
        for dirpath, _, names in os.walk(self.src):
            for name in sorted(names):
                if not name.endswith(".rs"):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.src)
                with open(full, encoding="utf-8") as f:
                    self.files[rel] = strip_code(f.read())
                parts = rel[:-3].split(os.sep)
                if parts[-1] == "mod" or rel in roots:
                    parts = parts[:-1]
                self.module_of[rel] = tuple(parts)
                self.file_of[tuple(parts)] = rel
        for rel, text in self.files.items():
            self.defined[rel] = {a or b for a, b in _ITEM.findall(text)}
            for m in _INLINE_MOD.finditer(text):
                scope = self.scope_at(rel, m.start()) + (m.group(1),)
                self.file_of.setdefault(scope, rel)
            self.imports[rel] = {}
            self.glob_imports[rel] = []
            for m in _USE.finditer(text):
                scope = self.scope_at(rel, m.start())
                if scope != self.module_of[rel]:
                    continue
                for path, bound in expand_use_tree(m.group(2)):
                    target = self.absolute(path, scope)
                    if target is None:
                        continue
                    if bound == "*":
                        self.glob_imports[rel].append(target)
                    else:
                        self.imports[rel][bound] = target

    def scope_at(self, rel, offset):
        """The module path at `offset` of file `rel`, inline `mod x { … }` blocks included."""
        text = self.files[rel]
        scope = list(self.module_of[rel])
        stack = []  # brace depth at which each inline module opened
        depth = 0
        opens = {m.end() - 1: m.group(1) for m in _INLINE_MOD.finditer(text, 0, offset)}
        for i in range(offset):
            c = text[i]
            if c == "{":
                if i in opens:
                    stack.append(depth)
                    scope.append(opens[i])
                depth += 1
            elif c == "}":
                depth -= 1
                if stack and stack[-1] == depth:
                    stack.pop()
                    scope.pop()
        return tuple(scope)

    def absolute(self, path, scope):
        """The absolute module path of `path` written in module `scope`; None if external."""
        if not path:
            return None
        head, rest = path[0], list(path[1:])
        if head == "crate":
            base = []
        elif head == "self":
            base = list(scope)
        elif head == "super":
            base = list(scope[:-1])
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        elif tuple(scope) + (head,) in self.file_of:
            base, rest = list(scope), list(path)  # a child module, written without `self::`
        else:
            return None  # another crate (std, avatarium, axum, …) or a local name
        return tuple(base + rest)

    def locate(self, target, depth=0):
        """The file that defines what absolute path `target` names."""
        for cut in range(len(target), -1, -1):
            if target[:cut] in self.file_of:
                break
        rel = self.file_of[target[:cut]]
        if cut == len(target) or depth > 16:
            return rel
        name, rest = target[cut], target[cut + 1 :]
        # An item whose module path is an inline module of this file is defined here.
        if target[:cut] != self.module_of[rel]:
            return rel
        if name in self.imports[rel] and name not in self.defined[rel]:
            return self.locate(self.imports[rel][name] + rest, depth + 1)
        if name not in self.defined[rel]:
            for glob in self.glob_imports[rel]:
                found = self.locate(glob + (name,) + rest, depth + 1)
                if found != self.file_of.get(glob, rel) or name in self.defined[found]:
                    return found
        return rel

    def references(self):
        """(from file, to file, line, text) for every reference to another file."""
        refs = []
        for rel, text in self.files.items():
            seen = set()

            def add(target, offset, shown):
                to = self.locate(target)
                line = text.count("\n", 0, offset) + 1
                if to != rel and (to, line) not in seen:
                    seen.add((to, line))
                    refs.append((rel, to, line, " ".join(shown.split())))

            for m in _USE.finditer(text):
                scope = self.scope_at(rel, m.start())
                for path, _ in expand_use_tree(m.group(2)):
                    target = self.absolute(path, scope)
                    if target is not None:
                        add(target, m.start(), "::".join(path))
            children = [p[-1] for p in self.file_of if p[:-1] == self.module_of[rel] and p]
            patterns = [_PATH]
            if children:
                names = "|".join(sorted(set(children)))
                patterns.append(re.compile(rf"(?<![\w$:])((?:{names})(?:\s*::\s*\w+)+)"))
            use_spans = [(m.start(), m.end()) for m in _USE.finditer(text)]
            for pattern in patterns:
                for m in pattern.finditer(text):
                    if any(a <= m.start() < b for a, b in use_spans):
                        continue
                    path = [p.strip() for p in m.group(1).split("::")]
                    target = self.absolute(path, self.scope_at(rel, m.start()))
                    if target is not None:
                        add(target, m.start(), m.group(1))
        return refs


def cycles(nodes, edges):
    """Strongly connected groups of more than one file (Tarjan)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return groups


def self_test():
    """The checker on small crates written here: what must and must not be a cycle."""
    import tempfile

    def crate(files):
        with tempfile.TemporaryDirectory(prefix="cycles-") as root:
            for name, text in files.items():
                path = os.path.join(root, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
            c = Crate(root)
        edges = {}
        for a, b, _, _ in c.references():
            edges.setdefault(a, set()).add(b)
        return cycles(c.files, edges)

    # Siblings that import each other, through `use` and through a written-out path.
    assert crate({
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "use crate::b::B;\npub struct A;\n",
        "b.rs": "pub struct B;\nfn f() { let _ = super::a::A; }\n",
    }) == [["a.rs", "b.rs"]]
    # A facade that only re-exports (`pub use`, or a private `use` children see) is not a
    # cycle; comments, strings and `mod tests { use super::*; }` are not references.
    assert crate({
        "lib.rs": "mod s;\n",
        "s/mod.rs": "mod t;\nmod u;\npub use t::T;\nuse u::U;\n// use u::*;\n",
        "s/t.rs": "pub trait T {}\nconst X: &str = \"super::U\";\n",
        "s/u.rs": "use super::T;\npub struct U;\nimpl T for U {}\n"
        "#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    }) == []
    # The parent defines what a child uses and uses the child: a cycle.
    assert crate({
        "main.rs": "mod p;\n",
        "p/mod.rs": "mod c;\npub struct P;\nfn g() { c::f(); }\n",
        "p/c.rs": "use super::{P};\npub fn f() {}\n",
    }) == [["p/c.rs", "p/mod.rs"]]
    print("self-test passed")
    return 0


def main(folders):
    found = 0
    for src in folders:
        crate = Crate(src)
        refs = crate.references()
        edges = {}
        for a, b, _, _ in refs:
            edges.setdefault(a, set()).add(b)
        groups = cycles(crate.files, edges)
        files = len(crate.files)
        if not groups:
            print(f"{src}: {files} files, {len(refs)} references, no import cycle")
            continue
        found += len(groups)
        print(f"{src}: {files} files, {len(groups)} import cycle(s)")
        for group in groups:
            print(f"  cycle: {' <-> '.join(group)}")
            for a, b, line, shown in sorted(refs):
                if a in group and b in group:
                    print(f"    {a}:{line} -> {b}  ({shown})")
    return 1 if found else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    sys.exit(main(sys.argv[1:]))
