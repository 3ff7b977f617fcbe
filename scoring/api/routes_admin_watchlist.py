"""Admin: the enforcement watch-list. Edits go to the JSON file every scorer re-reads when it changes
(``PARCELGUARD_WATCHLIST_PATH``); clear values are hashed on arrival, so only keyed hashes are written,
audited or shown."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status

from models.pii import Hasher
from parcelguard.config import Settings
from scoring import rules
from scoring.api.deps import Admin, SettingsDep, StoreDep
from scoring.api.schemas import WatchEntryView, WatchlistChange, WatchlistResult, WatchlistView, problems

router = APIRouter(prefix="/api/admin/watchlist", tags=["admin"],
                   responses=problems(400, 401, 403, 422, 503))


def _path(settings: Settings) -> Path:
    if settings.watchlist_path is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "no watch-list file is configured: set PARCELGUARD_WATCHLIST_PATH for the API and the "
                            "scorers (they read the same file)")
    return settings.watchlist_path


def _hasher(settings: Settings) -> Hasher:
    return Hasher(settings.hash_key.get_secret_value())


def _entries(path: Path) -> list[dict[str, object]]:
    try:
        return rules.read_entries(path) if path.exists() else []
    except rules.WatchlistError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"the watch-list file cannot be read, fix it by hand first: {exc}") from exc


def _view(settings: Settings, path: Path) -> list[WatchEntryView]:
    hasher = _hasher(settings)
    shown = []
    for entry in _entries(path):
        try:
            token = rules.entry_token(hasher, entry)
        except rules.WatchlistError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                f"the watch-list file has a bad entry: {exc}") from exc
        note = entry.get("note") if isinstance(entry, dict) else None
        shown.append(WatchEntryView(kind=str(entry["kind"]), hash=token, note=note if isinstance(note, str) else None))
    return shown


@router.get("", response_model=WatchlistView, summary="The watch-list in force: kinds and keyed hashes")
def read_watchlist(settings: SettingsDep, user: Admin) -> WatchlistView:
    path = _path(settings)
    return WatchlistView(path=str(path), entries=_view(settings, path))


@router.post("", response_model=WatchlistResult, summary="Add parties (by clear value, hashed on arrival, or hash)")
def add_to_watchlist(body: WatchlistChange, settings: SettingsDep, store: StoreDep, user: Admin) -> WatchlistResult:
    path = _path(settings)
    before = len(_entries(path))
    entries = [e.model_dump(exclude_none=True) for e in body.entries]
    tokens = rules.add_entries(path, _hasher(settings), entries)
    total = len(_entries(path))
    store.audit.record(user.name, "watchlist_add", None, {"hashes": tokens, "kinds": [e["kind"] for e in entries]})
    return WatchlistResult(changed=total - before, hashes=tokens, total=total)


@router.post("/remove", response_model=WatchlistResult, summary="Remove parties, given by value or hash")
def remove_from_watchlist(
    body: WatchlistChange, settings: SettingsDep, store: StoreDep, user: Admin
) -> WatchlistResult:
    path = _path(settings)
    hasher = _hasher(settings)
    entries = [e.model_dump(exclude_none=True) for e in body.entries]
    tokens = [rules.entry_token(hasher, e) for e in entries]
    removed = rules.remove_entries(path, hasher, entries)
    store.audit.record(user.name, "watchlist_remove", None, {"hashes": tokens, "removed": removed})
    return WatchlistResult(changed=removed, hashes=tokens, total=len(_entries(path)))
