"""The platform block: real OS/CPU/Python facts; NVML swapped only at the hardware boundary."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.environment import platform as platform_module
from jupyter_mlops.core.environment.platform import (
    collect_platform,
    gpu_facts,
    platform_summary,
    python_facts,
)


@pytest.fixture(autouse=True)
def _fresh_gpu_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test asks NVML itself; what it saw is gone afterwards (monkeypatch restores)."""
    monkeypatch.setattr(platform_module, "_gpu_cache", None)


def test_facts_of_this_machine() -> None:
    facts = collect_platform()
    assert facts["os"]
    assert facts["kernel"]
    assert facts["machine"]
    assert facts["python_implementation"] == "CPython"
    assert facts["python_version"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    if sys.platform.startswith("linux"):
        assert facts["cpu_model"]
        assert facts["memory_total_mib"] > 0
        assert facts["libc"].startswith("glibc")
    assert "python_version" not in collect_platform(include_python=False)


def test_python_build_and_compiler_come_from_sys_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version", "3.11.7 (main, Dec  5 2023, 18:46:31) [GCC 12.2.0]")
    facts = python_facts()
    assert facts["python_build"] == "main, Dec 5 2023, 18:46:31"
    assert facts["python_compiler"] == "GCC 12.2.0"


class _NVMLError(Exception):
    pass


def _fake_pynvml(init_error: type[Exception] | None = None) -> types.ModuleType:
    """A stand-in for pynvml with the calls the platform block makes (one H200)."""
    module = types.ModuleType("pynvml")
    calls: list[str] = []

    class LibraryNotFound(_NVMLError):
        pass

    def init() -> None:
        calls.append("init")
        if init_error is not None:
            raise init_error("no NVML")

    class Memory:
        total = 143771 * 1024 * 1024

    api: dict[str, Any] = {
        "NVMLError": _NVMLError,
        "NVMLError_LibraryNotFound": LibraryNotFound,
        "nvmlInit": init,
        "nvmlShutdown": lambda: calls.append("shutdown"),
        "nvmlSystemGetDriverVersion": lambda: "550.54.15",
        "nvmlSystemGetCudaDriverVersion_v2": lambda: 12040,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: f"handle-{i}",
        "nvmlDeviceGetName": lambda h: b"NVIDIA H200",
        "nvmlDeviceGetMemoryInfo": lambda h: Memory(),
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "calls": calls,
    }
    for name, value in api.items():
        setattr(module, name, value)
    return module


@pytest.fixture
def driver_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "nvidiactl"
    marker.write_text("")
    monkeypatch.setattr(platform_module, "_NVIDIA_MARKERS", (str(marker),))


def test_gpu_facts_from_nvml(driver_present: None, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    facts = gpu_facts(refresh=True)
    assert facts == {
        "nvidia_driver": "550.54.15",
        "cuda_driver_version": "12.4",
        "gpus": [
            {
                "index": 0,
                "name": "NVIDIA H200",
                "memory_total_mib": 143771,
                "compute_capability": "9.0",
            }
        ],
    }
    assert fake.calls == ["init", "shutdown"]
    summary = platform_summary({"os": "Linux", "machine": "x86_64", **facts})
    assert summary == "Linux x86_64 | 1x NVIDIA H200, driver 550.54.15, CUDA 12.4"
    facts["gpus"][0]["name"] = "changed by the caller"
    assert gpu_facts()["gpus"][0]["name"] == "NVIDIA H200"  # kept, and not shared
    assert fake.calls == ["init", "shutdown"]


def test_no_nvml_library_is_quietly_no_gpu(
    driver_present: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = _fake_pynvml(init_error=_NVMLError)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert gpu_facts(refresh=True) == {}
    assert "error" not in caplog.text.lower()


def test_without_a_driver_nvml_is_not_even_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform_module, "_NVIDIA_MARKERS", (str(tmp_path / "absent"),))
    monkeypatch.setitem(sys.modules, "pynvml", None)  # importing it would raise
    if sys.platform.startswith("linux"):
        assert gpu_facts(refresh=True) == {}


def test_real_nvml_on_this_machine() -> None:
    """With the real pynvml: facts on a GPU machine, nothing (and no error) without one."""
    facts = gpu_facts(refresh=True)
    if facts:
        assert facts["nvidia_driver"]
        assert all(g["name"] for g in facts["gpus"])
    else:
        assert facts == {}
