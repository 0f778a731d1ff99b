"""Exceptions raised for libolive's negative status codes.

Every failing C call becomes an OliveError subclass chosen by its code. The exception carries
the code, the library's name for it (olive_strerror) and the message the library left for the
thread (olive_error_last), which names the file, node, tensor or parameter at fault. Where a
built-in exception means the same thing, the class also derives from it, so
``except FileExistsError`` or ``except ValueError`` work as Python users expect.
"""

from . import _ffi


class OliveError(Exception):
    """A libolive call failed.

    Attributes:
        code: the negative OLIVE_E* status code.
        code_name: the library's name for the code ("not found", ...).
        message: the library's message for this failure ("" if it gave none).
    """

    def __init__(self, code, message="", code_name=None):
        self.code = code
        self.code_name = code_name if code_name is not None else strerror(code)
        self.message = message
        super().__init__(message or self.code_name)

    def __str__(self):
        return self.message or self.code_name

    def __repr__(self):
        return "%s(code=%d, code_name=%r, message=%r)" % (
            type(self).__name__, self.code, self.code_name, self.message)

    def __reduce__(self):
        return (_rebuild, (type(self), self.code, self.message, self.code_name))


def _rebuild(cls, code, message, code_name):
    return cls(code, message, code_name)


class InvalidArgument(OliveError, ValueError):
    """OLIVE_EINVALID: an argument or option value is invalid."""


class NotFound(OliveError, LookupError):
    """OLIVE_ENOTFOUND: a file, pass, parameter, tensor or value does not exist."""


class FormatError(OliveError, ValueError):
    """OLIVE_EFORMAT: input data is malformed."""


class Unsupported(OliveError, NotImplementedError):
    """OLIVE_EUNSUPPORTED: valid input that this build does not handle."""


class OliveIOError(OliveError, OSError):
    """OLIVE_EIO: an operating-system I/O call failed."""


class OutOfMemory(OliveError, MemoryError):
    """OLIVE_ENOMEM: memory allocation failed, or a size overflows."""


class Cancelled(OliveError):
    """OLIVE_ECANCELLED: the caller cancelled the operation."""


class Exists(OliveError, FileExistsError):
    """OLIVE_EEXISTS: the destination exists and would be overwritten."""


class InternalError(OliveError):
    """OLIVE_EINTERNAL: a bug in libolive; please report it with the message."""


_BY_CODE = {
    _ffi.OLIVE_EINVALID: InvalidArgument,
    _ffi.OLIVE_ENOTFOUND: NotFound,
    _ffi.OLIVE_EFORMAT: FormatError,
    _ffi.OLIVE_EUNSUPPORTED: Unsupported,
    _ffi.OLIVE_EIO: OliveIOError,
    _ffi.OLIVE_ENOMEM: OutOfMemory,
    _ffi.OLIVE_ECANCELLED: Cancelled,
    _ffi.OLIVE_EEXISTS: Exists,
    _ffi.OLIVE_EINTERNAL: InternalError,
}


def strerror(code):
    """The library's name for a status code ("invalid argument", ...)."""
    return _ffi.decode(_ffi.lib.olive_strerror(code))


def error_for(code):
    """The exception for `code`, with the thread's last message. Call right after the failing
    C call: the message is per thread and replaced by the next failure."""
    message = _ffi.decode(_ffi.lib.olive_error_last()) or ""
    cls = _BY_CODE.get(code, OliveError)
    return cls(code, message)


def check(code):
    """Raises the matching OliveError when a C call returned a negative status."""
    if code < 0:
        raise error_for(code)
    return code
