"""Real child processes for the cost tests, and a clock that moves only when told."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BURNER = textwrap.dedent(
    """
    import os, subprocess, sys, time

    BURN = "import time\\nend = time.process_time() + {s}\\nwhile time.process_time() < end: pass\\n"

    def burn(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    held = None
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "burn":
            burn(float(args[0]))
        elif cmd == "child":
            subprocess.run([sys.executable, "-c", BURN.format(s=float(args[0]))], check=True)
        elif cmd == "hold":
            code = BURN.format(s=float(args[0])) + "print('ready', flush=True)\\ntime.sleep(600)\\n"
            held = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
            held.stdout.readline()
        elif cmd == "release":
            held.kill()
            held.wait()
            held = None
        elif cmd == "pid":
            print(held.pid if held else 0, flush=True)
            continue
        t = os.times()
        print(time.process_time(), t.user + t.system + t.children_user + t.children_system, flush=True)
    """
)


class Burner:
    """A live child process that burns CPU when told and reports its own CPU figures."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BURNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        self.report("burn 0")  # started and answering

    def report(self, command: str) -> tuple[float, float]:
        """Send ``command``; the child's (process_time, whole CPU incl. reaped children)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        own, whole = line.split()
        return float(own), float(whole)

    def held_pid(self) -> int:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("pid\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class FakeClock:
    """Wall-clock seconds that only move when told (for minutes-long alert scenarios)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now
