"""Property tests against the OpenAPI document: generated requests (valid and invalid) never get a 5xx,
and every response matches what the document says (status codes, content types, bodies).

Bounded: 8 examples per operation and mode, a few hundred requests per database backend. Invalid requests
are checked for 5xx and conformance, not for rejection: FastAPI takes the last of a repeated query parameter,
which schemathesis's rejection check counts as accepting invalid data.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scoring.api.app import create_app
from scoring.store import Store
from tests.conftest import make_settings
from tests.scoring.api_support import HUB, OTHER_HUB, TOKENS, add_keys, record, seed

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8


def _run(operation: Any, mode: GenerationMode, auth: dict[str, str], seen: Counter[int], **fixed: Any) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        seen[case.call_and_validate(headers=auth, checks=CHECKS).status_code] += 1

    check()


def test_generated_requests_get_no_5xx_and_match_the_document(store: Store, tmp_path: Path) -> None:
    # Parcels the path parameters below name exist, so part of the traffic reaches past the 404s.
    seed(store, [record("JT0000000001", score=0.9), record("JT0000000002", why="rule", score=None),
                 record("JT0000000003", action="RELEASE", score=0.01, reasons=[]), record("YT1", hub_id=OTHER_HUB)])
    add_keys(store)
    app_settings = make_settings(tmp_path / "data", hub_capacity_per_hour={HUB: 40},
                                 watchlist_path=tmp_path / "watchlist.json")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings, store))
    # Health endpoints answer 503 by design while the broker or a scorer is missing, as here; they have their tests.
    operations = [op for op in (result.ok() for result in schema.get_all_operations())  # type: ignore[union-attr]
                  if op.path.startswith("/api/")]
    assert len(operations) >= 18
    seen: Counter[int] = Counter()
    for role in ("admin", "screener"):
        auth = {"Authorization": f"Bearer {TOKENS[role]}"}
        for operation in operations:
            known = {name: value for name, value in (("parcel_id", "JT0000000001"), ("hub_id", HUB), ("name", "x"))
                     if any(p.name == name for p in operation.path_parameters)}
            _run(operation, GenerationMode.POSITIVE, auth, seen, path_parameters=known)
            if role == "admin":
                _run(operation, GenerationMode.POSITIVE, auth, seen)
                if len(operation.path_parameters) or len(operation.query) or len(operation.body):
                    _run(operation, GenerationMode.NEGATIVE, auth, seen)  # nothing to make invalid otherwise
    # The traffic got past authentication and validation, not only bounced off them.
    assert sum(seen.values()) >= 300 and seen[200] + seen[201] + seen[204] >= 50 and seen[422] and seen[404], seen
