"""The production stack as far as it can be checked without a Docker engine: the compose file parses, names
the stack the issue asks for, runs only commands the CLI has, configures through known environment
variables alone, and the image carries what those commands need."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.core import TyperGroup

from parcelguard.cli import app
from parcelguard.config import Settings
from tests.docker.compose import (
    DOCKER,
    REPO,
    SECRETS,
    MissingVariable,
    interpolate,
    load,
    service_environment,
    variables_used,
)

PARCELGUARD_SERVICES = ("mlflow", "migrate", "scorer", "outcomes", "monitor", "api", "generate-history", "train",
                        "retrain")
# Read by ParcelGuard but not a Settings field: the config-file path and the CLI's log level.
EXTRA_VARIABLES = {"PARCELGUARD_CONFIG", "PARCELGUARD_LOG_LEVEL"}


def setting_variables() -> dict[str, str]:
    """Environment variable -> Settings field, as pydantic-settings reads them."""
    names = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names[alias if isinstance(alias, str) else f"PARCELGUARD_{field.upper()}"] = field
    return names


def _cli() -> TyperGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return group


def test_the_stack_is_kafka_in_kraft_mode_postgresql_mlflow_scorers_and_the_api() -> None:
    services = load()["services"]
    assert set(PARCELGUARD_SERVICES) | {"postgres", "kafka", "prometheus"} == set(services)
    kafka = {k: str(v) for k, v in services["kafka"]["environment"].items()}
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller" and "CONTROLLER" in kafka["KAFKA_LISTENERS"]
    assert not any("ZOOKEEPER" in key for key in kafka) and services["kafka"]["image"].startswith("apache/kafka:")
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics come with their final partition count
    assert services["postgres"]["image"].startswith("postgres:")
    assert "CREATE DATABASE mlflow" in (DOCKER / "postgres" / "10-mlflow-database.sql").read_text()

    mlflow = service_environment(services["mlflow"], SECRETS)
    assert services["mlflow"]["command"] == ["mlflow", "server"]
    backend = mlflow["MLFLOW_BACKEND_STORE_URI"]
    assert backend.startswith("postgresql+psycopg://") and backend.endswith("@postgres:5432/mlflow")
    assert mlflow["MLFLOW_SERVE_ARTIFACTS"] == "true"
    assert "mlflow-artifacts:/mlartifacts" in services["mlflow"]["volumes"]
    assert "mlflow:5000" in mlflow["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")  # clients reach it by service name

    scorer = services["scorer"]
    assert int(interpolate(str(scorer["deploy"]["replicas"]), {})) == 3
    assert int(interpolate(str(scorer["deploy"]["replicas"]), {"SCORER_REPLICAS": "5"})) == 5
    env = service_environment(scorer, SECRETS)
    assert "PARCELGUARD_CONSUMER_GROUP" not in env  # every replica joins the same (default) group
    assert env["PARCELGUARD_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000" and env["PARCELGUARD_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert scorer["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_parcelguard_command_in_compose_exists_in_the_cli_with_those_options() -> None:
    services = load()["services"]
    cli = _cli()
    for name in PARCELGUARD_SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
        command = service["command"]
        if name == "mlflow":
            continue
        assert command[0] == "parcelguard", f"{name} must run a parcelguard command, runs {command}"
        sub = cli.commands.get(command[1])
        assert sub is not None, f"{name}: `parcelguard {command[1]}` is not a CLI command"
        sub.make_context(command[1], list(command[2:]))  # raises on an unknown option or a bad value


def test_parcelguard_services_are_configured_only_through_known_environment_variables(
        monkeypatch: pytest.MonkeyPatch) -> None:
    known = set(setting_variables()) | EXTRA_VARIABLES
    services = load()["services"]
    for name in PARCELGUARD_SERVICES[1:]:
        service = services[name]
        assert not any(str(v).endswith((".toml", ".toml:ro")) for v in service.get("volumes", [])), name
        env = service_environment(service, {**SECRETS, "PARCELGUARD_HUB_CAPACITY_PER_HOUR": "HAK-MEILAN=400"})
        unknown = {key for key in env if key.startswith("PARCELGUARD_") and key not in known}
        assert not unknown, f"{name} sets variables ParcelGuard does not read: {unknown}"
        assert "PARCELGUARD_CONFIG" not in env
        for key in [*known, "MLFLOW_TRACKING_URI"]:
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(REPO / "docker")  # no parcelguard.toml there: the environment is all there is
        settings = Settings()
        assert settings.environment == "production" and settings.hash_key.get_secret_value() == SECRETS[
            "PARCELGUARD_HASH_KEY"]
        assert settings.hub_capacity_per_hour == {"HAK-MEILAN": 400}


def test_compose_refuses_to_start_without_the_secrets() -> None:
    scorer = load()["services"]["scorer"]
    for missing in SECRETS:
        with pytest.raises(MissingVariable, match=missing):
            service_environment(scorer, {k: v for k, v in SECRETS.items() if k != missing})


def _configuration_table() -> set[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


def test_the_readme_table_documents_every_variable() -> None:
    documented = _configuration_table()
    wanted = set(setting_variables()) | EXTRA_VARIABLES | variables_used()
    assert not wanted - documented, f"add to README's Configuration table: {sorted(wanted - documented)}"
    assert not documented - wanted, f"documented but read by nothing: {sorted(documented - wanted)}"


def test_prometheus_scrapes_every_scorer_replica_and_the_api() -> None:
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    services = load()["services"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    scorer_port = int(services["scorer"]["environment"]["PARCELGUARD_METRICS_PORT"])
    sd = jobs["parcelguard-scorer"]["dns_sd_configs"][0]
    assert sd["names"] == ["scorer"] and sd["port"] == scorer_port and str(scorer_port) in services["scorer"]["expose"]
    api_port = services["api"]["environment"]["PARCELGUARD_API_PORT"]
    assert jobs["parcelguard-api"]["static_configs"][0]["targets"] == [f"api:{api_port}"]
    # The API's /metrics is closed outside development: Prometheus scrapes it with an analyst key it is given.
    token_file = jobs["parcelguard-api"]["authorization"]["credentials_file"]
    assert any(volume.endswith(f":{token_file}:ro") for volume in services["prometheus"]["volumes"])


def _dockerfile_copies() -> list[str]:
    lines = (DOCKER / "Dockerfile").read_text().splitlines()
    return [source for line in lines if line.startswith("COPY ") and "--from" not in line
            for source in line.split()[1:-1]]


def test_the_image_copies_every_package_and_the_dockerignore_lets_them_through() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    packages = re.search(r'include = \[([^]]*)\]', pyproject)
    assert packages is not None
    wanted = {name.strip().strip('"').rstrip("*") for name in packages.group(1).split(",")}
    copied = set(_dockerfile_copies())
    assert wanted <= copied and {"pyproject.toml", "README.md"} <= copied
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    for source in copied:
        assert f"!{source}" in ignore or f"!{source}/**" in ignore, f"the build context leaves out {source}"


def test_the_built_package_migrates_a_database_on_its_own(tmp_path: Path) -> None:
    """What the image's `pip install` gets (the same files the Dockerfile copies) includes the migrations."""
    source = tmp_path / "src"
    source.mkdir()
    for name in _dockerfile_copies():
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, source / name)
    built = tmp_path / "built"
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "-d", str(built)],
                   cwd=source, check=True, capture_output=True)
    database = tmp_path / "image.db"
    check = ("import sys; sys.path[0:0] = [sys.argv[1]]\n"
             "from scoring import migrations; from scoring.db import make_engine\n"
             "assert migrations.__file__.startswith(sys.argv[1]), migrations.__file__\n"
             "engine = make_engine('sqlite:///' + sys.argv[2]); migrations.upgrade(engine)\n"
             "print(migrations.current(engine))")
    result = subprocess.run([sys.executable, "-c", check, str(built), str(database)], cwd=tmp_path,
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    from scoring import migrations

    assert result.stdout.strip() == migrations.head()
    assert (built / "scoring" / "templates").is_dir()


def _services_with(key: str) -> dict[str, Any]:
    return {name: s for name, s in load()["services"].items() if key in s}


def test_long_running_services_have_health_checks_on_their_own_endpoints() -> None:
    checks = {name: " ".join(s["healthcheck"]["test"]) for name, s in _services_with("healthcheck").items()}
    assert {"postgres", "kafka", "mlflow", "scorer", "api"} <= set(checks)
    assert "9100/readyz" in checks["scorer"] and "8000/livez" in checks["api"] and "5000/health" in checks["mlflow"]
