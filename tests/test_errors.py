"""One error root: every exception class the project defines derives from ``ParcelGuardError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from parcelguard.errors import ParcelGuardError

PACKAGES = ("parcelguard", "models", "scoring", "streams", "training")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")
                  if ".migrations.versions" not in m.name and not m.name.endswith("migrations.env")]
    return names


def test_every_exception_derives_from_the_root() -> None:
    outside = []
    for name in _modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name
                    and not issubclass(value, ParcelGuardError)):
                outside.append(f"{name}.{value.__name__}")
    assert outside == []
