"""Common lifetime rules of the wrappers around libolive handles.

Each wrapper owns one reference to a C object and releases it exactly once: in close(), at the
end of a ``with`` block, or, as a fallback, when Python collects the wrapper. The library keeps
its own references between objects (an engine holds its passes and accelerator, a model shares
weights with the model it came from), so wrappers may be closed in any order.
"""

import contextlib
import ctypes
import json
import threading

from . import _ffi
from .errors import check


class Handle:
    """Base of Model, Pass, Accelerator, Engine and Workflow.

    Every call into the library holds the handle through ``_use()``, which counts the calls in
    flight. close() may come from any thread at any time: it marks the wrapper closed at once
    (new calls raise ValueError), and the C object is released when the last call in flight
    returns, so a run on another thread never has its object freed under it."""

    _free_name = None  # name of the C function that releases the handle
    _ptr = None        # also covers a constructor that failed before storing the handle

    def __init__(self, ptr):
        self._guard = threading.RLock()  # guards _ptr, _users and _doomed
        self._users = 0                  # calls into the library in flight
        self._doomed = None              # closed while in use: freed by the last user
        self._ptr = ptr

    @property
    def closed(self):
        """True once close() was called (the C object may live on until a call in flight
        on another thread returns)."""
        return not self._ptr

    def close(self):
        """Releases the C object: now, or when the last call in flight on another thread
        returns. Calling it again does nothing."""
        guard = self.__dict__.get("_guard")
        if guard is None:  # a constructor failed before the handle existed
            return
        with guard:
            ptr, self._ptr = self._ptr, None
            if not ptr:
                return
            if self._users:
                self._doomed = ptr
                return
        self._free(ptr)

    def _free(self, ptr):
        getattr(_ffi.lib, self._free_name)(ptr)

    @contextlib.contextmanager
    def _use(self):
        """Holds the C object for one call into the library; yields its pointer."""
        with self._guard:
            ptr = self._require()
            self._users += 1
        try:
            yield ptr
        finally:
            with self._guard:
                self._users -= 1
                doomed = self._doomed if not self._users else None
                if doomed:
                    self._doomed = None
            if doomed:
                self._free(doomed)

    def _live_ptr(self):
        """The C object while it exists (also after close() while a call is in flight), or
        None. Call with _guard held: the object cannot be freed until it is released."""
        return self._ptr or self._doomed

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
