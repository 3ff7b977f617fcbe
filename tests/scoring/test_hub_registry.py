"""The hub registry: keys, capacities and config are checked against it; an empty registry accepts every hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from parcelguard import cli
from parcelguard.errors import ConfigError
from scoring import hubs
from scoring.store import Store
from scoring.store.rows import Hub
from tests.conftest import make_settings
from tests.factories import manifest
from tests.scoring.api_support import HUB, ORIGIN, OTHER_HUB, add_keys, client

TYPO = "HAK-MEILAM"


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    headers = add_keys(store)
    for hub_id in (HUB, OTHER_HUB):
        store.hubs.save(Hub(hub_id, f"hub {hub_id}", "Asia/Shanghai", default_capacity=30), actor="test")
    settings = make_settings(tmp_path / "data", hub_capacity_per_hour={OTHER_HUB: 45})
    with client(settings, store) as test_client:
        yield test_client, headers


def test_a_key_or_capacity_for_an_unregistered_hub_is_refused_with_the_hubs_that_exist(
    api: tuple[TestClient, Any], store: Store
) -> None:
    c, h = api
    key = c.post("/api/admin/keys", json={"name": "screener-typo", "role": "screener", "hub_id": TYPO},
                 headers={**h["admin"], **ORIGIN})
    assert key.status_code == 404
    assert f"hub '{TYPO}' is not registered" in key.json()["detail"] and HUB in key.json()["detail"]
    assert store.access.key("screener-typo") is None
    capacity = c.put("/api/admin/capacity/NOPE-HUB", json={"per_hour": 50}, headers={**h["admin"], **ORIGIN})
    assert capacity.status_code == 404 and "'NOPE-HUB' is not registered" in capacity.json()["detail"]
    assert "NOPE-HUB" not in {row["hub_id"] for row in c.get("/api/hubs", headers=h["admin"]).json()}
    assert c.post("/api/admin/keys", json={"name": "screener-ok", "role": "screener", "hub_id": HUB},
                  headers={**h["admin"], **ORIGIN}).status_code == 201


def test_the_capacity_in_force_shows_beside_what_an_override_replaced(api: tuple[TestClient, Any]) -> None:
    c, h = api
    saved = c.put(f"/api/admin/capacity/{HUB}", json={"per_hour": 80}, headers={**h["admin"], **ORIGIN})
    assert saved.status_code == 200
    caps = {row["hub_id"]: row for row in c.get("/api/admin/capacity", headers=h["admin"]).json()}
    assert (caps[HUB]["per_hour"], caps[HUB]["configured"], caps[HUB]["source"]) == (80, 30, "admin")  # registry
    assert (caps[OTHER_HUB]["per_hour"], caps[OTHER_HUB]["source"]) == (45, "configured")  # the setting wins
    queue = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).json()
    assert queue["capacity_per_hour"] == 80


def test_admins_register_hubs_with_a_real_time_zone(api: tuple[TestClient, Any], store: Store) -> None:
    c, h = api
    bad = c.put("/api/admin/hubs/HAK-NEW", json={"name": "New", "time_zone": "China/Haikou"},
                headers={**h["admin"], **ORIGIN})
    assert bad.status_code == 422 and "not an IANA time zone" in bad.json()["detail"]
    saved = c.put("/api/admin/hubs/HAK-NEW", json={"name": "Haikou New",
                                                   "time_zone": "Asia/Shanghai", "default_capacity": 12},
                  headers={**h["admin"], **ORIGIN})
    assert saved.status_code == 200 and saved.json()["zone_label"] == "CST (UTC+8)"
    assert c.put("/api/admin/hubs/HAK-NEW", json={"name": "x"},
                 headers={**h["analyst"], **ORIGIN}).status_code == 403
    registry = c.get("/api/hubs/registry", headers=h["analyst"]).json()
    assert [row["hub_id"] for row in registry] == ["HAK-MEILAN", "HAK-NEW", "SYX-TIANYA"]
    assert store.hubs.get("HAK-NEW") == Hub("HAK-NEW", "Haikou New", "Asia/Shanghai", 12, "admin-zhao",
                                            store.hubs.get("HAK-NEW").updated_at)  # type: ignore[union-attr]


def test_an_empty_registry_accepts_every_hub(store: Store) -> None:
    hubs.check(store, TYPO)  # nothing registered: nothing to check against, as before the registry
    store.hubs.save(Hub(HUB, "Meilan", "Asia/Shanghai"), actor="test")
    with pytest.raises(hubs.UnknownHub, match="HAK-MEILAM"):
        hubs.check(store, TYPO)
    cache = hubs.RegistryCache(store, refresh_s=0)
    assert cache.accepts(HUB) and not cache.accepts(TYPO)


def test_hubs_come_from_the_config_file_and_a_bad_file_says_what_is_wrong(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "hubs.json"
    path.write_text('[{"hub_id": "HAK-MEILAN", "name": "Haikou Meilan", "time_zone": "Asia/Shanghai", '
                    '"default_capacity": 60}]')
    assert hubs.load_config(store, make_settings(tmp_path / "d", hubs=path)) == 1
    assert store.hubs.get(HUB) is not None and store.hubs.get(HUB).default_capacity == 60  # type: ignore[union-attr]
    path.write_text('[{"hub_id": "HAK MEILAN", "name": "x"}]')
    with pytest.raises(ConfigError, match=r"entry 0\.hub_id"):
        hubs.load_config(store, make_settings(tmp_path / "d", hubs=path))


def test_the_cli_registers_hubs_and_refuses_a_key_for_an_unknown_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELGUARD_DATA_DIR", str(tmp_path))
    cli.get_settings.cache_clear()
    try:
        runner = CliRunner()
        bad_zone = runner.invoke(cli.app, ["hub", "add", HUB, "--name", "Meilan", "--time-zone", "Hainan"])
        assert bad_zone.exit_code == 2 and "not an IANA time zone" in bad_zone.output
        added = runner.invoke(cli.app, ["hub", "add", HUB, "--name", "Meilan", "--time-zone", "Asia/Shanghai"])
        assert added.exit_code == 0, added.output
        assert runner.invoke(cli.app, ["hub", "list"]).output.startswith(f"{HUB}\tMeilan\tAsia/Shanghai")
        typo = runner.invoke(cli.app, ["add-key", "s1", "--role", "screener", "--hub", TYPO])
        assert typo.exit_code == 2 and "is not registered" in typo.output
        assert runner.invoke(cli.app, ["add-key", "s2", "--role", "screener", "--hub", HUB]).exit_code == 0
    finally:
        cli.get_settings.cache_clear()


def test_score_file_rejects_a_manifest_whose_hub_is_not_registered_and_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELGUARD_DATA_DIR", str(tmp_path))
    # An empty file registry: a new SQLite one would spend seconds on MLflow's schema migrations.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    cli.get_settings.cache_clear()
    lines = [manifest(parcel_id="JT0000000001"), manifest(parcel_id="JT0000000002", hub_id=TYPO)]
    source = tmp_path / "manifests.jsonl"
    source.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in lines) + b"{not json\n")
    try:
        runner = CliRunner()  # an empty registry accepts every hub: test_an_empty_registry_accepts_every_hub
        assert runner.invoke(cli.app, ["hub", "add", HUB, "--name", "Meilan"]).exit_code == 0
        out = tmp_path / "checked.jsonl"
        result = runner.invoke(cli.app, ["score-file", str(source), "--out", str(out)])
        assert result.exit_code == 0, result.output
        rows = [orjson.loads(r) for r in out.read_bytes().splitlines()]
        assert rows[0]["parcel_id"] == "JT0000000001" and "error" not in rows[0]
        assert rows[1]["line"] == 2 and rows[1]["code"] == "unknown_hub" and TYPO in rows[1]["error"]
        said = " ".join(result.output.split())  # the console wraps long lines
        assert "2 line(s) rejected and reported inline (1 unknown_hub, 1 invalid_json)" in said
    finally:
        cli.get_settings.cache_clear()
