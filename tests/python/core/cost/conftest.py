"""Fixtures for the cost tests: real child processes that idle or burn CPU on command.

* ``sleeper()``: a real idle Python child (killed after the test).
* ``burner()``: a real Python child driven over stdin. ``burn 0.5`` spends half
  a CPU second in a busy loop; ``child 0.5`` runs a grandchild that burns and
  exits (and is waited for); ``hold 0.5`` starts a grandchild that burns then
  stays alive; ``release`` ends and reaps the held grandchild. Every command
  answers one line: the child's own ``time.process_time()`` and its whole CPU
  (``os.times()``, reaped children included), so tests compare the sampler
  with what the processes themselves measured.
* ``FakeNvml`` (from ``fake_pynvml``): the scripted NVML stand-in.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from cost_helpers import Burner, FakeClock

T = TypeVar("T")


def _made_then_ended(new: Callable[[], T], end: Callable[[T], object]) -> Iterator[Callable[[], T]]:
    """A fixture body: hands out ``new`` processes, then ends every one made."""
    made: list[T] = []

    def make() -> T:
        item = new()
        made.append(item)
        return item

    yield make
    for item in made:
        end(item)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


@pytest.fixture
def burner() -> Iterator[Callable[[], Burner]]:
    yield from _made_then_ended(Burner, Burner.stop)


@pytest.fixture
def sleeper() -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    yield from _made_then_ended(
        lambda: subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]), _kill
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
