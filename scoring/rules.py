"""Hard rules that always flag: watch-listed parties (matched on keyed hashes) and prohibited declarations.

The watch-list lives in one JSON file that every scorer re-reads when it changes on disk, so
enforcement can add or remove an entry without a restart. Entries are ``{"kind": "phone", "value":
"13800138000"}`` (hashed on load, never kept in clear) or ``{"kind": "phone", "hash": "h:..."}``.
``add_entries`` / ``remove_entries`` are what an API endpoint calls: they write hashes only, atomically
and under a lock, so the file never holds personal data that came in through the API.
A file that turns bad at runtime keeps the last good list in force and says so (``last_error``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import parties
from models.manifest import Manifest
from models.pii import Hasher
from parcelguard.errors import ParcelGuardError

log = logging.getLogger(__name__)
WATCH_KINDS = ("phone", "id_number", "account_id", "address", "name")
# The party fields a watch-list is matched against, in the order a hit is looked for (the first is reported);
# the recipient address already falls back to the destination address, so that one is not listed apart.
WATCHED = (parties.SENDER_PHONE, parties.SENDER_ID, parties.SENDER_ACCOUNT, parties.SENDER_NAME,
           parties.RECIPIENT_PHONE, parties.RECIPIENT_NAME, parties.RECIPIENT_ADDRESS)


class WatchlistError(ParcelGuardError):
    """The watch-list file or an entry in it is malformed."""


@dataclass(frozen=True)
class RuleHit:
    rule: str
    text: str


def entry_token(hasher: Hasher, entry: Any) -> str:
    """The keyed hash an entry stands for; raises WatchlistError with the reason when it is malformed."""
    if not isinstance(entry, dict):
        raise WatchlistError(f"watch-list entry must be an object with kind and value or hash, got {entry!r:.60}")
    kind = entry.get("kind")
    if kind not in WATCH_KINDS:
        raise WatchlistError(f"watch-list entry has unknown kind {kind!r}; expected one of {WATCH_KINDS}")
    given = entry.get("hash")
    if given is not None:
        if not isinstance(given, str) or not given.startswith("h:"):
            raise WatchlistError(f"watch-list {kind} hash must be a string starting with 'h:'")
        return given
    token = hasher(kind, str(entry.get("value") or ""))
    if token is None:
        raise WatchlistError(f"watch-list {kind} entry has neither a value nor a hash")
    return token


def read_entries(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WatchlistError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise WatchlistError(f"{path}: expected a JSON list of entries")
    return entries


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, entries: list[dict[str, Any]]) -> None:
    """Readers see the old file or the new one, never half of one."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(entries, out, ensure_ascii=False, indent=0)
    os.replace(temp, path)


def add_entries(path: Path, hasher: Hasher, entries: Iterable[dict[str, Any]]) -> list[str]:
    """Add entries (clear values are hashed before they are written); returns their tokens."""
    with _locked(path):
        current = read_entries(path) if path.exists() else []
        known = {entry_token(hasher, e) for e in current}
        tokens = []
        for entry in entries:
            token = entry_token(hasher, entry)
            tokens.append(token)
            if token not in known:
                known.add(token)
                extra = {k: v for k, v in entry.items() if k in ("note", "source")}
                current.append({"kind": entry["kind"], "hash": token, **extra})
        _write_atomically(path, current)
    log.info("watch-list entries added", extra={"entries": len(tokens), "path": str(path)})
    return tokens


def remove_entries(path: Path, hasher: Hasher, entries: Iterable[dict[str, Any]]) -> int:
    """Remove entries given by value or hash; returns how many were removed."""
    drop = {entry_token(hasher, e) for e in entries}
    with _locked(path):
        current = read_entries(path) if path.exists() else []
        kept = [e for e in current if entry_token(hasher, e) not in drop]
        _write_atomically(path, kept)
    log.info("watch-list entries removed", extra={"entries": len(current) - len(kept), "path": str(path)})
    return len(current) - len(kept)


class Watchlist:
    """Keyed hashes of watch-listed parties, reloaded from a JSON file when it changes."""

    def __init__(self, hasher: Hasher, path: Path | None = None) -> None:
        self.hasher = hasher
        self.path = path
        self.hashes: frozenset[str] = frozenset()
        self.last_error: str | None = None
        self._signature: tuple[int, int, int] | None = None
        if path is not None and path.exists():
            self._load(path)  # at start a bad file is fatal: scoring without the rules would miss them

    def refresh(self) -> bool:
        """Re-read the file if it changed; True when the list in force changed."""
        if self.path is None:
            return False
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        if (stat.st_mtime_ns, stat.st_size, stat.st_ino) == self._signature:
            return False
        try:
            self._load(self.path)
            return True
        except (WatchlistError, OSError) as exc:
            self.last_error = f"watch-list not reloaded, previous list kept: {exc}"
            self._signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)  # report once per change
            log.error("watch-list file is invalid; keeping the list in force", extra={"error": str(exc)})
            return False

    def _load(self, path: Path) -> None:
        stat = path.stat()
        hashes = frozenset(entry_token(self.hasher, e) for e in read_entries(path))
        self.hashes, self._signature, self.last_error = hashes, (stat.st_mtime_ns, stat.st_size, stat.st_ino), None
        log.info("watch-list loaded", extra={"entries": len(hashes)})

    def add(self, kind: str, value: str) -> str:
        """Add one entry to this process only (tests, simulations); the file is what scorers share."""
        token = entry_token(self.hasher, {"kind": kind, "value": value})
        self.hashes = self.hashes | {token}
        return token


class Rules:
    """Returns the first hard rule a manifest trips, or None."""

    def __init__(self, watchlist: Watchlist, prohibited_terms: list[str]) -> None:
        self.watchlist = watchlist
        terms = sorted({t.strip().lower() for t in prohibited_terms if t.strip()}, key=len, reverse=True)
        self._prohibited = re.compile(
            "|".join(rf"(?<!\w){re.escape(t)}(?!\w)" if t.isascii() else re.escape(t) for t in terms)
        ) if terms else None

    def check(self, manifest: Manifest, hashes: dict[str, str | None] | None = None) -> RuleHit | None:
        """``hashes`` (label → token, as ``party_hashes`` gives) saves re-hashing what the caller has."""
        if self._prohibited is not None:
            contents = manifest.contents
            text = " ".join(filter(None, [contents.description, contents.category])).lower()
            match = self._prohibited.search(text) if text else None
            if match:
                return RuleHit("prohibited_declaration", f"prohibited declaration “{match.group(0)}”")
        if self.watchlist.hashes:
            listed = self.watchlist.hashes
            for label, token in (hashes or party_hashes(self.watchlist.hasher, manifest)).items():
                if token is not None and token in listed:
                    return RuleHit("watchlist", f"{label} is on the watch-list")
        return None


def party_hashes(hasher: Hasher, manifest: Manifest) -> dict[str, str | None]:
    """The keyed hash of every party field a watch-list can name, label → token, in ``WATCHED`` order."""
    return {field.label: hasher(field.name, parties.value(manifest, field)) for field in WATCHED}
