"""Accelerators (olive_accelerator): the device and execution provider a pipeline targets,
with what was detected on this host."""

import ctypes

from . import _ffi
from ._handle import Handle, take_json
from .errors import check


class Accelerator(Handle):
    """A target: `device` ("cpu", "gpu" or "npu") and an ONNX Runtime execution `provider`
    ("CPUExecutionProvider", "CUDAExecutionProvider", ...; None: the device's default).

    Raises InvalidArgument for an unknown device or provider or an incompatible pair; the
    message lists the known names.
    """

    _free_name = "olive_accelerator_free"

    def __init__(self, device="cpu", provider=None):
        out = _ffi.AcceleratorPtr()
        check(_ffi.lib.olive_accelerator_new(ctypes.byref(out), _ffi.encode(device),
                                             _ffi.encode(provider)))
        super().__init__(out)

    @property
    def device(self):
        """"cpu", "gpu" or "npu"."""
        with self._use() as ptr:
            return _ffi.decode(_ffi.lib.olive_accelerator_device(ptr))

    @property
    def provider(self):
        """The execution provider's name."""
        with self._use() as ptr:
            return _ffi.decode(_ffi.lib.olive_accelerator_provider(ptr))

    def describe(self):
        """A dict: device, provider, cpu {model, logical_cores, physical_cores, features},
        memory_bytes, cuda {available, devices [{name, memory_bytes, compute_capability}]}."""
        with self._use() as ptr:
            return take_json(lambda out: _ffi.lib.olive_accelerator_describe_json(out, ptr))

    def has_feature(self, feature):
        """True if the host CPU has the ISA feature ("avx2", "avx512f", "neon", ...); False if
        it has not or it is unknown."""
        with self._use() as ptr:
            return _ffi.lib.olive_accelerator_has_feature(ptr, _ffi.encode(feature)) == 1

    @property
    def cpu_model(self):
        """The host CPU's model name."""
        with self._use() as ptr:
            return _ffi.decode(_ffi.lib.olive_accelerator_cpu_model(ptr))

    @property
    def cores(self):
        """Number of CPU cores the library detected on the host."""
        with self._use() as ptr:
            return _ffi.lib.olive_accelerator_cpu_cores(ptr)

    @property
    def memory_bytes(self):
        """The host's physical memory in bytes."""
        with self._use() as ptr:
            return _ffi.lib.olive_accelerator_memory_bytes(ptr)

    @property
    def cuda_device_count(self):
        """Number of CUDA devices the driver reports (0 without a driver, a GPU or CUDA
        support in the library)."""
        with self._use() as ptr:
            return _ffi.lib.olive_accelerator_cuda_device_count(ptr)

    def __repr__(self):
        if self.closed:
            return "<libolive.Accelerator (closed)>"
        return "<libolive.Accelerator %s/%s>" % (self.device, self.provider)
