"""What a hub does: publish manifests to ``parcel.manifests``, from a file or a generator, at a chosen rate.

Sends that fail are sent again on a fresh producer: kafka-python's idempotent producer goes into a
fatal state when a broker loses its producer-id state (Tansu does on a restart: the next batch gets
OutOfOrderSequenceNumber and the epoch bump fails), and no later send on that producer succeeds.
Resending may duplicate a manifest; the scorer decides each parcel once whatever it receives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from kafka import KafkaProducer

from models import topics
from parcelguard.errors import ParcelGuardError
from streams import clients

log = logging.getLogger(__name__)
RESEND_ROUNDS = 5


class ProduceError(ParcelGuardError):
    """The broker refused or never acknowledged some of the manifests sent, even after resending."""


class _Sender:
    """A producer plus the records it failed to deliver, replaced by a fresh one after a failure."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.producer: KafkaProducer = clients.producer(bootstrap)
        self.failed: list[tuple[bytes | None, bytes, BaseException]] = []

    def send(self, key: bytes | None, value: bytes) -> None:
        future = self.producer.send(self.topic, key=key, value=value)
        future.add_errback(lambda exc: self.failed.append((key, value, exc)))

    def recover(self) -> None:
        """Flush, then resend whatever failed on a new producer, a few rounds with backoff."""
        for round_ in range(RESEND_ROUNDS + 1):
            self.producer.flush()
            if not self.failed:
                return
            if round_ == RESEND_ROUNDS:
                break
            failed, self.failed = self.failed, []
            log.warning("resending manifests on a new producer",
                        extra={"records": len(failed), "error": repr(failed[0][2]), "round": round_ + 1})
            self.producer.close(timeout=5)
            time.sleep(min(5.0, 0.5 * 2**round_))
            self.producer = clients.producer(self.bootstrap)
            for key, value, _ in failed:
                self.send(key, value)
        raise ProduceError(f"{len(self.failed)} manifests not acknowledged after {RESEND_ROUNDS} resends; "
                           f"first: {self.failed[0][2]!r}")


def publish(
    bootstrap: str,
    manifests: Iterable[dict[str, Any] | bytes],
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    on_send: Callable[[int], None] | None = None,
    topic: str = topics.MANIFESTS,
) -> int:
    """Send manifests keyed by parcel id; ``rate`` in messages per second (None: as fast as possible).

    Returns how many were sent, each acknowledged (resent if needed); raises ProduceError if some
    could not be delivered. ``on_send(i)`` runs just before the i-th send (the benchmark's clock).
    """
    sender = _Sender(bootstrap, topic)
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
            if on_send is not None:
                on_send(sent)
            sender.send(key, value)
            sent += 1
            if sender.failed:
                sender.recover()
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if progress is not None and sent % 1000 == 0:
                progress(sent)
        sender.recover()
    finally:
        sender.producer.close(timeout=5)
    return sent
