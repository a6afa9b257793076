"""``hcp worker`` stops on SIGTERM (what systemd sends) by finishing its jobs' current runs and
exiting 0, so ``systemctl stop`` never cuts an outbox batch or an IMAP poll in half."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import upgrade_once

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_drains_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HCP_")}, "PYTHONPATH": str(ROOT),
           "HCP_DATA_DIR": str(tmp_path), "HCP_TRIAGE_PROCESSES": "0", "HCP_WORKER_INTERVAL_SECONDS": "0.2"}
    upgrade_once(env, ROOT)
    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], cwd=ROOT, env=env,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        ran = False
        while time.monotonic() < deadline and not ran:
            time.sleep(0.2)
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            if (tmp_path / "hcp.db").exists():
                db = sqlite3.connect(tmp_path / "hcp.db")
                with contextlib.suppress(sqlite3.OperationalError):  # still migrating
                    ran = db.execute("SELECT count(*) FROM worker_state WHERE key = 'job:outbox'").fetchone()[0] > 0
                db.close()
        assert ran, "the outbox job never ran"
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        assert time.monotonic() - started < 10
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on deploy/systemd (the program path pointed at one that exists)."""
    import shutil

    import pytest

    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    units = []
    for unit in sorted((ROOT / "deploy" / "systemd").iterdir()):
        text = unit.read_text()
        assert unit.suffix == ".timer" or "/opt/hcp/venv/bin/hcp " in text
        (tmp_path / unit.name).write_text(text.replace("/opt/hcp/venv/bin/hcp", "/bin/true"))
        units.append(str(tmp_path / unit.name))
    done = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "hcp" not in done.stderr, done.stderr
    gateway = (ROOT / "deploy" / "systemd" / "hcp-gateway.service").read_text()
    assert "User=hcp" in gateway and "Restart=on-failure" in gateway and "KillSignal=SIGTERM" in gateway
