"""The compose file's scorer, run here: its exact command with its environment, only the hosts made local.

Proves the image's entry command works as configured (environment only), serves metrics and readiness,
stops cleanly on SIGTERM (what `docker compose stop` sends), and writes JSON logs with no personal data.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from scoring.db import make_engine
from streams import clients
from streams.broker import EmbeddedBroker, free_port
from streams.produce import publish
from tests.conftest import POSTGRES_URL, _fresh_postgres_schema
from tests.docker.compose import SECRETS, load, service_environment
from tests.factories import manifest

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PERSONAL = {"name": "Qian Duoduo", "phone": "13755501234", "id_number": "110101198001017777",
            "address": "88 Lantern Alley, Longhua"}


def _personal_manifest(i: int) -> dict[str, Any]:
    return manifest(parcel_id=f"PII{i:03d}", sender__name=PERSONAL["name"], sender__phone=PERSONAL["phone"],
                    sender__id_number=PERSONAL["id_number"], recipient__address=PERSONAL["address"],
                    destination__address=PERSONAL["address"])


def _poison() -> list[bytes]:
    """Bad manifests full of personal data: their rejection is logged, their contents must not be."""
    no_hub = _personal_manifest(900)
    del no_hub["hub_id"]
    bad_phone = _personal_manifest(901)
    bad_phone["sender"]["phone"] = {"number": PERSONAL["phone"]}
    bad_name = _personal_manifest(902)
    bad_name["recipient"]["name"] = [PERSONAL["name"]]
    return [orjson.dumps(no_hub), orjson.dumps(bad_phone), orjson.dumps(bad_name),
            orjson.dumps(_personal_manifest(903))[:120]]


@dataclass
class Run:
    command: list[str]
    metrics: str
    ready: tuple[int, dict[str, Any]]
    live: int
    exit_code: int
    stderr: str


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL as in production when the tests have one, else SQLite."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'parcelguard.db'}"
        return
    schema = _fresh_postgres_schema()
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Run]:
    data = tmp_path_factory.mktemp("scorer")
    service = load()["services"]["scorer"]
    port = free_port()
    with EmbeddedBroker(log_path=data / "tansu.log") as broker:
        env = service_environment(service, SECRETS)
        local = {  # the compose hosts (postgres, kafka, mlflow) and paths, made local; nothing else changes
            "PARCELGUARD_DATABASE_URL": database_url, "PARCELGUARD_KAFKA_BOOTSTRAP": broker.bootstrap,
            "MLFLOW_TRACKING_URI": f"sqlite:///{data / 'mlflow.db'}", "PARCELGUARD_DATA_DIR": str(data),
            "PARCELGUARD_METRICS_HOST": "127.0.0.1", "PARCELGUARD_METRICS_PORT": str(port),
        }
        assert set(local) <= set(env), "the compose scorer no longer sets what this test replaces"
        env.update(local)
        env.update({"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(data),
                    "PARCELGUARD_CONSUMER_GROUP": f"compose-{uuid.uuid4().hex[:8]}",  # a fresh group per run
                    "PARCELGUARD_LOG_LEVEL": "DEBUG"})  # the most the scorer ever logs
        command = [shutil.which(service["command"][0], path=env["PATH"]) or "", *service["command"][1:]]
        assert command[0], "the parcelguard console script is not installed"
        process = subprocess.Popen(command, env=env, cwd=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            clients.ensure_topics(broker.bootstrap, int(env["PARCELGUARD_PARTITIONS"]))
            publish(broker.bootstrap, [orjson.dumps(_personal_manifest(i)) for i in range(40)] + _poison())
            base = f"http://127.0.0.1:{port}"
            metrics = ""
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    metrics = _get(f"{base}/metrics")[1].decode()
                except OSError:
                    metrics = ""  # not listening yet
                if "parcelguard_manifests_consumed_total 44.0" in metrics:
                    break
                time.sleep(0.5)
            status, body = _get(f"{base}/readyz")
            ready = (status, orjson.loads(body))
            live = _get(f"{base}/livez")[0]
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                _, err = process.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
    yield Run(command, metrics, ready, live, process.returncode, err.decode(errors="replace"))


def test_the_compose_scorer_command_scores_and_stops_cleanly(run: Run) -> None:
    assert run.command[1:] == ["score"]
    assert "parcelguard_manifests_consumed_total 44.0" in run.metrics, run.stderr[-3000:]
    assert 'parcelguard_decisions_total{action="SCREEN",reason="fail_safe"} 40.0' in run.metrics
    assert "parcelguard_dead_letters_total" in run.metrics
    assert run.exit_code == 0, run.stderr[-3000:]


def test_the_compose_scorer_reports_readiness(run: Run) -> None:
    status, report = run.ready
    assert run.live == 200
    assert status == 503 and report["checks"]["database"]["ok"] and report["checks"]["broker"]["ok"]
    assert not report["checks"]["model"]["ok"]  # no model registered: fail-safe is not ready


def test_scorer_logs_are_json_lines_without_personal_data(run: Run) -> None:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert any("dead-lettered" in line for line in lines), "the run should have logged its rejections"
    for line in lines:
        entry = orjson.loads(line)  # every line one JSON object: fails on any plain-text output
        assert {"ts", "level", "logger", "msg"} <= set(entry)
    for value in [*PERSONAL.values(), "Duoduo", "Lantern"]:
        assert value not in run.stderr
