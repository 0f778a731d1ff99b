#!/usr/bin/env python3
"""Fails when a file under lib/ includes a header of a higher layer (docs/ARCHITECTURE.md).

Layers, lowest first; a folder may include its own layer and those below it:
  core < ir < onnx, formats, tokenizer < kernels, backends < passes < engine < workflow < api
Two more rules: a pass folder (lib/passes/<name>/) includes nothing of another pass folder but
the header that declares that pass's definition (`extern const olive_pass_def`, to run it as a
step), since shared code
lives in lib/core or lib/kernels; and the generated onnx.pb-c.h is included by lib/onnx only.
Public headers (olive/...) may be included anywhere. Usage: check_layers.py LIBDIR
"""
import pathlib
import re
import sys

RANK = {'core': 0, 'ir': 1, 'onnx': 2, 'formats': 2, 'tokenizer': 2, 'kernels': 3, 'backends': 3,
        'passes': 4, 'engine': 5, 'workflow': 6, 'api': 7}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def declares_pass(header):
    return header.is_file() and 'extern const olive_pass_def' in header.read_text(errors='replace')


def problems(lib):
    for path in sorted(lib.rglob('*')):
        if path.suffix not in ('.c', '.h') or not path.is_file():
            continue
        parts = path.relative_to(lib).parts
        if len(parts) < 2:
            continue
        layer = parts[0]
        if layer not in RANK:
            yield f'{path}: folder lib/{layer} has no layer in tests/check_layers.py'
            continue
        for target in INCLUDE.findall(path.read_text(errors='replace')):
            head = target.split('/')[0]
            if head == 'olive' or '/' not in target and (path.parent / target).exists():
                continue
            if target == 'onnx.pb-c.h':
                if layer != 'onnx':
                    yield f'{path}: includes onnx.pb-c.h (only lib/onnx may)'
                continue
            if head not in RANK:
                yield f'{path}: includes "{target}", which names no layer'
            elif RANK[head] > RANK[layer]:
                yield f'{path}: includes "{target}" from a higher layer ({layer} < {head})'
            elif layer == 'passes' == head and len(parts) > 2 and len(target.split('/')) > 2 \
                    and target.split('/')[1] != parts[1] and not declares_pass(lib / target):
                yield f'{path}: pass folder {parts[1]} includes another pass folder ("{target}")'


def main():
    found = list(problems(pathlib.Path(sys.argv[1])))
    for line in found:
        print(line)
    print(f'{len(found)} upward or sideways includes')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
