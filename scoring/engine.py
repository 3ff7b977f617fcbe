"""The scoring code path every job shares: manifests in, stored and explained decisions out.

``Scorer.process`` is what the Kafka scorer, ``score-file`` and the simulator call. A batch is
deduplicated against the store first (a replayed parcel gets its first decision back, and its
entity history is not counted twice), then featurised in event order, scored in one LightGBM call,
decided parcel by parcel, explained only where it is screened (one batched ``pred_contrib`` call),
and recorded in one transaction. Should another scorer have stored a decision for the same parcel
meanwhile, the stored one is returned: the store, not this process, says what was decided.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models import registry
from models.features import FeatureBuilder, FeatureRow, Prepared
from models.history import EntityKeys, HistoryState
from models.manifest import Decision, Manifest, Reason
from models.pii import hasher_for
from models.risk_model import RiskModel
from parcelguard.config import Settings
from scoring import capacity
from scoring.explanations import policy_reasons
from scoring.policy import DecisionPolicy, PolicyConfig, novelty
from scoring.rules import Rules, Watchlist, party_hashes
from scoring.segments import segments, volume_segments
from scoring.store import DecisionRecord, Store

log = logging.getLogger(__name__)
CAPACITY_CHECK_S = 5.0
# What screening has seen of a parcel's parties: its sender's and its recipient's earlier screenings.
_KNOWN = ("sender_screened", "recipient_screened")


def labels_known(row: FeatureRow) -> float:
    """Earlier screenings of the parcel's sender and recipient, from its feature row (NaN counts as none)."""
    total = 0.0
    for name in _KNOWN:
        value = row.get(name)
        if isinstance(value, float) and value > 0:
            total += value
    return total


class ModelSource:
    """The champion in service (and an optional shadow challenger), re-read from the registry on change.

    Asking the registry and loading a model take from tens of milliseconds to seconds, so a running
    scorer does it on a background thread (``start_background``); ``refresh`` then only swaps a
    model that is ready, between batches: a batch is always decided by one version from start to end.
    """

    def __init__(self, name: str, check_every_s: float = 10.0, shadow: bool = True) -> None:
        self.name = name
        self.check_every_s = check_every_s
        self.with_shadow = shadow
        self.current: RiskModel | None = None
        self.shadow: RiskModel | None = None
        self.last_error: str | None = None
        self._checked = 0.0
        self._fixed = False
        self._ready: tuple[RiskModel | None, RiskModel | None] | None = None
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def fixed(cls, model: RiskModel | None) -> ModelSource:
        source = cls(model.name if model else "local", check_every_s=float("inf"), shadow=False)
        source.current = model
        source._fixed = True  # never asks the registry (tests, file scoring with a given model)
        return source

    def refresh(self, force: bool = False) -> bool:
        """Put the newest champion in service; True when the model in service changed.

        With the background poller running this only swaps in what it has loaded (unless ``force``).
        """
        if self._fixed:
            return False
        if self._poller is not None and not force:
            return self._swap()
        now = time.monotonic()
        if not force and now - self._checked < self.check_every_s:
            return False
        self._checked = now
        self._fetch()
        return self._swap()

    def start_background(self) -> None:
        if self._fixed or self._poller is not None:
            return
        self._poller = threading.Thread(target=self._poll, name="model-source", daemon=True)
        self._poller.start()

    def stop_background(self) -> None:
        self._stop.set()

    def _poll(self) -> None:
        while not self._stop.wait(self.check_every_s):
            self._fetch()

    def _fetch(self) -> None:
        """Ask the registry; load any new champion or challenger and leave them ready to swap in."""
        with self._lock:
            current, shadow = self._ready or (self.current, self.shadow)
        try:
            version = registry.alias_version(self.name, "champion")
            if version is not None and (current is None or current.version != version):
                current = registry.load_version(self.name, version)
            if self.with_shadow:
                shadow_version = registry.alias_version(self.name, "challenger")
                if shadow_version is None or shadow_version == version:
                    shadow = None
                elif shadow is None or shadow.version != shadow_version:
                    shadow = registry.load_version(self.name, shadow_version)
            self.last_error = None
        except Exception as exc:  # the registry being down must not stop scoring: keep the last model
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("model registry unavailable; keeping the model in service", extra={"error": self.last_error})
            return
        if current is not self.current or shadow is not self.shadow:
            with self._lock:
                self._ready = (current, shadow)

    def _swap(self) -> bool:
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is None:
            return False
        changed = ready[0] is not self.current
        self.current, self.shadow = ready
        if changed and self.current is not None:
            log.info("model in service", extra={"model": self.name, "version": self.current.version})
        return changed


@dataclass(slots=True)
class _Pending:
    manifest: Manifest
    redacted: dict[str, Any]
    features: FeatureRow
    in_scope: bool
    rule_text: str | None


class Scorer:
    """Decides batches of validated manifests; the one place decisions are made."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None,
        models: ModelSource,
        *,
        persist: bool = True,
        cache_history: bool = False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.models = models
        self.persist = persist and store is not None
        self.cache_history = cache_history or store is None
        self.hasher = hasher_for(settings)  # the key, and the policy for undeclared manifest fields
        self.features = FeatureBuilder(self.hasher)
        self.watchlist = Watchlist(self.hasher, settings.watchlist_path)
        self.rules = Rules(self.watchlist, settings.prohibited_terms)
        policy_config = PolicyConfig.build(
            settings.priority_origins,
            settings.destinations,
            capacity_share=settings.capacity_share,
            hub_capacity_per_hour=dict(settings.hub_capacity_per_hour),
            exploration_share=settings.exploration_share,
            burst_hours=settings.burst_hours,
        )
        self.policy = DecisionPolicy(policy_config, self._reference_scores())
        self.history = HistoryState()
        self._capacities_read = -CAPACITY_CHECK_S

    def _reference_scores(self) -> list[float]:
        model = self.models.current
        return list(model.schema.reference.get("score_sample", [])) if model else []

    def refresh_model(self, force: bool = False) -> None:
        """Between batches: a newly promoted model, watch-list edits and capacities set by an admin."""
        if self.models.refresh(force):
            self.policy.reset_scores(self._reference_scores())
        self.watchlist.refresh()
        self._refresh_capacities(force)

    def _refresh_capacities(self, force: bool) -> None:
        """Configured hub capacities, overridden by those an admin set in the store (read every few seconds)."""
        now = time.monotonic()
        if self.store is None or (not force and now - self._capacities_read < CAPACITY_CHECK_S):
            return
        self._capacities_read = now
        try:
            per_hour = capacity.in_force(self.store, self.settings)
        except Exception as exc:  # the store being down must not stop scoring: keep the capacities in force
            log.warning("could not read hub capacities; keeping those in force",
                        extra={"error": f"{type(exc).__name__}: {exc}"})
            return
        if self.policy.set_hub_capacities(per_hour):
            log.info("hub capacities in force", extra={"per_hour": self.policy.config.hub_capacity_per_hour})

    def continue_history(self, history: HistoryState) -> None:
        """Carry on from an entity history built elsewhere (a bootstrap replay), as a seeded store would."""
        self.history = history

    def merge_outcomes(self, entity_keys: Iterable[str]) -> None:
        """Read back into the cached history the outcome counts the store moved for these entities."""
        if self.store is not None:
            self.history.merge_outcomes(self.store.stats.load(entity_keys))

    def serve(self, model: RiskModel) -> None:
        """Serve ``model`` from now on, as ``refresh_model`` does on a new champion: the thresholds restart
        from its reference scores; the hubs' budgets and the entity history carry on."""
        self.models = ModelSource.fixed(model)
        self.policy.reset_scores(self._reference_scores())

    def set_capacity_fraction(self, fraction: float) -> None:
        """With several scorers in a group, this one owns ``fraction`` of every hub's traffic and capacity."""
        self.policy.set_capacity_fraction(fraction)

    @property
    def last_error(self) -> str | None:
        """What the health endpoint should hear about: a registry or watch-list problem."""
        return self.models.last_error or self.watchlist.last_error

    def process(self, batch: list[tuple[Manifest, dict[str, Any]]]) -> list[Decision]:
        """Decisions for a batch, in input order; existing ones are returned, never remade."""
        ids = [m.parcel_id for m, _ in batch]
        existing = self.store.decisions.existing(ids) if self.store is not None else {}
        fresh: list[tuple[Manifest, dict[str, Any]]] = []
        seen: set[str] = set(existing)
        for manifest, raw in batch:
            if manifest.parcel_id not in seen:
                seen.add(manifest.parcel_id)
                fresh.append((manifest, raw))
        fresh.sort(key=lambda item: item[0].accepted_at)
        self._follow_model()
        # Redaction, fields and keys once per parcel: the history read, the feature row and the stored
        # manifest all use these (they were computed three times per parcel).
        prepared = [self.features.prepare(m) for m, _ in fresh]
        keys = [p.keys for p in prepared]
        history = self._history_for(keys)
        records = self.decide(fresh, history, keys, prepared)
        made = {r.decision.parcel_id: r.decision for r in records}
        if self.persist and self.store is not None and records:
            inserted = self.store.decisions.record(records, {k: history.stats[k] for k in history.dirty}, history.base)
            if inserted != len(records):
                # Another scorer (after a rebalance) stored some of these first: publish what is stored.
                made.update(self.store.decisions.existing(list(made)))
                log.info("some parcels were decided elsewhere first; using the stored decisions",
                         extra={"records": len(records), "inserted": inserted})
        history.written()
        return [existing.get(pid) or made[pid] for pid in ids]

    def _follow_model(self) -> None:
        """Compute the fields and field stats the model in service reads (its spec travels with it)."""
        model = self.models.current
        self.features = self.features.with_spec(model.schema.fields if model is not None else None)

    def _history_for(self, entity_keys: list[EntityKeys]) -> HistoryState:
        keys = {key for k in entity_keys for key in k.all()}
        if self.store is None:
            return self.history
        if self.cache_history:
            missing = [k for k in keys if k not in self.history.stats]
            self.history.take(self.store.stats.load(missing))
            return self.history
        return HistoryState.loaded(self.store.stats.load(keys))

    def decide(self, batch: list[tuple[Manifest, dict[str, Any]]], history: HistoryState,
               entity_keys: list[EntityKeys] | None = None,
               prepared: list[Prepared] | None = None) -> list[DecisionRecord]:
        """Decide a batch in the order given (event order), with the one model in service now.

        ``prepared`` are ``FeatureBuilder.prepare`` of the batch's manifests when the caller has them (``process``
        does); each record stores its parcel's redacted manifest from there."""
        self._follow_model()
        if prepared is None:
            prepared = [self.features.prepare(manifest) for manifest, _ in batch]
        model = self.models.current
        shadow = self.models.shadow
        config = self.policy.config
        pending: list[_Pending] = []
        for i, (manifest, _) in enumerate(batch):
            features = self.features.build(manifest, history, entity_keys[i] if entity_keys else None, prepared[i])
            in_scope = config.in_scope(manifest)
            hit = self.rules.check(manifest, party_hashes(self.hasher, manifest)) if in_scope else None
            pending.append(_Pending(manifest, prepared[i].redacted, features, in_scope, hit.text if hit else None))
        scored_rows = [p.features for p in pending if p.in_scope]
        scores = iter(model.score_rows(scored_rows).tolist()) if model and scored_rows else iter(())
        shadow_scores = iter(shadow.score_rows(scored_rows).tolist()) if shadow and scored_rows else iter(())
        now = datetime.now(UTC)
        records: list[DecisionRecord] = []
        for p in pending:
            score = next(scores, None) if p.in_scope else None
            shadow_score = next(shadow_scores, None) if p.in_scope else None
            if p.in_scope:
                screening = segments(p.manifest)
                choice = self.policy.choose(p.manifest.parcel_id, p.manifest.hub_id, p.manifest.accepted_at.timestamp(),
                                            score, p.rule_text is not None, model is not None,
                                            novelty(labels_known(p.features)), segment_keys=screening,
                                            volume_keys=volume_segments(p.manifest, screening))
                action, why, propensity = choice.action, choice.why, choice.propensity
            else:
                action, why, propensity = "RELEASE", "out_of_scope", 0.0
            # Built from values this code made: skip pydantic's validation on the hot path.
            decision = Decision.model_construct(
                parcel_id=p.manifest.parcel_id, hub_id=p.manifest.hub_id, action=action, why=why,
                score=None if score is None else round(score, 6), propensity=round(propensity, 6),
                model_name=model.name if model and p.in_scope else None,
                model_version=model.version if model and p.in_scope else None,
                reasons=policy_reasons(why, round(propensity, 6), p.rule_text), decided_at=now,
            )
            records.append(
                DecisionRecord(
                    decision=decision, features=p.features, manifest=p.redacted,
                    accepted_at=p.manifest.accepted_at, origin_province=p.manifest.origin.province,
                    shadow_version=shadow.version if shadow and shadow_score is not None else None,
                    shadow_score=shadow_score,
                )
            )
        self._explain(records, pending, model)
        return records

    def _explain(self, records: list[DecisionRecord], pending: list[_Pending], model: RiskModel | None) -> None:
        """Model contributions for every SCREEN decision, in one batched call (explaining costs ~100 scores)."""
        if model is None:
            return
        to_explain = [i for i, r in enumerate(records) if r.decision.action == "SCREEN"]
        if not to_explain:
            return
        contributions: list[list[Reason]] = model.explain(
            [pending[i].features for i in to_explain], self.settings.explain_top_k)
        for i, reasons in zip(to_explain, contributions, strict=True):
            records[i].decision.reasons.extend(reasons)
