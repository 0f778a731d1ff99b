"""Microsoft Olive's own pure-Python code (olive-ai, pinned in scripts/requirements-olive.txt and
installed without its dependencies) as a reference for the tests.

Olive's package imports torch, transformers, torchmetrics and optuna at import time (for other
passes); the parts the tests call (graph surgeons, the search walk) do not use them. They are
stubbed while Olive's modules are imported and removed from sys.modules afterwards, so other
tests see no torch."""

import importlib.machinery
import os
import sys
import types
import warnings

_STUBBED = ("torch", "transformers", "torchmetrics", "optuna")


class _Stub(types.ModuleType):
    """A module whose every attribute is another stub: enough for import-time annotations and
    base classes of code the tests never run."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        sub = _Stub(f"{self.__name__}.{name}")
        sub.__path__ = []
        sys.modules[sub.__name__] = sub
        setattr(self, name, sub)
        return sub

    def __call__(self, *args, **kwargs):
        return self

    def __mro_entries__(self, bases):
        return ()


class _StubFinder:
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in _STUBBED:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _Stub(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def import_olive(load):
    """Calls load() (which imports Olive's modules and returns what the test needs) with the
    heavy packages stubbed; None when olive-ai or what it imports is missing."""
    try:
        import onnxscript  # noqa: F401, PLC0415
        import pydantic  # noqa: F401, PLC0415
    except ImportError:
        return None
    finder = _StubFinder()
    had = {k for k in sys.modules if k.split(".")[0] in _STUBBED}
    sys.meta_path.insert(0, finder)
    # Olive's telemetry singleton starts disabled when it sees a CI variable: made here, once,
    # so that nothing is sent or cached by the tests.
    ci = os.environ.get("CI")
    os.environ["CI"] = "1"
    os.environ.setdefault("OLIVE_DISABLE_TELEMETRY", "1")
    try:
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="opentelemetry")
        from olive.telemetry.telemetry import Telemetry  # noqa: PLC0415
        Telemetry()
        return load()
    except Exception:  # noqa: BLE001 - any import failure means: no reference here
        return None
    finally:
        if ci is None:
            del os.environ["CI"]
        else:
            os.environ["CI"] = ci
        sys.meta_path.remove(finder)
        for k in [k for k in sys.modules if k.split(".")[0] in _STUBBED and k not in had]:
            del sys.modules[k]
