"""``parcelguard up`` as a user runs it: a subprocess on free ports with a temporary data folder and a fast clock.

One test drives two runs on the same data folder, because the first run trains the first champion (the
slow part): the first run must screen parcels with the simulated stations and stop in order on Ctrl-C,
the second must continue with new parcels and the same keys.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from streams.broker import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
STARTUP_S = 600  # the first run generates a history and trains a model on a busy two-core machine
PARCELGUARD = Path(sys.executable).with_name("parcelguard")


class Run:
    """One ``parcelguard up`` process in its own session, as a terminal runs it."""

    def __init__(self, data: Path, kafka_port: int, api_port: int) -> None:
        env = {**os.environ, "PARCELGUARD_DATA_DIR": str(data), "PARCELGUARD_API_PORT": str(api_port),
               "PARCELGUARD_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
               "PARCELGUARD_CONFIG": str(data / "absent.toml")}
        env.pop("PARCELGUARD_DATABASE_URL", None)
        env.pop("MLFLOW_TRACKING_URI", None)
        self.log = (data.parent / f"up-{time.monotonic_ns()}.log").open("w+b")
        self.process = subprocess.Popen(
            [str(PARCELGUARD), "up", "--speed", "3600", "--history-days", "14", "--per-day", "3000"],
            env=env, cwd=data.parent, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.api = f"http://127.0.0.1:{api_port}"

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def ctrl_c(self) -> float:
        """SIGINT to the whole process group, as a terminal's Ctrl-C does; seconds until the process ended."""
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        return time.monotonic() - started


def _wait_for(what: str, check: Callable[[], bool], run: Run, timeout_s: float = STARTUP_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            pytest.fail(f"parcelguard up ended while waiting for {what}:\n{run.output()[-4000:]}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(1)
    pytest.fail(f"no {what} within {timeout_s} s:\n{run.output()[-4000:]}")


def _scalar(database: Path, query: str) -> int:
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def _healthy(run: Run) -> bool:
    return httpx.get(f"{run.api}/health", timeout=5).status_code == 200


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_up_screens_with_simulated_stations_stops_in_order_and_continues_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = data / "parcelguard.db"
    kafka_port, api_port = free_port(), free_port()
    simulated = "SELECT count(*) FROM outcomes WHERE recorded_by LIKE 'sim-xray-%' AND note LIKE 'simulated%'"
    live = "SELECT count(*) FROM decisions WHERE accepted_at >= '2026-11-01'"  # the history is in October 2026

    first = Run(data, kafka_port, api_port)
    _wait_for("healthy /health", lambda: _healthy(first), first)
    _wait_for("outcomes from the simulated X-ray stations", lambda: _scalar(database, simulated) >= 3, first, 180)
    took = first.ctrl_c()
    out = first.output()
    assert first.process.returncode == 0, out[-3000:]
    assert took < 5, f"Ctrl-C took {took:.1f} s:\n{out[-3000:]}"
    assert "Traceback" not in out and "Connection refused" not in out and "stopped in" in out
    assert "broker had already ended" not in out  # Ctrl-C reached the broker's own session only via us
    assert not _port_open(kafka_port), "the broker outlived parcelguard up"

    keys_file = data / "demo-keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    keys = {row["name"]: row for row in json.loads(keys_file.read_text())}
    screener_keys = [row["key"] for row in keys.values() if row["role"] == "screener"]
    assert len(screener_keys) == 3 and len(set(screener_keys)) == 3  # random per hub, not one secret + hub name
    assert {row["role"] for row in keys.values()} == {"screener", "analyst", "admin"}
    assert all(row["key"] in out for row in keys.values())  # printed for the user
    decided_before = _scalar(database, live)
    assert decided_before > 0

    second = Run(data, kafka_port, api_port)
    _wait_for("newly decided parcels after the restart", lambda: _scalar(database, live) >= decided_before + 20,
              second, 300)
    kept = {row["name"]: row for row in json.loads(keys_file.read_text())}
    assert kept == keys  # the same keys across restarts
    for row in keys.values():  # and the service still accepts them
        response = httpx.get(f"{second.api}/api/auth/me", headers={"Authorization": f"Bearer {row['key']}"})
        assert response.status_code == 200 and response.json()["name"] == row["name"], response.text
    took = second.ctrl_c()
    assert second.process.returncode == 0 and "Traceback" not in second.output()
    assert took < 5, f"Ctrl-C took {took:.1f} s"
