#!/usr/bin/env python3
"""Checks that libolive.so exports exactly the functions listed in lib/libolive.symbols, and
that every OLIVE_API declaration in the public headers is listed."""
import pathlib
import re
import subprocess
import sys


def listed(path):
    names = set()
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            names.add(line)
    return names


def exported(lib):
    out = subprocess.run(['nm', '-D', '--defined-only', lib], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TtWwDdBbRr' and parts[2] != 'LIBOLIVE_0':
            names.add(parts[2].split('@')[0])
    return names


def declared(include_dir):
    names = set()
    for header in pathlib.Path(include_dir).glob('*.h'):
        for m in re.finditer(r'^OLIVE_API\s+[^;(]*?\b([a-z_0-9]+)\s*\(', header.read_text(), re.M):
            names.add(m.group(1))
    return names


def main(lib, symbols, include_dir):
    want = listed(symbols)
    got = exported(lib)
    decl = declared(include_dir)
    ok = True
    for name in sorted(got - want):
        print(f'exported but not listed: {name}')
        ok = False
    for name in sorted(want - got):
        print(f'listed but not exported: {name}')
        ok = False
    for name in sorted(decl - want):
        print(f'declared OLIVE_API in a header but not listed: {name}')
        ok = False
    print(f'{len(got)} exported, {len(want)} listed, {len(decl)} declared')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
