"""Access: API keys and the bearer tokens (sessions) exchanged for them; only SHA-256 digests are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from scoring.db import api_keys, as_utc, sessions
from scoring.store.audit import write_audit
from scoring.store.base import Repository
from scoring.store.rows import ApiKeyPublic, KeyHolder

_KEY_COLUMNS = (api_keys.c.name, api_keys.c.role, api_keys.c.hub_id, api_keys.c.active, api_keys.c.created_at)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _public(row: Any) -> ApiKeyPublic:
    return ApiKeyPublic(name=row.name, role=row.role, hub_id=row.hub_id, active=row.active,
                        created_at=as_utc(row.created_at))


def _holder(row: Any, via: str) -> KeyHolder:
    return KeyHolder(name=row.name, role=row.role, hub_id=row.hub_id, active=row.active,
                     created_at=row.created_at, via=via)


class Access(Repository):
    """Issue, list and revoke API keys; open and close sessions; say whom a key or token belongs to."""

    def add_key(self, name: str, role: str, token: str, hub_id: str | None = None, actor: str = "system") -> None:
        """Issue (or re-issue, replacing the old secret) a key; only its SHA-256 is kept.

        Re-issuing ends every token and sign-in of the old key in the same transaction: a token dies with the
        key it came from, and never takes on the new key's role."""
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.key_name == name).values(revoked=True))
            stmt = self._insert(api_keys).values(
                name=name, role=role, hub_id=hub_id, token_hash=token_digest(token), active=True,
                created_at=datetime.now(UTC),
            )
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={"role": role, "hub_id": hub_id, "token_hash": token_digest(token), "active": True,
                      "created_at": stmt.excluded.created_at},
            ))
            write_audit(conn, actor, "add_api_key", None, {"name": name, "role": role, "hub_id": hub_id})

    def key(self, name: str) -> ApiKeyPublic | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_KEY_COLUMNS).where(api_keys.c.name == name)).first()
            return None if row is None else _public(row)

    def list_keys(self) -> list[ApiKeyPublic]:
        """Every key's name, role, hub and state (never its hash)."""
        with self.engine.connect() as conn:
            return [_public(row) for row in conn.execute(select(*_KEY_COLUMNS).order_by(api_keys.c.name))]

    def revoke_key(self, name: str, actor: str) -> bool:
        """Deactivate a key and every bearer token issued for it; False when no active key has that name."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(api_keys).where(api_keys.c.name == name, api_keys.c.active.is_(True)).values(active=False)
            ).rowcount == 1
            if done:
                conn.execute(update(sessions).where(sessions.c.key_name == name).values(revoked=True))
                write_audit(conn, actor, "revoke_api_key", None, {"name": name})
            return done

    def open_session(self, key_name: str, ttl: timedelta, purpose: str = "token") -> tuple[str, datetime]:
        """A new random bearer token for an active key, valid for ``ttl``; the token is returned once."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(token_hash=token_digest(token), key_name=key_name, created_at=now,
                                                  expires_at=now + ttl, revoked=False))
            write_audit(conn, key_name, "sign_in", None, {"via": purpose, "ttl_s": ttl.total_seconds()})
        return token, now + ttl

    def close_session(self, token: str) -> bool:
        with self.engine.begin() as conn:
            row = conn.execute(select(sessions.c.key_name).where(sessions.c.token_hash == token_digest(token),
                                                                 sessions.c.revoked.is_(False))).first()
            if row is None:
                return False
            conn.execute(update(sessions).where(sessions.c.token_hash == token_digest(token)).values(revoked=True))
            write_audit(conn, row.key_name, "sign_out", None, {})
            return True

    def principal(self, token: str) -> KeyHolder | None:
        """Who an API key or a live bearer token belongs to (name, role, hub_id, via key or token), or None."""
        digest = token_digest(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_KEY_COLUMNS).where(api_keys.c.token_hash == digest, api_keys.c.active.is_(True))
            ).first()
            if row is not None:
                return _holder(row, "key")
            row = conn.execute(
                select(*_KEY_COLUMNS).join(sessions, sessions.c.key_name == api_keys.c.name)
                .where(sessions.c.token_hash == digest, sessions.c.revoked.is_(False),
                       sessions.c.expires_at > datetime.now(UTC), api_keys.c.active.is_(True),
                       # belt and braces: a token opened before its key was (re-)issued came from another key
                       sessions.c.created_at >= api_keys.c.created_at)
            ).first()
            return None if row is None else _holder(row, "token")
