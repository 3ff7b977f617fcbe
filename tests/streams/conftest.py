"""Fixtures for the stream tests: a SQLite store in the test's data folder and an in-process scorer thread."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from parcelguard.config import Settings
from scoring.db import make_engine
from scoring.engine import ModelSource, Scorer
from scoring.store import Store
from streams.scorer import StreamScorer

RunScorer = Callable[..., contextlib.AbstractContextManager[StreamScorer]]


@pytest.fixture
def file_store(settings: Settings) -> Iterator[Store]:
    """The store a ``parcelguard score`` process started with these settings would use."""
    store = Store(make_engine(settings.database_url))
    store.create_schema()
    yield store
    store.engine.dispose()


@pytest.fixture
def run_scorer(settings: Settings, file_store: Store) -> RunScorer:
    """Run a StreamScorer on a thread for the duration of a ``with`` block; stop and join it after."""

    @contextlib.contextmanager
    def running(bootstrap: str, group: str | None = None, models: ModelSource | None = None,
                store: Store | None = None, **options: Any) -> Iterator[StreamScorer]:
        scorer = Scorer(settings, store or file_store, models or ModelSource.fixed(None))
        stream = StreamScorer(scorer, store or file_store, bootstrap, group or f"scorers-{uuid.uuid4().hex[:8]}",
                              max_manifest_bytes=settings.max_manifest_bytes, **options)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                stream.run()
            except BaseException as exc:  # surfaced in the test below, not lost on the thread
                errors.append(exc)

        thread = threading.Thread(target=run, name="stream-scorer", daemon=True)
        thread.start()
        try:
            yield stream
        finally:
            stream.stop()
            thread.join(60)
        assert not thread.is_alive(), "the scorer did not stop within 60 s"
        assert not errors, f"the scorer thread failed: {errors[0]!r}"

    return running
