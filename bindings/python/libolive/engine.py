"""Engines (olive_engine): run a pipeline of passes on a model and write the result."""

import contextlib
import ctypes
import enum
import weakref

from . import _ffi
from ._handle import Handle, take_text, value_text
from .accelerator import Accelerator
from .errors import check, error_for
from .model import Model
from .passes import Pass


class ProgressEvent(enum.IntEnum):
    """What a progress callback is told about (engine.h OLIVE_PROGRESS_*)."""

    PASS_STARTED = _ffi.OLIVE_PROGRESS_PASS_STARTED
    PASS_PROGRESS = _ffi.OLIVE_PROGRESS_PASS_PROGRESS
    PASS_FINISHED = _ffi.OLIVE_PROGRESS_PASS_FINISHED
    SAVING = _ffi.OLIVE_PROGRESS_SAVING
    DONE = _ffi.OLIVE_PROGRESS_DONE


def _event(value):
    try:
        return ProgressEvent(value)
    except ValueError:  # an event added by a newer library
        return value


def _make_trampoline(engine_ref):
    """The C progress callback of one engine. It holds the engine weakly (no reference cycle
    through the C function object) and never lets a Python exception reach C: the exception is
    kept, the run is cancelled, and Engine.run raises it once the library has returned."""

    def trampoline(event, pass_name, index, count, fraction, bytes_written, _user):
        engine = engine_ref()
        if engine is None:
            return 0
        if engine._callback_error is not None:
            return 1
        try:
            callback = engine._callback
            if callback is None:
                return 0
            result = callback(_event(event), _ffi.decode(pass_name), index, count, fraction,
                              bytes_written)
            return 1 if result else 0
        except BaseException as exc:  # KeyboardInterrupt too: it cancels the run
            engine._callback_error = exc
            return 1

    return _ffi.PROGRESS_FN(trampoline)


class Engine(Handle):
    """Runs an ordered pipeline of passes on a model for an accelerator (default: cpu with
    CPUExecutionProvider) and writes the result to an output folder.

        with Engine() as engine:
            engine.add_pipeline("peephole")
            engine.on_progress(lambda event, name, i, n, fraction, written: print(name, fraction))
            result = engine.run(model, "out")

    A progress callback may return True to cancel the run (run() then raises Cancelled). An
    exception raised by the callback cancels the run and is raised again by run(). While a run
    is in progress, Ctrl-C (KeyboardInterrupt) cancels it at the next progress report.
    """

    _free_name = "olive_engine_free"

    def __init__(self, accelerator=None):
        if isinstance(accelerator, str):
            with Accelerator(accelerator) as acc:
                self.__init__(acc)
            return
        if accelerator is not None and not isinstance(accelerator, Accelerator):
            raise TypeError("accelerator must be a libolive.Accelerator, a device name or None")
        out = _ffi.EnginePtr()
        with accelerator._use() if accelerator is not None else contextlib.nullcontext() as acc_ptr:
            check(_ffi.lib.olive_engine_new(ctypes.byref(out), acc_ptr))
        super().__init__(out)
        self._callback = None
        self._callback_error = None
        self._running = False  # guarded by _guard: one run at a time
        # Installed once and kept while the engine lives: the C side holds only its address.
        self._trampoline = _make_trampoline(weakref.ref(self))
        _ffi.lib.olive_engine_set_progress(out, self._trampoline, None)

    def add_pass(self, pass_or_name, **params):
        """Appends a pass: a Pass (the engine keeps its own reference, so the Pass may be closed
        afterwards), or a registry name with its parameters as keyword arguments."""
        if isinstance(pass_or_name, Pass):
            if params:
                raise TypeError("parameters go to the Pass, not to add_pass(), when a Pass is given")
            with self._use() as ptr, pass_or_name._use() as pass_ptr:
                check(_ffi.lib.olive_engine_add_pass(ptr, pass_ptr))
            return self
        with Pass(pass_or_name, **params) as p, self._use() as ptr, p._use() as pass_ptr:
            check(_ffi.lib.olive_engine_add_pass(ptr, pass_ptr))
        return self

    def add_pipeline(self, text):
        """Appends the passes of a pipeline in text form, all or nothing:
        "peephole ! quantize bits=4 block_size=32"."""
        with self._use() as ptr:
            check(_ffi.lib.olive_engine_add_pipeline(ptr, _ffi.encode(text)))
        return self

    def __len__(self):
        with self._use() as ptr:
            return _ffi.lib.olive_engine_pass_count(ptr)

    @property
    def passes(self):
        """The pipeline's passes. They belong to the engine: changing their parameters changes
        the pipeline, and they become unusable once the engine is closed."""
        result = []
        with self._use() as ptr:
            for i in range(_ffi.lib.olive_engine_pass_count(ptr)):
                p = _ffi.lib.olive_engine_pass_at(ptr, i)
                if p:
                    result.append(Pass._borrowed(p, self))
        return result

    @property
    def pipeline_text(self):
        """The pipeline in text form ("peephole ! quantize bits=4 ...")."""
        with self._use() as ptr:
            return take_text(lambda out: _ffi.lib.olive_engine_pipeline_text(out, ptr))

    def set_options(self, options=None, save=None, **kwargs):
        """Sets engine options, from a "key=value ..." string and/or keyword arguments:
          save: options of Model.save, as a dict or a "key=value ..." string
                (save={"size_threshold": 4096} or save="external_data=always")
          overwrite: write into a non-empty output folder, replacing what libolive wrote
                there; other files stay (default False)
          model_name: file name of the model in the output folder (default model.onnx)
        """
        parts = []
        if options:
            if not isinstance(options, str):
                raise TypeError("options must be a str of key=value settings")
            parts.append(options)
        if save is not None:
            if isinstance(save, dict):
                items = ["%s=%s" % (k, value_text(v, k)) for k, v in save.items()]
            else:
                items = str(save).split()
            parts += ["save=" + item for item in items]
        parts += ["%s=%s" % (k, value_text(v, k)) for k, v in kwargs.items()]
        if parts:
            with self._use() as ptr:
                check(_ffi.lib.olive_engine_set_options(ptr, _ffi.encode(" ".join(parts))))
        return self

    def on_progress(self, callback):
        """Sets the progress callback (None removes it). It is called on the thread that runs
        the engine as callback(event, pass_name, pass_index, pass_count, fraction,
        bytes_written), where event is a ProgressEvent, fraction the part of the whole run done
        (0..1) and bytes_written the bytes written to the output so far. PASS_PROGRESS and
        SAVING come at most every 0.1 s of each pass and of the save, besides their first and
        last (the library throttles them). Returning True cancels the run. Returns the
        callback, so this works as a decorator."""
        self._require()
        if callback is not None and not callable(callback):
            raise TypeError("the progress callback must be callable or None")
        self._callback = callback
        return callback

    def cancel(self):
        """Asks a running run() (on another thread) to stop at its next check point; run()
        then raises Cancelled. Safe from any thread at any time, also after close() while the
        run is still going (the run is then stopped)."""
        guard = self.__dict__.get("_guard")
        if guard is None:
            return
        with guard:  # the engine cannot be freed while this is held
            ptr = self._live_ptr()
            if ptr:
                _ffi.lib.olive_engine_cancel(ptr)

    def run(self, model, output_dir=None):
        """Runs the pipeline on `model` and returns the resulting Model. When `output_dir` is
        given the result is written there atomically (model.onnx and its data file); nothing is
        left behind on failure.

        Raises Exists (non-empty output folder without overwrite=True), InvalidArgument (an
        output path that is a symbolic link, or that holds, is or is inside a file the model was
        loaded from), Cancelled, any error of the passes or of saving, or the exception the
        progress callback raised.
        """
        if not isinstance(model, Model):
            raise TypeError("run() needs a libolive.Model, not %s" % type(model).__name__)
        dest = _ffi.encode_path(output_dir) if output_dir is not None else None
        out = _ffi.ModelPtr()
        # The engine and the model are held for the whole run: closing either on another
        # thread releases it only once the run has returned.
        with self._use() as ptr, model._use() as model_ptr:
            with self._guard:
                if self._running:
                    raise RuntimeError("this Engine is already running")
                self._running = True
            try:
                self._callback_error = None
                rc = _ffi.lib.olive_engine_run(ptr, model_ptr, dest, ctypes.byref(out))
                failure = error_for(rc) if rc < 0 else None  # read before any other C call
            finally:
                with self._guard:
                    self._running = False
        callback_error, self._callback_error = self._callback_error, None
        if callback_error is not None:
            if rc >= 0:
                # The library finished regardless (the callback failed at the very end).
                _ffi.lib.olive_model_free(out)
            if hasattr(callback_error, "add_note"):
                callback_error.add_note("raised by the progress callback; the run was cancelled")
            raise callback_error
        if failure is not None:
            raise failure
        return Model(out)

    def __repr__(self):
        if self.closed:
            return "<libolive.Engine (closed)>"
        return "<libolive.Engine %r>" % (self.pipeline_text,)
