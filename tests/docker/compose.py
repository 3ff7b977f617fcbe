"""Reading docker/compose.yaml as Docker Compose would: YAML anchors and ``${VAR...}`` interpolation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
# The ParcelGuard services: built from docker/Dockerfile and run as `parcelguard ...`.
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "PARCELGUARD_HASH_KEY": "a-long-random-production-hash-key"}

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable is not set: compose refuses to start."""


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's rules: ``${V}``, ``${V:-default}``, ``${V-default}``, ``${V:?error}``, ``${V?error}``, ``$$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else str(current)
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(one, value)


def service_environment(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The variables a container gets: values interpolated; a key without a value is passed through if set."""
    out: dict[str, str] = {}
    for key, value in (service.get("environment") or {}).items():
        if value is None:
            if key in env:
                out[key] = env[key]
        else:
            out[key] = interpolate(str(value), env)
    return out


def variables_used() -> set[str]:
    """Every variable the compose file reads from where `docker compose` runs."""
    text = COMPOSE_FILE.read_text()
    names = {m.group("name") for m in _VARIABLE.finditer(text) if m.group("name")}
    for service in load()["services"].values():
        names |= {key for key, value in (service.get("environment") or {}).items() if value is None}
    return names
