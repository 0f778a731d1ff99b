"""Evaluating models with Olive's evaluators (olive_evaluate) and custom metric functions
(olive_metric_register).

    results = libolive.evaluate("model_dir", {"metrics": [{"name": "lat", "type": "latency",
                                 "sub_types": [{"name": "p50"}], "data_config": {...}}]})
    results["lat-p50"]["value"]   # milliseconds
"""

import ctypes
import json

from . import _ffi
from .errors import check

# Keeps registered callbacks (and their Python functions) alive while the library may call them.
_registered = {}


def _tensor_numpy(address):
    """A numpy copy of a borrowed olive_tensor, or None for a NULL pointer."""
    if not address:
        return None
    import numpy as np
    from .session import DTYPES
    ptr = ctypes.cast(address, _ffi.TensorPtr)
    lib = _ffi.lib
    shape = tuple(lib.olive_tensor_dim(ptr, i) for i in range(lib.olive_tensor_rank(ptr)))
    dtype = np.dtype(DTYPES.get(lib.olive_tensor_dtype(ptr), "uint8"))
    nbytes = lib.olive_tensor_byte_size(ptr)
    raw = ctypes.string_at(lib.olive_tensor_data(ptr), nbytes) if nbytes else b""
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def register_metric(name, fn):
    """Registers `fn(metric, sub_type, model_path, preds, logits, targets) -> float` for custom
    metrics whose user_config names `name` (metric_func or evaluate_func). preds, logits and
    targets are numpy arrays (None when the metric has no data_config)."""
    def trampoline(value, metric, sub_type, model_path, preds, logits, targets, _user):
        try:
            value[0] = float(fn(_ffi.decode(metric), _ffi.decode(sub_type), _ffi.decode(model_path),
                                _tensor_numpy(preds), _tensor_numpy(logits), _tensor_numpy(targets)))
            return 0
        except Exception as exc:  # reported by olive_evaluate as the function's failure
            trampoline.error = exc
            return 1
    trampoline.error = None
    callback = _ffi.METRIC_FN(trampoline)
    check(_ffi.lib.olive_metric_register(_ffi.encode(name), callback, None))
    _registered[name] = (callback, trampoline)


def unregister_metric(name):
    """Removes a function registered with register_metric."""
    check(_ffi.lib.olive_metric_unregister(_ffi.encode(name)))
    _registered.pop(name, None)


def evaluate(model, evaluator, accelerator=None, progress=None):
    """Evaluates the ONNX model `model` (a .onnx file or a model folder) with `evaluator` (a
    dict or JSON text in Olive's schema: {"metrics": [...], "data_configs": [...]}). Returns
    {"<metric>-<sub_type>": {"value", "priority", "higher_is_better"}}. `progress(metric, done,
    total, rate, eta_s)` may return True to cancel (libolive.Cancelled is raised)."""
    text = evaluator if isinstance(evaluator, str) else json.dumps(evaluator)
    acc = accelerator._require() if accelerator is not None else None
    errors = []

    def on_progress(metric, done, total, rate, eta, _user):
        try:
            return 1 if progress(_ffi.decode(metric), done, total, rate, eta) else 0
        except Exception as exc:
            errors.append(exc)
            return 1

    cb = _ffi.EVALUATE_PROGRESS_FN(on_progress) if progress else _ffi.EVALUATE_PROGRESS_FN()
    out = ctypes.c_void_p()
    code = _ffi.lib.olive_evaluate(ctypes.byref(out), _ffi.encode_path(model), _ffi.encode(text), acc, cb, None)
    if errors:
        raise errors[0]
    for _, tramp in _registered.values():
        if tramp.error is not None:
            exc, tramp.error = tramp.error, None
            if code < 0:
                raise exc
    check(code)
    return json.loads(_ffi.take_string(out.value))


def lm_eval(model, tasks, limit=0, max_length=0, accelerator=None):
    """Scores the decoder `model` (a model folder or its .onnx file) on lm-eval `tasks` (names
    such as "arc_easy", .jsonl multiple-choice files, or text files for rolling perplexity) as
    lm-eval does (olive_lm_eval). Returns {"<task>": {"acc", "acc_stderr", ...}}."""
    text = json.dumps({"tasks": list(tasks), "limit": limit, "max_length": max_length})
    acc = accelerator._require() if accelerator is not None else None
    out = ctypes.c_void_p()
    check(_ffi.lib.olive_lm_eval(ctypes.byref(out), _ffi.encode_path(model), _ffi.encode(text), acc,
                                 _ffi.EVALUATE_PROGRESS_FN(), None))
    return json.loads(_ffi.take_string(out.value))
