"""Hostile inputs (tests/data/hostile, written by tests/data/make_hostile.py): the roundtrip
tool must fail cleanly on each: exit code 1 (not 0, not a signal, not a sanitizer's code),
exactly one error line on stderr containing the phrase recorded for the case, and no file
left behind, neither in the output folder nor beside the input."""

import json
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "data", "hostile")
TOOL = os.environ.get("OLIVE_ROUNDTRIP")

with open(os.path.join(CORPUS, "cases.json")) as f:
    CASES = json.load(f)

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_ROUNDTRIP is not set (run through meson test)")


def listing(folder):
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile(case, tmp_path):
    src = tmp_path / "in"
    out = tmp_path / "out"
    shutil.copytree(os.path.join(CORPUS, case), src, symlinks=True)
    out.mkdir()
    before = listing(src)

    proc = subprocess.run([TOOL, str(src / "model.onnx"), str(out / "model.onnx")], capture_output=True,
                          text=True, timeout=60)

    assert proc.returncode == 1, f"exit code {proc.returncode} (stderr: {proc.stderr.strip()!r})"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {proc.stderr!r}"
    want = CASES[case]["error"]
    assert want.lower() in lines[0].lower(), f"error line does not mention {want!r}: {lines[0]!r}"
    assert listing(out) == [], f"files left in the output folder: {listing(out)}"
    assert listing(src) == before, "files appeared beside the input"


def test_corpus_is_complete():
    """Every case folder is listed in cases.json and the other way round."""
    folders = {d for d in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, d))}
    assert folders == set(CASES)
