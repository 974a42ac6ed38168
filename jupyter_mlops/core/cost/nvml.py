"""The GPU side of the :class:`~.sources.ResourceSource` seam: NVML through ``pynvml``.

``pynvml`` is the module of ``nvidia-ml-py``. :class:`NvmlSource` takes the
module as a parameter (``None``: import ``pynvml`` on first use), so tests hand
it a scripted stand-in with the same function names.

What it reads, once per tick, for every GPU:

* device utilisation (``nvmlDeviceGetUtilizationRates``), memory
  (``nvmlDeviceGetMemoryInfo``), power (``nvmlDeviceGetPowerUsage``) and energy
  (``nvmlDeviceGetTotalEnergyConsumption`` deltas where the board has the
  counter, else power x elapsed time);
* the processes holding a context and their memory
  (``nvmlDeviceGetComputeRunningProcesses``);
* per-process SM utilisation since the previous tick
  (``nvmlDeviceGetProcessUtilization``) where the board supports it;
* MIG: a GPU in MIG mode is reported as its slices (``"0/mig1"``, ...), each
  with its own memory and processes, a ``fraction`` of the board (its memory
  share) and no utilisation (NVML has none per slice).

Failures are never errors for the caller:

* no ``pynvml``, ``NVMLError_LibraryNotFound`` or ``NVMLError_DriverNotLoaded``
  at start (no GPU, no driver): the GPU part is absent, logged at debug level;
* any other failure at start: absent, one warning;
* ``NVMLError_GpuIsLost`` (or ``NVMLError_GpuNotFound``) on a device: that GPU
  is dropped from then on, one warning; the others and the sampler carry on;
* ``NVMLError_Uninitialized`` / ``DriverNotLoaded`` mid-run: all GPUs absent, one warning;
* anything else on one call: that value is missing for this tick.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlops.core.cost.records import GpuDevice, GpuProcess, Reading, Target
from jupyter_mlops.core.serial import fields_dict

__all__ = ["NvmlSource", "nvml_present"]

_log = logging.getLogger("jupyter_mlops.cost")

# NVML return codes (the same in every nvidia-ml-py release)
_NOT_SUPPORTED = 3
_NOT_FOUND = 6
_DRIVER_NOT_LOADED = 9
_LIBRARY_NOT_FOUND = 12
_FUNCTION_NOT_FOUND = 13
_GPU_IS_LOST = 15
_GPU_NOT_FOUND = 28
_UNINITIALIZED = 1
_UNKNOWN = 999
_NO_GPU_AT_START = {_LIBRARY_NOT_FOUND, _DRIVER_NOT_LOADED, _GPU_NOT_FOUND}
_DEVICE_LOST = {_GPU_IS_LOST, _GPU_NOT_FOUND}
_LIBRARY_GONE = {_UNINITIALIZED, _DRIVER_NOT_LOADED, _LIBRARY_NOT_FOUND}
_MIG_ENABLE = 1
_NVIDIA_MARKERS = ("/dev/nvidiactl", "/proc/driver/nvidia/version")


def nvml_present() -> bool:
    """Cheap guess whether an NVIDIA driver is there (Linux: its device node); True elsewhere."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(p) for p in _NVIDIA_MARKERS)


def _decode(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _code(exc: BaseException) -> int:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else _UNKNOWN


@dataclass(slots=True)
class _Board:
    """One physical GPU: power, energy and utilisation are read per board."""

    handle: Any
    index: int
    model: str
    uuid: str
    memory_total: int
    lost: bool = False
    energy_counter: bool = True
    last_energy_mj: int | None = None
    last_time: float | None = None
    proc_util: bool = True
    proc_util_ts: int = 0
    # per tick
    util_pct: float | None = None
    power_w: float | None = None
    energy_j: float | None = None


@dataclass(slots=True)
class _Device:
    """A board, or one MIG slice of it: what processes hold memory on."""

    handle: Any
    board: _Board
    mig_index: int | None = None
    memory_total: int = 0
    fraction: float = 1.0
    memory_used: int = 0
    processes: list[GpuProcess] = field(default_factory=list)

    @property
    def key(self) -> str:
        i = self.board.index
        return str(i) if self.mig_index is None else f"{i}/mig{self.mig_index}"


class NvmlSource:
    """GPUs, their holders and their use, through NVML; quietly absent without a GPU.

    ``nvml``: the ``pynvml`` module or a stand-in (``None``: ``import pynvml``).
    ``check_driver``: with the real module on Linux, skip importing pynvml when
    no NVIDIA device node exists (importing it costs tens of milliseconds).
    ``clock``: monotonic seconds, for power x time when there is no energy counter.
    """

    name = "nvml"

    def __init__(
        self,
        nvml: Any = None,
        *,
        check_driver: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nvml = nvml
        self._check_driver = check_driver and nvml is None
        self._clock = clock
        self._state = "new"  # new | ready | absent
        self._boards: list[_Board] = []
        self._devices: list[_Device] = []

    @property
    def available(self) -> bool:
        """True once NVML is initialised and at least one GPU is still there."""
        return self._state == "ready" and any(not b.lost for b in self._boards)

    # -- life cycle -------------------------------------------------------------

    def open(self) -> bool:
        """Initialise NVML and list the GPUs (once); ``available`` after it."""
        if self._state != "new":
            return self.available
        self._state = "absent"
        if self._nvml is None:
            if self._check_driver and not nvml_present():
                _log.debug("no NVIDIA driver: GPU cost not measured")
                return False
            try:
                import pynvml
            except ImportError:
                _log.debug("pynvml (nvidia-ml-py) not installed: GPU cost not measured")
                return False
            self._nvml = pynvml
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            if _code(exc) in _NO_GPU_AT_START:
                _log.debug("no GPU (%s): GPU cost not measured", type(exc).__name__)
            else:
                _log.warning("NVML failed to start (%s): GPU cost not measured", exc)
            return False
        try:
            self._enumerate()
        except nvml.NVMLError as exc:
            _log.warning("NVML could not list the GPUs (%s): GPU cost not measured", exc)
            self._shutdown()
            return False
        self._state = "ready"
        return self.available

    def close(self) -> None:
        """Shut NVML down; a later :meth:`collect` starts it again."""
        if self._state == "ready":
            self._shutdown()
        self._state = "new"
        self._boards, self._devices = [], []

    def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()

    def _enumerate(self) -> None:
        nvml = self._nvml
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = ""
            with contextlib.suppress(nvml.NVMLError):
                uuid = _decode(nvml.nvmlDeviceGetUUID(handle))
            board = _Board(
                handle=handle,
                index=index,
                model=_decode(nvml.nvmlDeviceGetName(handle)),
                uuid=uuid,
                memory_total=int(nvml.nvmlDeviceGetMemoryInfo(handle).total),
            )
            self._boards.append(board)
            slices = self._mig_slices(board) if self._mig_enabled(handle) else []
            self._devices.extend(
                slices or [_Device(handle=handle, board=board, memory_total=board.memory_total)]
            )

    def _mig_enabled(self, handle: Any) -> bool:
        nvml = self._nvml
        try:
            current, _pending = nvml.nvmlDeviceGetMigMode(handle)
        except nvml.NVMLError:
            return False
        return int(current) == _MIG_ENABLE

    def _mig_slices(self, board: _Board) -> list[_Device]:
        nvml = self._nvml
        out: list[_Device] = []
        with contextlib.suppress(nvml.NVMLError):
            count = int(nvml.nvmlDeviceGetMaxMigDeviceCount(board.handle))
            for j in range(count):
                try:
                    handle = nvml.nvmlDeviceGetMigDeviceHandleByIndex(board.handle, j)
                    total = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
                except nvml.NVMLError:
                    continue  # no slice at this position
                share = total / board.memory_total if board.memory_total else 0.0
                out.append(
                    _Device(
                        handle=handle,
                        board=board,
                        mig_index=j,
                        memory_total=total,
                        fraction=min(1.0, share),
                    )
                )
        return out

    # -- one tick ---------------------------------------------------------------

    def collect(self, targets: Mapping[str, Target], now: float) -> Reading:
        if self._state == "new":
            self.open()
        if self._state != "ready":
            return Reading(gpus=())
        clock_now = self._clock()
        for board in self._boards:
            if not board.lost and self._state == "ready":
                self._read_board(board, clock_now)
        gpus: list[GpuDevice] = []
        processes: list[GpuProcess] = []
        for device in self._devices:
            if self._state != "ready":  # the library went away mid-tick
                return Reading(gpus=())
            if device.board.lost or not self._read_device(device):
                continue
            board = device.board
            gpus.append(
                GpuDevice(
                    **fields_dict(board, "index model uuid power_w energy_j"),
                    **fields_dict(device, "mig_index memory_total memory_used fraction"),
                    util_pct=board.util_pct if device.mig_index is None else None,
                )
            )
            processes.extend(device.processes)
        return Reading(gpus=tuple(gpus), gpu_processes=tuple(processes))

    def _failed(self, board: _Board, exc: BaseException, what: str) -> None:
        code = _code(exc)
        if code in _DEVICE_LOST:
            board.lost = True
            _log.warning(
                "GPU %d (%s) is lost (%s): its use is no longer measured",
                board.index,
                board.model,
                exc,
            )
        elif code in _LIBRARY_GONE:
            _log.warning("NVML stopped working (%s): GPU cost no longer measured", exc)
            self._state = "absent"
        else:
            _log.debug("NVML %s failed on GPU %d: %s", what, board.index, exc)

    def _read_board(self, board: _Board, clock_now: float) -> None:
        nvml = self._nvml
        board.util_pct = board.power_w = board.energy_j = None
        try:
            board.util_pct = float(nvml.nvmlDeviceGetUtilizationRates(board.handle).gpu)
        except nvml.NVMLError as exc:
            self._failed(board, exc, "utilisation")
            if board.lost or self._state != "ready":
                return
        with contextlib.suppress(nvml.NVMLError):
            board.power_w = float(nvml.nvmlDeviceGetPowerUsage(board.handle)) / 1000.0
        if board.energy_counter:
            try:
                energy = int(nvml.nvmlDeviceGetTotalEnergyConsumption(board.handle))
            except nvml.NVMLError:
                board.energy_counter = False
            else:
                if board.last_energy_mj is not None and energy >= board.last_energy_mj:
                    board.energy_j = (energy - board.last_energy_mj) / 1000.0
                board.last_energy_mj = energy
        if not board.energy_counter and board.power_w is not None and board.last_time is not None:
            board.energy_j = board.power_w * max(0.0, clock_now - board.last_time)
        board.last_time = clock_now

    def _read_device(self, device: _Device) -> bool:
        nvml = self._nvml
        board = device.board
        try:
            device.memory_used = int(nvml.nvmlDeviceGetMemoryInfo(device.handle).used)
            running = nvml.nvmlDeviceGetComputeRunningProcesses(device.handle)
        except nvml.NVMLError as exc:
            self._failed(board, exc, "memory/processes")
            return False
        utils = self._process_utils(board) if device.mig_index is None and running else None
        device.processes = [
            GpuProcess(
                pid=int(p.pid),
                device_key=device.key,
                mem_bytes=int(p.usedGpuMemory or 0),
                sm_util_pct=None if utils is None else utils.get(int(p.pid), 0.0),
            )
            for p in running
        ]
        return True

    def _process_utils(self, board: _Board) -> dict[int, float] | None:
        """Mean SM utilisation per pid since the previous call; None where unknown."""
        if not board.proc_util:
            return None
        nvml = self._nvml
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(board.handle, board.proc_util_ts)
        except nvml.NVMLError as exc:
            code = _code(exc)
            if code in (_NOT_SUPPORTED, _FUNCTION_NOT_FOUND):
                board.proc_util = False
            elif code != _NOT_FOUND:  # NOT_FOUND: no samples in the window
                self._failed(board, exc, "process utilisation")
            return None
        sums: dict[int, list[float]] = {}
        for s in samples:
            board.proc_util_ts = max(board.proc_util_ts, int(s.timeStamp))
            sums.setdefault(int(s.pid), []).append(float(s.smUtil))
        return {pid: min(100.0, sum(v) / len(v)) for pid, v in sums.items()}
