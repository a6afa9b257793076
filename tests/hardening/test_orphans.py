"""No orphans (issue 23, point 5): a process killed with SIGKILL leaves no triage worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import asyncio, multiprocessing, multiprocessing.resource_tracker as rt, sys
from gateway.core.triage_service import TriageService

async def main():
    service = TriageService(None, processes=1, inline_below=0)
    await service.classify_async("大厅里排队排了两个小时，工作人员态度也不好" * 20, channel="email")
    pids = [p.pid for p in multiprocessing.active_children()] + [rt._resource_tracker._pid or 0]
    print(" ".join(str(pid) for pid in pids if pid), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for PID 1 to reap it has exited)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_their_parent_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        children = [int(pid) for pid in line.split()]
        assert len(children) == 2, "the triage worker and the resource tracker started"
        assert all(alive(pid) for pid in children)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.1)
    left = [pid for pid in children if alive(pid)]
    for pid in left:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"orphaned workers: {left}"
