"""Makes the binding in this source tree importable and points it at a built library.

The library is taken from LIBOLIVE_LIBRARY when set (meson test sets it); otherwise the newest
build*/lib/libolive.so under the repository root that can be loaded without a sanitizer
runtime. With neither, the tests skip (see olive_py_support.require_libolive).
"""

import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING_ROOT = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(BINDING_ROOT))

sys.path.insert(0, BINDING_ROOT)


def _loadable_without_sanitizer(path):
    # An AddressSanitizer build can only be loaded into a process that starts with its runtime.
    try:
        with open(path, "rb") as f:
            return b"__asan_init" not in f.read()
    except OSError:
        return False


def _find_built_library():
    found = [p for p in glob.glob(os.path.join(REPO_ROOT, "build*", "lib", "libolive.so"))
             if _loadable_without_sanitizer(p)]
    return max(found, key=os.path.getmtime) if found else None


if not os.environ.get("LIBOLIVE_LIBRARY"):
    _built = _find_built_library()
    if _built:
        os.environ["LIBOLIVE_LIBRARY"] = _built


def pytest_report_header(config):
    return "libolive library: %s" % (os.environ.get("LIBOLIVE_LIBRARY") or "not found")
