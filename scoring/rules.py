"""Hard rules that always flag: watch-listed parties (matched on keyed hashes) and prohibited declarations.

The watch-list file is re-read when it changes on disk, so enforcement can add an entry without a
restart. Entries are ``{"kind": "phone", "value": "13800138000"}`` (hashed on load, never kept in
clear) or ``{"kind": "phone", "hash": "h:..."}`` when enforcement shares hashes only.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from models.manifest import Manifest
from models.pii import Hasher

log = logging.getLogger(__name__)
WATCH_KINDS = ("phone", "id_number", "account_id", "address", "name")


@dataclass(frozen=True)
class RuleHit:
    rule: str
    text: str


class Watchlist:
    """Keyed hashes of watch-listed parties, reloaded from a JSON file when it changes."""

    def __init__(self, hasher: Hasher, path: Path | None = None) -> None:
        self.hasher = hasher
        self.path = path
        self.hashes: set[str] = set()
        self._mtime: float | None = None
        self.refresh()

    def refresh(self) -> None:
        if self.path is None or not self.path.exists():
            return
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return
        entries = json.loads(self.path.read_text())
        hashes: set[str] = set()
        for entry in entries:
            kind = entry.get("kind")
            if kind not in WATCH_KINDS:
                raise ValueError(f"watch-list entry has unknown kind {kind!r}; expected one of {WATCH_KINDS}")
            token = entry.get("hash") or self.hasher(kind, str(entry.get("value", "")))
            if token:
                hashes.add(token)
        self.hashes, self._mtime = hashes, mtime
        log.info("watch-list loaded", extra={"entries": len(hashes)})

    def add(self, kind: str, value: str) -> str:
        token = self.hasher(kind, value)
        if token is None:
            raise ValueError("empty watch-list value")
        self.hashes.add(token)
        return token


class Rules:
    """Returns the first hard rule a manifest trips, or None."""

    def __init__(self, watchlist: Watchlist, prohibited_terms: list[str]) -> None:
        self.watchlist = watchlist
        terms = sorted({t.strip().lower() for t in prohibited_terms if t.strip()}, key=len, reverse=True)
        self._prohibited = re.compile(
            "|".join(rf"(?<!\w){re.escape(t)}(?!\w)" if t.isascii() else re.escape(t) for t in terms)
        ) if terms else None

    def check(self, manifest: Manifest) -> RuleHit | None:
        if self._prohibited is not None:
            text = " ".join(filter(None, [manifest.contents.description, manifest.contents.category])).lower()
            match = self._prohibited.search(text)
            if match:
                return RuleHit("prohibited_declaration", f"prohibited declaration “{match.group(0)}”")
        if self.watchlist.hashes:
            h = self.watchlist.hasher
            parties = [
                ("sender phone", h("phone", manifest.sender.phone)),
                ("sender ID", h("id_number", manifest.sender.id_number)),
                ("sender account", h("account_id", manifest.sender.account_id)),
                ("sender name", h("name", manifest.sender.name)),
                ("recipient phone", h("phone", manifest.recipient.phone)),
                ("recipient name", h("name", manifest.recipient.name)),
                ("recipient address", h("address", manifest.recipient.address or manifest.destination.address)),
            ]
            for label, token in parties:
                if token is not None and token in self.watchlist.hashes:
                    return RuleHit("watchlist", f"{label} is on the watch-list")
        return None
