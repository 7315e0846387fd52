"""CPU seconds spent by this process and everything it started, for benchmarks of real work.

Wall time on a shared machine says as much about the neighbours as about the code; the CPU a
run costs does not. Kernels and emulators are child processes, and an emulator runs in a
session of its own and may end before anyone waits for it, so the operating system's account
of reaped children (``os.times``) misses some of them. So a thread samples the whole tree
every ``interval`` seconds and keeps each process's latest user+system time: what it misses is
at most the last interval of each process that ended, a small undercount.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil


@dataclass
class CpuMeter:
    """Filled in while the ``measured()`` block runs: CPU seconds of the tree, wall seconds."""

    interval: float = 0.1
    cpu_s: float = 0.0
    wall_s: float = 0.0
    processes: int = 0
    by_kind: dict[str, float] = field(default_factory=dict)
    _seen: dict[tuple[int, float], float] = field(default_factory=dict)
    _kinds: dict[tuple[int, float], str] = field(default_factory=dict)

    def sample(self) -> None:
        me = psutil.Process()
        for process in [me, *me.children(recursive=True)]:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    key = (process.pid, process.create_time())
                    # Read each time: between fork and exec a child still shows its parent's
                    # command line; an ended one (a zombie) shows none, and keeps its name.
                    command = process.cmdline()
                    if command or key not in self._kinds:
                        self._kinds[key] = kind(command)
            except psutil.Error:
                continue  # ended between listing and reading: its last sample stands
            self._seen[key] = max(self._seen.get(key, 0.0), times.user + times.system)


@contextmanager
def measured(interval: float = 0.1) -> Iterator[CpuMeter]:
    """Measure the CPU this process and its descendants spend inside the block."""
    meter = CpuMeter(interval)
    me = psutil.Process()
    before = me.cpu_times()
    before_own = before.user + before.system
    children_before = {(p.pid, p.create_time()): p.cpu_times() for p in me.children(True)}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval):
            meter.sample()

    watcher = threading.Thread(target=watch, name="cpu-meter", daemon=True)
    started = time.perf_counter()
    watcher.start()
    try:
        yield meter
    finally:
        stop.set()
        watcher.join()
        meter.sample()
        meter.wall_s = time.perf_counter() - started
        mine = (me.pid, me.create_time())
        meter.by_kind["this process"] = meter._seen.pop(mine, before_own) - before_own
        for key, seconds in meter._seen.items():
            earlier = children_before.get(key)
            name = meter._kinds.get(key, "other")
            meter.by_kind[name] = (meter.by_kind.get(name, 0.0) + seconds
                                   - (earlier.user + earlier.system if earlier else 0.0))
        meter.cpu_s = sum(meter.by_kind.values())
        meter.processes = len(meter._seen) + 1


def kind(cmdline: list[str]) -> str:
    """A short name for a process of the kit: emulator, kernel, or its program's name."""
    text = " ".join(cmdline)
    if "environment.emulator.server" in text:
        return "emulators"
    if "ipykernel" in text:
        return "kernels"
    return cmdline[0].rsplit("/", 1)[-1] if cmdline else "other"
