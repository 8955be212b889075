"""gpuslice: keep a GPU slice free on OpenStack GPU hypervisors so GPU VMs always boot."""

from gpuslice.errors import GpusliceError, InputError, PromiseBrokenError, ServiceUnreachableError

__all__ = [
    "GpusliceError",
    "InputError",
    "PromiseBrokenError",
    "ServiceUnreachableError",
    "__version__",
]
__version__ = "0.2.0"
