"""ASGI guards in front of every route: bounded bodies read only after authentication, same-site cookie posts,
and the security headers on every response.

They run before FastAPI reads a body, which is the point: a 15 MB JSON body used to be parsed (2.9 s, +117 MB,
``/livez`` waiting) before anyone asked who sent it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoring.api.deps import SESSION_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EARLY_AUTH_BYTES = 16 * 1024  # API bodies are small JSON objects: a bigger one is read only for a known caller
PAGE_FORMS = frozenset({"/login", "/logout"})  # posted by the pages' forms, with or without a session cookie

# The pages' own scripts carry the request's nonce; inline style attributes are allowed (they cannot run code).
PAGE_POLICY = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI and ReDoc load their bundles from jsDelivr and start with an inline script.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
               "worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'")
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class BodyLimit:
    """413 for a body over ``max_bytes`` (declared or streamed) before it is parsed; and an API body over
    ``EARLY_AUTH_BYTES`` is read only once its bearer token or cookie is known (``authenticated``)."""

    def __init__(self, app: ASGIApp, max_bytes: int, authenticated: Callable[[str], bool]) -> None:
        self.app, self.max_bytes, self.authenticated = app, max_bytes, authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        try:
            length = int(declared) if declared is not None else None
        except ValueError:
            await _problem(400, "Content-Length is not a number")(scope, receive, send)
            return
        if length is not None and length > self.max_bytes:
            await _problem(413, f"the body is {length} bytes; at most {self.max_bytes} are accepted")(
                scope, receive, send)
            return
        if scope["path"].startswith("/api/") and (length is None or length > EARLY_AUTH_BYTES):
            token = _credentials(headers)
            if not token or not await anyio.to_thread.run_sync(self.authenticated, token):
                await _problem(401, "a body this large is read only from a signed-in caller: send "
                                    "`Authorization: Bearer <API key or token>`", {"WWW-Authenticate": "Bearer"})(
                    scope, receive, send)
                return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # a body sent without (or beyond) its Content-Length
                    raise HTTPException(413, f"the body is over {self.max_bytes} bytes, the most accepted")
            return message

        return counted


def _credentials(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None


class SameSiteCookiePosts:
    """A request that changes something on the strength of the sign-in cookie must come from this site's own
    pages: its Origin (or, without one, its Referer) must name this host. Bearer-token calls are not
    cross-site forgeable (a browser never adds the header by itself) and pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        by_cookie = "authorization" not in headers and f"{SESSION_COOKIE}=" in headers.get("cookie", "")
        if (by_cookie or scope["path"] in PAGE_FORMS) and not _same_site(headers):
            await _problem(403, "refused: a signed-in page may only post from this site (its Origin or Referer "
                                "must name this host); programs send `Authorization: Bearer …` instead")(
                scope, receive, send)
            return
        await self.app(scope, receive, send)


def _same_site(headers: Headers) -> bool:
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == headers.get("host", "").lower()


class SecurityHeaders:
    """CSP (with a per-request script nonce the templates read as ``request.state.csp_nonce``), no sniffing,
    no framing, and no referrer sent to other sites, on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else PAGE_POLICY.format(nonce=nonce)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", policy)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("referrer-policy", "same-origin")
            await send(message)

        await self.app(scope, receive, with_headers)
