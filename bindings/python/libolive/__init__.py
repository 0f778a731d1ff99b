"""libolive: optimize ONNX models for ONNX Runtime (Python binding of the libolive C library).

    import libolive
    with libolive.Model.load("model.onnx") as model, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.run(model, "optimized").close()

The shared library is found through the LIBOLIVE_LIBRARY environment variable (a path to the
.so), then a libolive.so.* beside this package, then the system's library path.
"""

from . import _ffi
from ._version import PACKAGE_VERSION
from .accelerator import Accelerator
from .engine import Engine, ProgressEvent
from .evaluate import evaluate, lm_eval, register_metric, unregister_metric
from .errors import (Cancelled, Exists, FormatError, InternalError, InvalidArgument,
                     NotFound, OliveError, OliveIOError, OutOfMemory, Unsupported, strerror)
from .log import log_to_python, set_log_callback, set_log_level
from .model import Model
from .passes import Pass, describe_pass, list_passes
from .tokenizer import Encoding, Tokenizer
from .session import Generator, Session, Tensor, load_runtime, runtime_info
from .workflow import Workflow, auto_opt, auto_opt_config, quantize

LibraryNotFoundError = _ffi.LibraryNotFoundError

#: Version of the loaded libolive library ("MAJOR.MINOR.PATCH").
__version__ = _ffi.decode(_ffi.lib.olive_version_string())

#: Path of the loaded shared library.
library_path = _ffi.library_path


def library_version():
    """The loaded library's version as a (major, minor, patch) tuple, from olive_version()."""
    number = _ffi.lib.olive_version()
    return (number // 10000, number // 100 % 100, number % 100)


def _check_library_version():
    # The package uses the ABI of its own major.minor; a library of the same major and an equal
    # or later minor provides it (the ABI only grows within a major version).
    want = tuple(int(x) for x in PACKAGE_VERSION.split(".")[:2])
    have = library_version()
    if have[0] != want[0] or have[1] < want[1]:
        raise ImportError(
            "libolive Python package %s needs libolive %d.%d or a later %d.x, but %s is %s"
            % (PACKAGE_VERSION, want[0], want[1], want[0], library_path, __version__))


_check_library_version()

__all__ = [
    "Accelerator", "Cancelled", "Encoding", "Engine", "Exists", "FormatError", "InternalError",
    "InvalidArgument", "LibraryNotFoundError", "Model", "NotFound", "OliveError",
    "OliveIOError", "OutOfMemory", "Pass", "ProgressEvent", "Unsupported", "__version__",
    "describe_pass", "library_path", "library_version", "list_passes", "log_to_python",
    "set_log_callback", "set_log_level", "strerror", "Tokenizer", "Workflow", "auto_opt", "auto_opt_config", "quantize",
    "Generator", "Session", "Tensor", "load_runtime", "runtime_info",
    "evaluate", "lm_eval", "register_metric", "unregister_metric",
]
