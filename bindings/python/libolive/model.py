"""ONNX models in memory (olive_model)."""

import ctypes
import json
import os

from . import _ffi
from ._handle import Handle, option_text, take_json
from .errors import check


class Model(Handle):
    """An ONNX model held by libolive. Weights stay in their files (memory-mapped) until the
    model is saved. Models are immutable: passes and engines return new models.

    Create one with Model.load(path); release it with close() or a ``with`` block.
    """

    _free_name = "olive_model_free"

    def __init__(self, _ptr):
        # Models come from load(), Pass.apply() or Engine.run(), never from user code.
        if not isinstance(_ptr, _ffi.ModelPtr) or not _ptr:
            raise TypeError("use Model.load(path) to create a Model")
        super().__init__(_ptr)

    @classmethod
    def load(cls, path):
        """Loads the ONNX model at `path` (str or os.PathLike). External data files are
        resolved relative to its folder.

        Raises NotFound (missing file), FormatError (not a valid ONNX model), OliveIOError.
        """
        out = _ffi.ModelPtr()
        check(_ffi.lib.olive_model_load(ctypes.byref(out), _ffi.encode_path(path)))
        return cls(out)

    def save(self, path, options=None, **kwargs):
        """Saves the model to `path` (normally "<folder>/model.onnx"), atomically.

        Options, as a "key=value ..." string and/or keyword arguments:
          external_data: "auto" | "always" | "never" (default auto)
          size_threshold: tensors of this many bytes or more go to the data file (default 1024)
          align: offset alignment in the data file (default 4096)
          data_file: name of the data file (default "<model file name>.data")
        """
        text = option_text(options, kwargs)
        with self._use() as ptr:
            check(_ffi.lib.olive_model_save(ptr, _ffi.encode_path(path), _ffi.encode(text)))

    def summary(self):
        """A dict describing the model (olive_model_summary_json): ir_version, producer, opset
        imports, inputs and outputs with dtypes and shapes, node count, op-type histogram,
        initializer and parameter counts, bytes and elements per dtype."""
        with self._use() as ptr:
            return take_json(lambda out: _ffi.lib.olive_model_summary_json(out, ptr))

    def validate(self):
        """Checks the graph's structure; raises FormatError naming the node and value at fault."""
        with self._use() as ptr:
            check(_ffi.lib.olive_model_validate(ptr))

    def opset(self, domain=""):
        """The opset version imported for `domain` ("" or "ai.onnx": the default domain), or
        None if the model does not import it."""
        with self._use() as ptr:
            version = _ffi.lib.olive_model_opset(ptr, _ffi.encode(domain))
        return None if version < 0 else version

    @property
    def node_count(self):
        """Number of nodes in the main graph."""
        with self._use() as ptr:
            return _ffi.lib.olive_model_node_count(ptr)

    @property
    def initializer_count(self):
        """Number of initializers (weights)."""
        with self._use() as ptr:
            return _ffi.lib.olive_model_initializer_count(ptr)

    @property
    def parameter_count(self):
        """Total number of elements in all initializers."""
        with self._use() as ptr:
            return _ffi.lib.olive_model_parameter_count(ptr)

    @property
    def inputs(self):
        """Names of the graph inputs, in order."""
        with self._use() as ptr:
            n = _ffi.lib.olive_model_input_count(ptr)
            return [_ffi.decode(_ffi.lib.olive_model_input_name(ptr, i)) for i in range(n)]

    @property
    def outputs(self):
        """Names of the graph outputs, in order."""
        with self._use() as ptr:
            n = _ffi.lib.olive_model_output_count(ptr)
            return [_ffi.decode(_ffi.lib.olive_model_output_name(ptr, i)) for i in range(n)]

    @property
    def path(self):
        """The path the model was loaded from (for the result of a pass or a run: the path of
        the model it came from), or None for a model built in memory."""
        with self._use() as ptr:
            raw = _ffi.lib.olive_model_path(ptr)
        return os.fsdecode(raw) if raw else None

    @property
    def inference_settings(self):
        """How the model runs best, as a tuning pass (session_params_tuning, Olive's
        OrtSessionParamsTuning) recorded it: Olive's inference_settings dict, or None."""
        with self._use() as ptr:
            raw = _ffi.lib.olive_model_inference_settings(ptr)
        return json.loads(_ffi.decode(raw)) if raw else None

    def __repr__(self):
        if self.closed:
            return "<libolive.Model (closed)>"
        return "<libolive.Model %s: %d nodes, %d parameters>" % (
            self.path or "(in memory)", self.node_count, self.parameter_count)
