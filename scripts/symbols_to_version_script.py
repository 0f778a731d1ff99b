#!/usr/bin/env python3
"""Turns lib/libolive.symbols into a GNU ld version script that exports exactly the names it
lists, one version node per release: a line "[RELEASE NODE]" starts the names release RELEASE
added, exported under NODE; each node inherits the one before it, so what was added when stays
visible in the symbol versions. '#' starts a comment."""
import re
import sys

SECTION = re.compile(r'^\[(\d+(?:\.\d+)*)\s+([A-Za-z_][A-Za-z0-9_.]*)\]$')


def read_sections(path):
    """[(release, node, [names])] in file order. Names before the first section are an error."""
    sections = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            m = SECTION.match(line)
            if m:
                sections.append((m.group(1), m.group(2), []))
            elif line.startswith('['):
                raise SystemExit(f'{path}:{number}: a section line is "[RELEASE NODE]", not {line!r}')
            elif not sections:
                raise SystemExit(f'{path}:{number}: {line!r} comes before the first "[RELEASE NODE]" line')
            else:
                sections[-1][2].append(line)
    return sections


def main(src, dst):
    sections = read_sections(src)
    out = []
    previous = None
    for index, (release, node, names) in enumerate(sections):
        if not names and previous is not None:
            continue  # a release with nothing added yet: no node until it has a name
        out.append(f'{node} {{\n  global:\n')
        out.extend(f'    {n};\n' for n in names)
        if index == 0:
            out.append('  local:\n    *;\n')
        out.append('}' + (f' {previous}' if previous else '') + ';\n')
        previous = node
    with open(dst, 'w') as f:
        f.write(''.join(out))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
