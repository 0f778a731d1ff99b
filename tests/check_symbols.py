#!/usr/bin/env python3
"""Checks that libolive.so exports exactly the functions listed in lib/libolive.symbols, each
under the version node of the release it is listed in, that every OLIVE_API declaration in the
public headers is listed, and that each declaration's comment says "Since RELEASE." with the
release it is listed under."""
import importlib.util
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_version_script_module():
    path = ROOT / 'scripts' / 'symbols_to_version_script.py'
    spec = importlib.util.spec_from_file_location('symbols_to_version_script', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def listed(path):
    """{name: (release, node)} from the symbols file."""
    names = {}
    for release, node, members in load_version_script_module().read_sections(path):
        for name in members:
            if name in names:
                raise SystemExit(f'{name} is listed twice')
            names[name] = (release, node)
    return names


def exported(lib):
    """{name: version node} of the functions the library exports."""
    out = subprocess.run(['nm', '-D', '--defined-only', lib], check=True, capture_output=True, text=True).stdout
    names = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TtWwDdBbRr':
            name, _, node = parts[2].partition('@')
            names[name] = node.lstrip('@')
    return names


def declared(include_dir):
    """{name: the "Since X.Y" of its comment, or None} for every OLIVE_API declaration. A
    declaration's comment is the one just above it, or above the declarations it is grouped
    with (no blank line between them)."""
    names = {}
    for header in sorted(pathlib.Path(include_dir).glob('*.h')):
        lines = header.read_text().splitlines()
        since = None
        in_group = False
        for i, line in enumerate(lines):
            m = re.match(r'^OLIVE_API\s+[^;(]*?\b([a-z_0-9]+)\s*\(', line)
            if m:
                if not in_group:
                    # the comment block that ends on the line above
                    since = None
                    j = i - 1
                    if j >= 0 and lines[j].rstrip().endswith('*/'):
                        while j >= 0 and '/*' not in lines[j]:
                            j -= 1
                        block = ' '.join(lines[max(j, 0):i])
                        found = re.search(r'\bSince (\d+(?:\.\d+)*)\.', block)
                        since = found.group(1) if found else None
                in_group = True
                names[m.group(1)] = (since, f'{header.name}:{i + 1}')
            elif in_group and line.startswith(' ') and not line.strip().startswith(('*', '/*')):
                continue  # a declaration's continuation line
            else:
                in_group = False
    return names


def main(lib, symbols, include_dir):
    want = listed(symbols)
    got = exported(lib)
    decl = declared(include_dir)
    ok = True
    for name in sorted(set(got) - set(want)):
        if not name.startswith('LIBOLIVE_'):
            print(f'exported but not listed: {name}')
            ok = False
    for name in sorted(set(want) - set(got)):
        print(f'listed but not exported: {name}')
        ok = False
    for name in sorted(set(want) & set(got)):
        if got[name] != want[name][1]:
            print(f'{name} is exported under version node {got[name]!r}, listed under {want[name][1]!r}')
            ok = False
    for name, (since, where) in sorted(decl.items()):
        if name not in want:
            print(f'{where}: declared OLIVE_API in a header but not listed: {name}')
            ok = False
        elif since is None:
            print(f'{where}: the comment of {name} does not say "Since {want[name][0]}."')
            ok = False
        elif since != want[name][0]:
            print(f'{where}: {name} says "Since {since}." but is listed under release {want[name][0]}')
            ok = False
    print(f'{len(got)} exported, {len(want)} listed, {len(decl)} declared')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
