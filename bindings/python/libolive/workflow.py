"""Workflows (olive_workflow): optimization jobs in Olive's workflow JSON schema, run through
the library's pass cache; and the configs `olive auto-opt` / `olive quantize` would run."""

import ctypes
import json
import weakref

from . import _ffi
from ._handle import Handle, take_text
from .engine import _event
from .errors import check, error_for


def _options(kwargs):
    parts = []
    for key, value in kwargs.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            text = ",".join(str(v) for v in value)
        else:
            text = str(value)
        if any(c in text for c in ' "\\\t'):
            text = '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')
        parts.append("%s=%s" % (key, text))
    return " ".join(parts)


def auto_opt_config(command="auto-opt", **options):
    """The workflow config (a dict in Olive's schema) that `olive auto-opt`, `olive optimize`
    or `olive quantize` runs for the given flags: model_name_or_path, output_path, device,
    provider, precision, block_size, accuracy_level, use_ort_genai, algorithm, ..."""
    text = take_text(lambda out: _ffi.lib.olive_workflow_auto_opt_config(
        out, _ffi.encode(command), _ffi.encode(_options(options))))
    return json.loads(text)


def _make_trampoline(workflow_ref):
    def trampoline(event, pass_name, index, count, fraction, bytes_written, _user):
        w = workflow_ref()
        if w is None or w._callback is None:
            return 0
        if w._callback_error is not None:
            return 1
        try:
            return 1 if w._callback(_event(event), _ffi.decode(pass_name), index, count, fraction,
                                    bytes_written) else 0
        except BaseException as exc:
            w._callback_error = exc
            return 1

    return _ffi.PROGRESS_FN(trampoline)


class Workflow(Handle):
    """A workflow config in Olive's schema, checked when created:

        with Workflow(config_dict_or_json_text, strict=True) as w:
            summary = w.run()      # {"steps": [{"slot", "pass", "cache": "hit"|"run", ...}], ...}

    Options (keyword arguments): strict, output_dir, cache_dir, log_level, executor ("local" or
    "slurm") and max_parallel (a search's candidates in worker processes or as a Slurm job
    array; the workers run the olive command that OLIVE_CLI names).
    """

    _free_name = "olive_workflow_free"

    def __init__(self, config, **options):
        text = config if isinstance(config, str) else json.dumps(config)
        out = _ffi.WorkflowPtr()
        check(_ffi.lib.olive_workflow_new(ctypes.byref(out), _ffi.encode(text), _ffi.encode(_options(options))))
        self._setup(out)

    @classmethod
    def load(cls, path, **options):
        """Reads the config from a JSON file."""
        out = _ffi.WorkflowPtr()
        check(_ffi.lib.olive_workflow_load(ctypes.byref(out), _ffi.encode_path(path),
                                           _ffi.encode(_options(options))))
        w = cls.__new__(cls)
        w._setup(out)
        return w

    def _setup(self, ptr):
        Handle.__init__(self, ptr)
        self._callback = None
        self._callback_error = None
        self._running = False  # guarded by _guard: one run at a time
        self._trampoline = _make_trampoline(weakref.ref(self))
        _ffi.lib.olive_workflow_set_progress(ptr, self._trampoline, None)

    @property
    def pipeline_text(self):
        """The passes in text form; alternatives of a slot separated by " | "."""
        with self._use() as ptr:
            return take_text(lambda out: _ffi.lib.olive_workflow_pipeline_text(out, ptr))

    def on_progress(self, callback):
        """As Engine.on_progress: callback(event, pass_name, index, count, fraction, bytes)."""
        self._require()
        if callback is not None and not callable(callback):
            raise TypeError("the progress callback must be callable or None")
        self._callback = callback
        return callback

    def cancel(self):
        """Asks a running run() (on another thread) to stop at its next check point; run()
        then raises Cancelled. Safe from any thread at any time, also after close() while the
        run is still going."""
        guard = self.__dict__.get("_guard")
        if guard is None:
            return
        with guard:  # the workflow cannot be freed while this is held
            ptr = self._live_ptr()
            if ptr:
                _ffi.lib.olive_workflow_cancel(ptr)

    def run(self):
        """Runs the workflow; returns its summary as a dict. close() on another thread during
        the run releases the workflow once the run has returned."""
        out = ctypes.c_void_p()
        with self._use() as ptr:
            with self._guard:
                if self._running:
                    raise RuntimeError("this Workflow is already running")
                self._running = True
            try:
                self._callback_error = None
                rc = _ffi.lib.olive_workflow_run(ptr, ctypes.byref(out))
                failure = error_for(rc) if rc < 0 else None
            finally:
                with self._guard:
                    self._running = False
        callback_error, self._callback_error = self._callback_error, None
        if callback_error is not None:
            if rc >= 0:
                _ffi.take_string(out.value)
            raise callback_error
        if failure is not None:
            raise failure
        return json.loads(_ffi.take_string(out.value))

    def __repr__(self):
        if self.closed:
            return "<libolive.Workflow (closed)>"
        return "<libolive.Workflow %r>" % (self.pipeline_text,)


def _run_command(command, options, strict):
    config = auto_opt_config(command, **options)
    with Workflow(config, strict=strict) as w:
        return w.run()


def auto_opt(model_name_or_path, output_path="auto-opt-output", strict=False, **options):
    """Runs what `olive auto-opt` runs (see auto_opt_config for the options: device, provider,
    precision, block_size, accuracy_level, use_ort_genai, cache_dir, ...); returns the run
    summary (steps with "cache": "hit" or "run", seconds, output_dir)."""
    return _run_command("auto-opt", dict(options, model_name_or_path=model_name_or_path, output_path=output_path),
                        strict)


def quantize(model_name_or_path, output_path="quantized-model", strict=False, **options):
    """Runs what `olive quantize` runs (algorithm, precision, block_size, ...)."""
    return _run_command("quantize", dict(options, model_name_or_path=model_name_or_path, output_path=output_path),
                        strict)
