"""What a hub does: publish manifests to ``parcel.manifests``, from a file or a generator, at a chosen rate."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from streams import clients, topics


def publish(
    bootstrap: str,
    manifests: Iterable[dict[str, Any] | bytes],
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Send manifests keyed by parcel id; ``rate`` in messages per second (None: as fast as possible)."""
    producer = clients.producer(bootstrap)
    sent = 0
    started = time.monotonic()
    try:
        for item in manifests:
            if stop is not None and stop():
                break
            if isinstance(item, bytes):
                value, key = item, None
            else:
                value, key = orjson.dumps(item), str(item.get("parcel_id", "")).encode() or None
            producer.send(topics.MANIFESTS, key=key, value=value)
            sent += 1
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if progress is not None and sent % 1000 == 0:
                progress(sent)
        producer.flush()
    finally:
        producer.close()
    return sent
