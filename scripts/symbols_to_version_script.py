#!/usr/bin/env python3
"""Turns lib/libolive.symbols (one exported function per line, '#' comments) into a GNU ld
version script that exports exactly those names."""
import sys

def main(src, dst):
    names = []
    with open(src) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                names.append(line)
    with open(dst, 'w') as out:
        out.write('LIBOLIVE_0 {\n  global:\n')
        for n in names:
            out.write(f'    {n};\n')
        out.write('  local:\n    *;\n};\n')

if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
