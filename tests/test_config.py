"""Settings refuse what would leave personal data guessable, and open nothing by default outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from parcelguard.config import DEV_HASH_KEY, Settings
from parcelguard.errors import ConfigError


@pytest.mark.parametrize("key", ["", "x", DEV_HASH_KEY, "k" * 31])
def test_outside_development_a_short_or_public_hash_key_is_refused_with_how_to_make_one(
        key: str, tmp_path: Path) -> None:
    with pytest.raises((ConfigError, ValueError), match=r"secrets\.token_hex"):
        Settings(environment="production", hash_key=SecretStr(key), data_dir=tmp_path)


def test_a_32_byte_key_is_accepted_and_docs_and_metrics_are_closed_outside_development(tmp_path: Path) -> None:
    settings = Settings(environment="production", hash_key=SecretStr("k" * 32), data_dir=tmp_path)
    assert settings.api_docs_public is False and settings.metrics_public is False
    development = Settings(data_dir=tmp_path)
    assert development.api_docs_public is True and development.metrics_public is True
    opened = Settings(environment="production", hash_key=SecretStr("k" * 32), data_dir=tmp_path,
                      api_docs_public=True)
    assert opened.api_docs_public is True
