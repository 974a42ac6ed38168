"""A scripted stand-in for ``pynvml`` (nvidia-ml-py): the same function names, scripted GPUs.

This is the only fake the cost tests use, at the hardware boundary (there is
no GPU here). Errors are the real ``pynvml`` exception classes, built the way
pynvml builds them (``NVMLError(code)`` returns the matching subclass), so
``except pynvml.NVMLError_GpuIsLost`` behaves as against a real driver.

::

    nvml = FakeNvml()
    gpu = nvml.add_gpu("NVIDIA H100 80GB HBM3", memory_gb=80, util=0, power_w=70)
    gpu.processes[pid] = 20 << 30          # a process holding 20 GiB
    gpu.process_util = {pid: 0}            # per-process SM utilisation (None: not supported)
    gpu.lost = True                        # every later call on it: NVMLError_GpuIsLost
    NvmlSource(nvml)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml as _real

NVMLError = _real.NVMLError
NVMLError_GpuIsLost = _real.NVMLError_GpuIsLost
NVMLError_LibraryNotFound = _real.NVMLError_LibraryNotFound
NVMLError_DriverNotLoaded = _real.NVMLError_DriverNotLoaded
NVMLError_NotSupported = _real.NVMLError_NotSupported
NVMLError_NotFound = _real.NVMLError_NotFound

NVML_ERROR_UNINITIALIZED = _real.NVML_ERROR_UNINITIALIZED
NVML_ERROR_NOT_SUPPORTED = _real.NVML_ERROR_NOT_SUPPORTED
NVML_ERROR_NOT_FOUND = _real.NVML_ERROR_NOT_FOUND
NVML_ERROR_DRIVER_NOT_LOADED = _real.NVML_ERROR_DRIVER_NOT_LOADED
NVML_ERROR_LIBRARY_NOT_FOUND = _real.NVML_ERROR_LIBRARY_NOT_FOUND
NVML_ERROR_GPU_IS_LOST = _real.NVML_ERROR_GPU_IS_LOST
NVML_ERROR_NO_PERMISSION = _real.NVML_ERROR_NO_PERMISSION
NVML_ERROR_INVALID_ARGUMENT = _real.NVML_ERROR_INVALID_ARGUMENT
NVML_DEVICE_MIG_ENABLE = _real.NVML_DEVICE_MIG_ENABLE
NVML_DEVICE_MIG_DISABLE = _real.NVML_DEVICE_MIG_DISABLE

GIB = 1 << 30


@dataclass(eq=False)
class FakeGpu:
    """One scripted GPU (or MIG slice); the handle NVML calls receive."""

    name: str
    memory_total: int
    uuid: str = ""
    util: int | None = 0  # None: NVMLError_NotSupported
    mem_util: int = 0
    power_w: float | None = 50.0  # None: NVMLError_NotSupported
    energy_mj: int | None = None  # None: the board has no energy counter
    processes: dict[int, int | None] = field(default_factory=dict)  # pid -> bytes (None: n/a)
    process_util: dict[int, int] | None = field(default_factory=dict)  # None: not supported
    lost: bool = False
    extra_used: int = 0  # memory used by things that are not processes
    slices: list[FakeGpu] | None = None  # MIG mode when not None
    fail: dict[str, int] = field(default_factory=dict)  # function name -> NVML error code

    @property
    def memory_used(self) -> int:
        return self.extra_used + sum(m or 0 for m in self.processes.values())

    def held_by(self, pid: int, mem: int, util: int) -> None:
        """Only ``pid`` holds this GPU: ``mem`` bytes of it, at ``util`` percent."""
        self.processes = {pid: mem}
        self.process_util = {pid: util}


class FakeNvml:
    """The scripted driver: GPUs, an init error to raise, and a record of the calls made."""

    NVMLError = NVMLError
    NVMLError_GpuIsLost = NVMLError_GpuIsLost
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_NotFound = NVMLError_NotFound
    NVML_DEVICE_MIG_ENABLE = NVML_DEVICE_MIG_ENABLE

    def __init__(self, init_error: int | None = None) -> None:
        self.gpus: list[FakeGpu] = []
        self.init_error = init_error
        self.initialised = False
        self.calls: list[str] = []
        self._ts = 1_000_000  # microseconds, for process utilisation samples

    # -- scripting ------------------------------------------------------------------

    def add_gpu(
        self, name: str = "NVIDIA H100 80GB HBM3", *, memory_gb: float = 80, **kwargs: Any
    ) -> FakeGpu:
        gpu = FakeGpu(
            name=name,
            memory_total=int(memory_gb * GIB),
            uuid=f"GPU-{len(self.gpus):08d}",
            **kwargs,
        )
        self.gpus.append(gpu)
        return gpu

    def enable_mig(self, gpu: FakeGpu, slice_gb: list[float]) -> list[FakeGpu]:
        gpu.slices = [
            FakeGpu(
                name=f"{gpu.name} MIG {int(gb)}gb",
                memory_total=int(gb * GIB),
                uuid=f"MIG-{gpu.uuid}-{i}",
                util=None,
            )
            for i, gb in enumerate(slice_gb)
        ]
        return gpu.slices

    def _check(self, what: str, handle: FakeGpu | None = None) -> None:
        self.calls.append(what)
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        if handle is not None:
            if handle.lost or any(
                handle is s and p.lost for p in self.gpus for s in p.slices or ()
            ):
                raise NVMLError(NVML_ERROR_GPU_IS_LOST)
            if what in handle.fail:
                raise NVMLError(handle.fail[what])

    # -- the pynvml API -----------------------------------------------------------------

    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self._check("nvmlShutdown")
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        self._check("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check("nvmlDeviceGetHandleByIndex")
        try:
            return self.gpus[index]
        except IndexError:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT) from None

    def nvmlDeviceGetName(self, handle: FakeGpu) -> str:
        self._check("nvmlDeviceGetName", handle)
        return handle.name

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:
        self._check("nvmlDeviceGetUUID", handle)
        return handle.uuid

    def nvmlDeviceGetMemoryInfo(self, handle: FakeGpu, version: Any = None) -> SimpleNamespace:
        self._check("nvmlDeviceGetMemoryInfo", handle)
        used = handle.memory_used
        return SimpleNamespace(
            total=handle.memory_total, used=used, free=handle.memory_total - used
        )

    def nvmlDeviceGetUtilizationRates(self, handle: FakeGpu) -> SimpleNamespace:
        self._check("nvmlDeviceGetUtilizationRates", handle)
        if handle.util is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(gpu=handle.util, memory=handle.mem_util)

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:
        self._check("nvmlDeviceGetPowerUsage", handle)
        if handle.power_w is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(handle.power_w * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:
        self._check("nvmlDeviceGetTotalEnergyConsumption", handle)
        if handle.energy_mj is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return handle.energy_mj

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeGpu) -> list[SimpleNamespace]:
        self._check("nvmlDeviceGetComputeRunningProcesses", handle)
        return [
            SimpleNamespace(pid=pid, usedGpuMemory=mem, gpuInstanceId=0, computeInstanceId=0)
            for pid, mem in handle.processes.items()
        ]

    def nvmlDeviceGetProcessUtilization(self, handle: FakeGpu, timeStamp: int) -> list[Any]:
        self._check("nvmlDeviceGetProcessUtilization", handle)
        if handle.process_util is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        if not handle.process_util:
            raise NVMLError(NVML_ERROR_NOT_FOUND)  # what NVML says when there are no samples
        self._ts += 1_000_000
        return [
            SimpleNamespace(pid=pid, smUtil=sm, memUtil=0, encUtil=0, decUtil=0, timeStamp=self._ts)
            for pid, sm in handle.process_util.items()
        ]

    def nvmlDeviceGetMigMode(self, handle: FakeGpu) -> list[int]:
        self._check("nvmlDeviceGetMigMode", handle)
        mode = NVML_DEVICE_MIG_ENABLE if handle.slices is not None else NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: FakeGpu) -> int:
        self._check("nvmlDeviceGetMaxMigDeviceCount", handle)
        return 7 if handle.slices is not None else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: FakeGpu, index: int) -> FakeGpu:
        self._check("nvmlDeviceGetMigDeviceHandleByIndex", handle)
        if handle.slices is None or index >= len(handle.slices):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return handle.slices[index]
