"""The platform block: OS, CPU, Python build, GPU model, NVIDIA driver and CUDA versions.

``environment.yml`` has no field for any of this, so it is written beside it
as ``platform.yml`` (see :func:`~.render.render_platform_yml`) and summarised
in one comment line at the top of ``environment.yml`` (conda ignores comments).

Everything comes from cheap sources: ``os.uname``, ``/proc/cpuinfo``,
``/proc/meminfo``, ``/etc/os-release``, ``sys.version``. GPU facts come from
NVML (``pynvml``, from ``nvidia-ml-py``) and only when an NVIDIA driver is
visible (``/dev/nvidiactl`` or ``/proc/driver/nvidia`` on Linux): importing
pynvml alone costs tens of milliseconds. No GPU, no driver, no pynvml
(``NVMLError_LibraryNotFound``, ``NVMLError_DriverNotLoaded``, ``ImportError``)
means the GPU keys are simply absent. No environment variable is read.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["collect_platform", "gpu_facts", "platform_summary", "python_facts"]


def _debug(message: str, *args: object) -> None:
    import logging  # not at import time: it costs milliseconds on the snapshot path

    logging.getLogger(__name__).debug(message, *args)


_NVIDIA_MARKERS = ("/dev/nvidiactl", "/proc/driver/nvidia/version")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _os_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if hasattr(os, "uname"):
        uname = os.uname()
        facts.update(os=uname.sysname, kernel=uname.release, machine=uname.machine)
    else:  # pragma: no cover - Windows
        import platform

        facts.update(os=platform.system(), kernel=platform.release(), machine=platform.machine())
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            facts["os_release"] = value.strip().strip("\"'")
            break
    if hasattr(os, "confstr"):
        try:
            libc = os.confstr("CS_GNU_LIBC_VERSION")
        except (ValueError, OSError):
            libc = None
        if libc:
            facts["libc"] = libc
    return facts


def _cpu_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {}
    model = None
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model", "uarch") and value.strip():
            model = value.strip()
            break
    if model:
        facts["cpu_model"] = model
    count = os.cpu_count()
    if count:
        facts["cpu_count"] = count
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                facts["memory_total_mib"] = int(parts[1]) // 1024
            break
    return facts


def python_facts() -> dict[str, Any]:
    """Implementation, version, build and compiler of the running interpreter."""
    info = sys.version_info
    facts: dict[str, Any] = {
        "python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(
            sys.implementation.name, sys.implementation.name
        ),
        "python_version": f"{info.major}.{info.minor}.{info.micro}",
    }
    if info.releaselevel != "final":
        facts["python_version"] += f"{info.releaselevel[0]}{info.serial}"
    # sys.version: "3.11.7 (main, Dec  5 2023, 18:46:31) [GCC 12.2.0]"
    _, paren, rest = sys.version.partition("(")
    build, close, rest = rest.partition(")")
    if paren and close:
        facts["python_build"] = " ".join(build.split())
    _, bracket, rest = rest.partition("[")
    compiler, close, _ = rest.partition("]")
    if bracket and close:
        facts["python_compiler"] = " ".join(compiler.split())
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if gil_enabled is not None and not gil_enabled():
        facts["python_free_threaded"] = True
    return facts


def _decode(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_version(value: int) -> str:
    """NVML's CUDA driver version integer (``12040``) as ``12.4``."""
    return f"{value // 1000}.{(value % 1000) // 10}"


_gpu_cache: dict[str, Any] | None = None


def gpu_facts(*, refresh: bool = False) -> dict[str, Any]:
    """``gpus`` (name, memory, compute capability), ``nvidia_driver``, ``cuda_driver_version``.

    Empty when there is no NVIDIA GPU, driver or NVML; never raises. The answer
    is kept for the life of the process (``nvmlInit`` can take a good part of a
    second, and the GPUs and driver do not change under a running process);
    ``refresh=True`` asks NVML again.
    """
    global _gpu_cache
    if _gpu_cache is None or refresh:
        _gpu_cache = _query_gpus()
    return {k: ([dict(g) for g in v] if k == "gpus" else v) for k, v in _gpu_cache.items()}


def _query_gpus() -> dict[str, Any]:
    if sys.platform.startswith("linux") and not any(os.path.exists(p) for p in _NVIDIA_MARKERS):
        return {}
    try:
        import pynvml
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:  # LibraryNotFound, DriverNotLoaded, ...
        _debug("no NVML: %s", type(exc).__name__)
        return {}
    facts: dict[str, Any] = {}
    try:
        facts["nvidia_driver"] = _decode(pynvml.nvmlSystemGetDriverVersion())
        with contextlib.suppress(pynvml.NVMLError):
            facts["cuda_driver_version"] = _cuda_version(
                int(pynvml.nvmlSystemGetCudaDriverVersion_v2())
            )
        gpus: list[dict[str, Any]] = []
        for index in range(int(pynvml.nvmlDeviceGetCount())):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            gpu: dict[str, Any] = {
                "index": index,
                "name": _decode(pynvml.nvmlDeviceGetName(handle)),
            }
            with contextlib.suppress(pynvml.NVMLError):
                gpu["memory_total_mib"] = int(pynvml.nvmlDeviceGetMemoryInfo(handle).total) >> 20
            with contextlib.suppress(pynvml.NVMLError):
                major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
                gpu["compute_capability"] = f"{major}.{minor}"
            gpus.append(gpu)
        if gpus:
            facts["gpus"] = gpus
    except pynvml.NVMLError as exc:
        _debug("NVML query failed: %s", type(exc).__name__)
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
    return facts


def collect_platform(*, include_python: bool = True) -> dict[str, Any]:
    """The whole platform block; ``include_python=False`` leaves out the running
    interpreter's facts (for a snapshot of another environment's prefix)."""
    facts = _os_facts()
    facts.update(_cpu_facts())
    if include_python:
        facts.update(python_facts())
    facts.update(gpu_facts())
    return facts


def platform_summary(facts: Mapping[str, Any]) -> str:
    """One line: ``Linux x86_64 | CPython 3.11.7 | 1x NVIDIA H200, driver 550.54, CUDA 12.4``."""
    parts = [" ".join(str(facts[k]) for k in ("os", "machine") if facts.get(k))]
    if facts.get("python_implementation"):
        parts.append(f"{facts['python_implementation']} {facts.get('python_version', '')}".strip())
    gpus = facts.get("gpus") or []
    if gpus:
        names = sorted({str(g.get("name", "GPU")) for g in gpus})
        gpu = f"{len(gpus)}x {', '.join(names)}"
        if facts.get("nvidia_driver"):
            gpu += f", driver {facts['nvidia_driver']}"
        if facts.get("cuda_driver_version"):
            gpu += f", CUDA {facts['cuda_driver_version']}"
        parts.append(gpu)
    return " | ".join(p for p in parts if p)
