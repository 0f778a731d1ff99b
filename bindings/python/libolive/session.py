"""Running models: tensors, ONNX Runtime sessions and ONNX Runtime GenAI generation
(include/olive/session.h).

numpy is needed for Tensor.from_numpy / Tensor.numpy and Session.run, and imported only then.

Memory: an input array is handed to the library without a copy when it is C-contiguous and
of a supported dtype (otherwise a contiguous copy is made); the Tensor keeps the array alive.
Outputs come back without a copy too: each array returned by Session.run views the buffer of
the library's output tensor, and that tensor is freed when the last array viewing it dies.
"""

import ctypes
import json
import threading

from . import _ffi
from ._handle import Handle, take_json, take_text
from .errors import check
from .model import Model

# olive_dtype values (ONNX's TensorProto.DataType numbers) and their numpy names. bfloat16 has
# no numpy dtype: its values travel as uint16 bit patterns (see Tensor.from_numpy).
DTYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
}
_CODES = {name: code for code, name in DTYPES.items()}
_CODES["double"] = 11


def _np():
    import numpy
    return numpy


class _ArrayView:
    """Exposes a tensor's buffer to numpy (the array interface) and keeps the tensor alive for
    as long as an array made from it exists."""

    def __init__(self, tensor, typestr, shape):
        self._tensor = tensor
        self.__array_interface__ = {
            "data": (tensor._data_address(), False), "shape": tuple(shape),
            "typestr": typestr, "version": 3,
        }


class Tensor(Handle):
    """An olive_tensor: a dtype, a shape and a host buffer (owned, borrowed or held)."""

    _free_name = "olive_tensor_free"

    def __init__(self, _ptr, _keep=None):
        if not isinstance(_ptr, _ffi.TensorPtr) or not _ptr:
            raise TypeError("use Tensor.zeros() or Tensor.from_numpy() to create a Tensor")
        super().__init__(_ptr)
        self._keep = _keep  # the numpy array a borrowed tensor points into

    @classmethod
    def zeros(cls, dtype, shape):
        """A new tensor that owns a zero-filled buffer. `dtype` is a name of DTYPES."""
        code = _code(dtype)
        dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
        out = _ffi.TensorPtr()
        check(_ffi.lib.olive_tensor_new(ctypes.byref(out), code, dims, len(shape)))
        return cls(out)

    @classmethod
    def from_numpy(cls, array, dtype=None):
        """A tensor over `array`'s memory (no copy when it is C-contiguous; otherwise over a
        contiguous copy). The tensor keeps the array alive; do not change it while a run uses
        it. `dtype="bfloat16"` marks a uint16 array as bfloat16 bit patterns."""
        np = _np()
        array = np.asarray(array)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")  # (np.ascontiguousarray would turn a scalar into [1])
        name = dtype or array.dtype.name
        if name == "bfloat16" and array.dtype.itemsize != 2:
            raise TypeError("bfloat16 tensors are made from uint16 (or 2-byte) arrays of bit patterns")
        code = _code(name)
        dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
        out = _ffi.TensorPtr()
        check(_ffi.lib.olive_tensor_wrap(ctypes.byref(out), code, dims, array.ndim,
                                         ctypes.c_void_p(array.ctypes.data), array.nbytes))
        return cls(out, _keep=array)

    @property
    def dtype(self):
        """The dtype's name ("float32", "bfloat16", ...)."""
        return DTYPES.get(_ffi.lib.olive_tensor_dtype(self._require()), "undefined")

    @property
    def shape(self):
        ptr = self._require()
        return tuple(_ffi.lib.olive_tensor_dim(ptr, i) for i in range(_ffi.lib.olive_tensor_rank(ptr)))

    @property
    def nbytes(self):
        return _ffi.lib.olive_tensor_byte_size(self._require())

    def _data_address(self):
        return _ffi.lib.olive_tensor_data(self._require()) or 0

    def numpy(self):
        """A numpy array viewing this tensor's buffer (no copy); the tensor stays alive while
        the array does. bfloat16 comes back as uint16 bit patterns."""
        np = _np()
        name = self.dtype
        dt = np.dtype("uint16" if name == "bfloat16" else name)
        return np.asarray(_ArrayView(self, dt.str, self.shape))

    def close(self):
        super().close()
        self._keep = None


def _code(name):
    try:
        return _CODES[str(name)]
    except KeyError:
        raise TypeError("dtype %r is not one libolive tensors hold (%s)"
                        % (name, ", ".join(sorted(set(DTYPES.values()))))) from None


def options_text(options, kwargs):
    """Session or generator options (a "key=value ..." str, a dict, and/or keyword arguments)
    as the library's text; values with spaces are quoted."""
    pairs = []
    if isinstance(options, dict):
        pairs += list(options.items())
    elif options:
        if not isinstance(options, str):
            raise TypeError("options must be a str of key=value settings or a dict")
        pairs.append((None, options))
    pairs += list(kwargs.items())
    words = []
    for key, value in pairs:
        if key is None:
            words.append(value)
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value)
        if any(c.isspace() or c in '"\\' for c in text):
            text = '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')
        words.append("%s=%s" % (key, text))
    return " ".join(words) if words else None


class Session:
    """A model prepared by ONNX Runtime for an accelerator's execution provider.

    `model` is a Model (written to a private temporary folder for ONNX Runtime) or the path of
    an ONNX file (read by ONNX Runtime directly, external data beside it). `accelerator` is an
    Accelerator (None: cpu). Options, as a str, a dict and/or keyword arguments:
    intra_op_num_threads, inter_op_num_threads, execution_mode (sequential|parallel),
    graph_optimization_level (disable|basic|extended|all), "provider.KEY", "config.KEY",
    ort_library.

    Runs may come from several threads at once; close() (or dropping the session) from any
    thread while a run is in progress releases the session when that run returns.
    """

    def __init__(self, model, accelerator=None, options=None, **kwargs):
        self._lock = threading.Lock()
        self._ptr = None
        self._runs = 0
        self._closing = False
        text = _ffi.encode(options_text(options, kwargs))
        acc = accelerator._require() if accelerator is not None else None
        out = _ffi.SessionPtr()
        if isinstance(model, Model):
            check(_ffi.lib.olive_session_new(ctypes.byref(out), model._require(), acc, text))
        else:
            check(_ffi.lib.olive_session_new_from_path(ctypes.byref(out), _ffi.encode_path(model), acc, text))
        self._ptr = out
        self._description = take_json(lambda o: _ffi.lib.olive_session_describe_json(o, out))

    # -- lifetime --

    def _acquire(self):
        with self._lock:
            if not self._ptr or self._closing:
                raise ValueError("Session is closed")
            self._runs += 1
            return self._ptr

    def _release(self):
        with self._lock:
            self._runs -= 1
            free = self._closing and self._runs == 0 and self._ptr
            ptr, self._ptr = (self._ptr, None) if free else (None, self._ptr)
        if ptr:
            _ffi.lib.olive_session_free(ptr)

    def close(self):
        """Releases the session now, or when the runs in progress have returned."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._closing = True
            ptr = self._ptr if self._runs == 0 else None
            if ptr:
                self._ptr = None
        if ptr:
            _ffi.lib.olive_session_free(ptr)

    @property
    def closed(self):
        return self._closing or not self._ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- description --

    @property
    def provider(self):
        return self._description["provider"]

    @property
    def inputs(self):
        """[{"name", "dtype", "shape"}]: dims are ints, symbolic names, or None."""
        return [dict(i) for i in self._description["inputs"]]

    @property
    def outputs(self):
        return [dict(o) for o in self._description["outputs"]]

    # -- running --

    def run(self, feeds, output_names=None):
        """Runs the model on `feeds` ({input name: numpy array or Tensor}) and returns
        {output name: numpy array} for `output_names` (None: every output, in the model's
        order). Raises InvalidArgument for an input that does not fit (named in the message),
        Cancelled when cancel() stopped the run, FormatError when ONNX Runtime failed it."""
        names = list(feeds)
        tensors = [v if isinstance(v, Tensor) else Tensor.from_numpy(v) for v in feeds.values()]
        outs = [o["name"] for o in self._description["outputs"]] if output_names is None else list(output_names)
        c_names = (ctypes.c_char_p * max(len(names), 1))(*[_ffi.encode(n) for n in names])
        c_inputs = (_ffi.TensorPtr * max(len(tensors), 1))(*[t._require() for t in tensors])
        c_outs = (ctypes.c_char_p * max(len(outs), 1))(*[_ffi.encode(n) for n in outs])
        results = (_ffi.TensorPtr * max(len(outs), 1))()
        ptr = self._acquire()
        try:
            check(_ffi.lib.olive_session_run(results, ptr, c_names, c_inputs, len(names),
                                             c_outs if output_names is not None else None, len(outs)))
        finally:
            self._release()
            del tensors  # the inputs were only read during the run
        made = [Tensor(results[i]) for i in range(len(outs))]
        return {name: t.numpy() for name, t in zip(outs, made)}

    def cancel(self):
        """Stops the runs in progress on other threads (they raise Cancelled)."""
        with self._lock:
            ptr = self._ptr if not self._closing else None
            if ptr:
                self._runs += 1
        if ptr:
            try:
                _ffi.lib.olive_session_cancel(ptr)
            finally:
                self._release()


class Generator(Handle):
    """A decoder folder (genai_config.json) loaded by ONNX Runtime GenAI for greedy generation.
    Options: chat_template (auto|true|false), ort_library, genai_library."""

    _free_name = "olive_generator_free"

    def __init__(self, model_dir, accelerator=None, options=None, **kwargs):
        out = _ffi.GeneratorPtr()
        acc = accelerator._require() if accelerator is not None else None
        check(_ffi.lib.olive_generator_new(ctypes.byref(out), _ffi.encode_path(model_dir), acc,
                                           _ffi.encode(options_text(options, kwargs))))
        super().__init__(out)

    def generate(self, prompt, new_tokens):
        """Generates `new_tokens` tokens greedily after `prompt`; returns a dict: prompt_tokens,
        tokens, text, chat_template_applied, time_to_first_token_s, prefill_tokens_per_s,
        decode_tokens_per_s."""
        ptr = self._require()
        return take_json(lambda out: _ffi.lib.olive_generator_generate_json(out, ptr, _ffi.encode(prompt),
                                                                             int(new_tokens)))


def load_runtime(path=None):
    """Loads ONNX Runtime now, from `path` or by the lookup (see runtime_info)."""
    check(_ffi.lib.olive_runtime_load(_ffi.encode_path(path) if path is not None else None))


def runtime_info():
    """{"onnxruntime": {...}, "onnxruntime_genai": {...}}: which libraries were found, where,
    their versions and execution providers, or the lookup error."""
    return json.loads(take_text(lambda out: _ffi.lib.olive_runtime_info_json(out)))
