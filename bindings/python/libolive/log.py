"""The library's log: level and destination (process-wide)."""

import logging

from . import _ffi
from .errors import check

DEBUG = _ffi.OLIVE_LOG_DEBUG
INFO = _ffi.OLIVE_LOG_INFO
WARNING = _ffi.OLIVE_LOG_WARNING
ERROR = _ffi.OLIVE_LOG_ERROR
SILENT = _ffi.OLIVE_LOG_SILENT

_TO_PYTHON = {DEBUG: logging.DEBUG, INFO: logging.INFO, WARNING: logging.WARNING,
              ERROR: logging.ERROR}

# The library keeps only the address of the C function object, and another thread may be
# inside an old callback while a new one is set, so every callback ever installed is kept.
_installed = []


def set_log_level(level):
    """Sets the minimum level the library logs: DEBUG (0) .. ERROR (3), SILENT (4).
    Raises InvalidArgument outside 0..4."""
    check(_ffi.lib.olive_log_set_level(int(level)))


def set_log_callback(callback):
    """Routes the library's log lines to callback(level, message); None restores the default
    (stderr). The callback may be called from any thread; exceptions it raises are reported
    through sys.unraisablehook and otherwise ignored."""
    if callback is None:
        _ffi.lib.olive_log_set_callback(_ffi.LOG_FN(), None)
        return
    if not callable(callback):
        raise TypeError("the log callback must be callable or None")

    def trampoline(level, message, _user):
        callback(level, _ffi.decode(message))

    fn = _ffi.LOG_FN(trampoline)
    _installed.append(fn)
    _ffi.lib.olive_log_set_callback(fn, None)


def log_to_python(logger=None):
    """Routes the library's log lines to a Python logger (default: logging.getLogger("libolive"))."""
    target = logger or logging.getLogger("libolive")
    set_log_callback(lambda level, message: target.log(_TO_PYTHON.get(level, logging.INFO), message))
