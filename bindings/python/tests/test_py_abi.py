"""The binding declares every public function of include/olive/*.h with the header's number of
parameters, and the library exports them; versions and logging."""

import ctypes
import os
import re

import pytest

from olive_py_support import require_libolive

libolive = require_libolive()
from libolive import _ffi  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
HEADERS = os.path.join(REPO_ROOT, "include", "olive")


def _header_functions():
    """{name: number of parameters} for every OLIVE_API declaration in the public headers."""
    if not os.path.isdir(HEADERS):
        pytest.skip("public headers not found at %s" % HEADERS)
    found = {}
    for name in sorted(os.listdir(HEADERS)):
        if not name.endswith(".h"):
            continue
        with open(os.path.join(HEADERS, name)) as f:
            text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
        for m in re.finditer(r"OLIVE_API\s+[^;(]*?\b(olive_\w+)\s*\(([^)]*)\)\s*;", text):
            params = m.group(2).strip()
            found[m.group(1)] = 0 if params in ("", "void") else params.count(",") + 1
    assert found, "no OLIVE_API declarations found"
    return found


def test_every_public_function_is_declared_with_its_arity():
    header = _header_functions()
    assert sorted(_ffi.SIGNATURES) == sorted(header)
    for name, count in header.items():
        assert len(_ffi.SIGNATURES[name][1]) == count, name


def test_every_declared_function_is_exported():
    for name in _ffi.SIGNATURES:
        fn = getattr(_ffi.lib, name)
        assert fn.argtypes is not None or _ffi.SIGNATURES[name][1] == []


def test_version_matches_meson_project():
    with open(os.path.join(REPO_ROOT, "meson.build")) as f:
        m = re.search(r"version\s*:\s*'([0-9.]+)'", f.read())
    if not m:
        pytest.skip("no project version in meson.build")
    assert libolive.__version__ == m.group(1)
    assert ".".join(map(str, libolive.library_version())) == m.group(1)


def test_strerror_names():
    assert libolive.strerror(0) == "success"
    assert libolive.strerror(12345) == "unknown error"


def test_log_level_bounds():
    for level in range(5):
        libolive.set_log_level(level)
    libolive.set_log_level(libolive.log.WARNING)
    for bad in (-1, 5):
        with pytest.raises(libolive.InvalidArgument):
            libolive.set_log_level(bad)


def test_log_callback_install_and_remove():
    lines = []
    libolive.set_log_callback(lambda level, message: lines.append((level, message)))
    libolive.set_log_callback(None)
    with pytest.raises(TypeError):
        libolive.set_log_callback(42)


def test_wrong_handle_type_is_refused_by_ctypes():
    with libolive.Accelerator() as acc:
        with pytest.raises(ctypes.ArgumentError):
            _ffi.lib.olive_model_node_count(acc._require())
