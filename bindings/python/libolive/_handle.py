"""Common lifetime rules of the wrappers around libolive handles.

Each wrapper owns one reference to a C object and releases it exactly once: in close(), at the
end of a ``with`` block, or, as a fallback, when Python collects the wrapper. The library keeps
its own references between objects (an engine holds its passes and accelerator, a model shares
weights with the model it came from), so wrappers may be closed in any order.
"""

import ctypes
import json

from . import _ffi
from .errors import check


class Handle:
    """Base of Model, Pass, Accelerator and Engine."""

    _free_name = None  # name of the C function that releases the handle
    _ptr = None        # also covers a constructor that failed before storing the handle

    def __init__(self, ptr):
        self._ptr = ptr

    @property
    def closed(self):
        """True once the handle has been released."""
        return not self._ptr

    def close(self):
        """Releases the C object now. Calling it again does nothing."""
        ptr, self._ptr = self._ptr, None
        if ptr:
            getattr(_ffi.lib, self._free_name)(ptr)

    def __enter__(self):
        self._require()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def __del__(self):
        # At interpreter exit the module globals may already be gone; the OS reclaims the
        # memory then anyway.
        try:
            self.close()
        except Exception:
            pass

    def _require(self):
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr


def take_json(fill):
    """Calls `fill(out)` where `out` receives a `char **` JSON text; returns it parsed."""
    out = ctypes.c_void_p()
    check(fill(ctypes.byref(out)))
    return json.loads(_ffi.take_string(out.value))


def take_text(fill):
    """Calls `fill(out)` where `out` receives a `char **` string; returns it as str."""
    out = ctypes.c_void_p()
    check(fill(ctypes.byref(out)))
    return _ffi.take_string(out.value)


def option_text(options, kwargs):
    """Builds the library's "key=value key=value" option text from a string and/or keyword
    arguments. Booleans become true/false, lists become comma-separated."""
    parts = []
    if options:
        if not isinstance(options, str):
            raise TypeError("options must be a str of key=value settings, not %s"
                            % type(options).__name__)
        parts.append(options)
    for key, value in kwargs.items():
        parts.append("%s=%s" % (key, value_text(value, key)))
    return " ".join(parts) if parts else None


def value_text(value, key="value"):
    """The text form of one option value, as the library parses it."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = ",".join(value_text(v, key) for v in value)
    else:
        text = str(value)
    if any(c.isspace() for c in text):
        raise ValueError("%s: the value %r contains white space, which the library's "
                         "key=value text form cannot carry" % (key, text))
    return text
