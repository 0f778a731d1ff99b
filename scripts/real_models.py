#!/usr/bin/env python3
"""Prints the paths of real ONNX models shipped inside installed PyPI packages, one per line
as NAME PATH. Exits 1 when one is missing. The packages are located without importing them
(silero_vad's own code would import torch)."""
import importlib.util
import pathlib
import sys

MODELS = {
    'silero_vad': ('silero_vad', 'data/silero_vad.onnx'),
    'magika': ('magika', 'models/standard_v3_3/model.onnx'),
}


def model_paths():
    found = {}
    for name, (package, rel) in MODELS.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = pathlib.Path(list(spec.submodule_search_locations)[0]) / rel
        if path.is_file():
            found[name] = path
    return found


if __name__ == '__main__':
    paths = model_paths()
    for name, path in paths.items():
        print(name, path)
    sys.exit(0 if len(paths) == len(MODELS) else 1)
