"""schemathesis `run --checks all` (the CLI, as an operator would run it) against the API served by uvicorn on a
real port: every check, not a chosen few, bounded by time (``MAX_TIME_S`` per database backend).

It fails on any check's failure, and so on any 5xx. The one accepted exception is configured, with its
reason, in ``schemathesis.toml`` beside this file.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import uvicorn

from scoring.api.app import create_app
from scoring.store import Store
from tests.conftest import make_settings
from tests.scoring.api_support import HUB, OTHER_HUB, TOKENS, add_keys, record, seed

pytestmark = pytest.mark.slow
MAX_TIME_S = 70  # per backend; both backends stay within the 2-3 minutes CI allows this test
CONFIG = Path(__file__).with_name("schemathesis.toml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_schemathesis_checks_all_finds_nothing(store: Store, tmp_path: Path) -> None:
    seed(store, [record("JT0000000001", score=0.9), record("JT0000000002", why="rule", score=None),
                 record("JT0000000003", action="RELEASE", score=0.01, reasons=[]), record("YT1", hub_id=OTHER_HUB)])
    add_keys(store)
    # ignored_auth deliberately sends bad credentials from this one client: the throttle has its own test.
    settings = make_settings(tmp_path / "data", hub_capacity_per_hour={HUB: 40}, watchlist_path=tmp_path / "w.json",
                             sign_in_failures_per_minute=10**9)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        cli = Path(sys.executable).with_name("schemathesis")
        reports = tmp_path / "reports"
        run = subprocess.run(
            [str(cli), "--config-file", str(CONFIG), "run", f"http://127.0.0.1:{port}/openapi.json",
             "--checks", "all", "-H", f"Authorization: Bearer {TOKENS['admin']}", "--include-path-regex", "^/api/",
             "--max-examples", "10", "--workers", "1", "--seed", "1", "--max-time", str(MAX_TIME_S),
             "--report", "ndjson", "--report-dir", str(reports)],
            capture_output=True, text=True, timeout=MAX_TIME_S + 90, check=False,
            cwd=tmp_path)  # its cache of crashes stays out of the repository
    finally:
        server.should_exit = True
        thread.join(15)
    statuses = _statuses(reports)
    assert run.returncode == 0, run.stdout[run.stdout.find("FAILURES"):][:8000]
    assert not [s for s in statuses if s >= 500], statuses
    # The traffic got past authentication and validation, not only bounced off them.
    assert statuses[200] + statuses[201] + statuses[204] >= 50 and statuses[422] and statuses[404], statuses


def _statuses(reports: Path) -> Counter[int]:
    """Every response's status code in the run's NDJSON event log."""
    seen: Counter[int] = Counter()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            response = node.get("response")
            if isinstance(response, dict) and isinstance(response.get("status_code"), int):
                seen[response["status_code"]] += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in reports.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            walk(json.loads(line))
    return seen
