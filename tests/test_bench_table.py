"""The bench's table carries every target of issue 16: the ratio to the relay, both latency loads, µs by step."""

from __future__ import annotations

from parcelguard.bench import BenchResult, rows


def test_the_table_shows_the_ratio_to_the_relay_both_loads_and_the_cost_per_record_by_step() -> None:
    result = BenchResult(manifests=100, relay_msgs_per_s=20_000.0, scorer_msgs_per_s=5_000.0,
                         ratio_to_relay=0.25, half_load_rate=2_500.0, p99_ms=120.0, load80_rate=4_000.0,
                         load80_p99_ms=900.0, scorer_seconds_by_step={"decide_store": 2.0, "poll": 0.5},
                         scorer_records_consumed=10_000)
    table = {measure: (value, target) for measure, value, target in rows(result)}
    assert table["ratio to the relay"] == ("0.250", "≥ 0.5")
    assert table["latency at 2,500/s (half): p50 / p95 / p99 ms"] == ("0 / 0 / 120", "p99 < 250")
    assert table["latency at 4,000/s (80%): p50 / p95 / p99 ms"] == ("0 / 0 / 900", "p99 < 1000")
    by_step = table["scorer seconds by step (10,000 records; µs per record)"][0]
    assert by_step == "decide_store 2.0 (200), poll 0.5 (50)"  # biggest first, with its cost per record
