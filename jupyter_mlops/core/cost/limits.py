"""What this machine lets a process use: its usable cores and memory.

The least of what psutil counts, the process's CPU affinity and its cgroup's
limits (``cpu.max`` / ``memory.max`` on cgroup v2, the ``cfs`` quota and
``memory.limit_in_bytes`` on v1), so that a container of 2 CPUs on a host of 64
is priced, capped and advised as the 2 CPUs it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil

__all__ = ["usable_cores", "usable_memory"]

_CGROUPS, _SELF_CGROUP = Path("/sys/fs/cgroup"), Path("/proc/self/cgroup")
_LINUX = sys.platform.startswith("linux")


def usable_cores(root: Path = _CGROUPS, cgroup_file: Path = _SELF_CGROUP) -> float:
    """The CPUs this process may use: the least of psutil's count, its CPU affinity and
    the cgroup CPU quota (``cpu.max``, or ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``)."""
    counts = [float(psutil.cpu_count() or os.cpu_count() or 1)]
    if hasattr(os, "sched_getaffinity"):
        counts.append(float(len(os.sched_getaffinity(0)) or counts[0]))
    quotas = (_cpu_quota(folder) for folder in _cgroup_folders(root, cgroup_file, "cpu"))
    counts.extend(q for q in quotas if q is not None)
    return max(0.01, min(counts))


def usable_memory(root: Path = _CGROUPS, cgroup_file: Path = _SELF_CGROUP) -> int:
    """The memory this process may use: the least of the machine's and the cgroup limit
    (``memory.max``, or ``memory.limit_in_bytes``)."""
    sizes = [int(psutil.virtual_memory().total)]
    for folder in _cgroup_folders(root, cgroup_file, "memory"):
        values = (_read_text(folder / n) or "" for n in ("memory.max", "memory.limit_in_bytes"))
        sizes.extend(int(v) for v in values if v.isdigit() and int(v) > 0)  # "max": none
    return min(sizes)


def _cgroup_folders(root: Path, cgroup_file: Path, controller: str) -> list[Path]:
    """The cgroup folders (v1, v2) whose ``controller`` limits apply: its group and parents."""
    text = _read_text(cgroup_file)
    if text is None or not _LINUX:
        return []
    folders: list[Path] = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and not controllers:
            bases = [root, root / "unified"]  # v2 (unified), pure or hybrid
        elif controller in controllers.split(","):
            bases = [root / controllers, root / controller]  # v1: cpu,cpuacct or cpu
        else:
            continue
        relative = Path(path.lstrip("/"))
        chain = [relative, *relative.parents]
        folders.extend(base / c for base in bases for c in chain if (base / c).is_dir())
    return list(dict.fromkeys(folders))


def _cpu_quota(folder: Path) -> float | None:
    """Cores a cgroup folder's quota allows (v2 ``cpu.max``, v1 ``cpu.cfs_*_us``), else ``None``."""
    v2 = (_read_text(folder / "cpu.max") or "").split()  # "max 100000": no quota
    v1 = [_read_text(folder / f"cpu.cfs_{n}_us") or "" for n in ("quota", "period")]  # -1: none
    for quota, period in (v2 if len(v2) == 2 else ["", ""], v1):
        if quota.isdigit() and period.isdigit() and int(period) > 0:
            return int(quota) / int(period)
    return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
