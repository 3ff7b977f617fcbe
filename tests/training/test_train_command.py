"""``parcelguard train`` as a cron-friendly one-shot: skips when there is little new to learn from."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from parcelguard.cli import _seconds, app


def test_a_one_shot_with_too_few_new_labels_skips_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--from-log", "--min-new-labels", "5"],
                                env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    assert "skipped: 0 new label(s)" in result.output


def test_an_empty_log_is_a_clear_failure(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--from-log"], env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 1 and "not enough labels" in result.output


def test_schedule_intervals() -> None:
    assert [_seconds(v) for v in ("90", "30m", "6h", "1d")] == [90, 1800, 21600, 86400]
    for bad in ("soon", "-1h", "0"):
        with pytest.raises(typer.BadParameter):
            _seconds(bad)
