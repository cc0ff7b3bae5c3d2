"""What keeps ``memscore ui`` to its user: loopback-only by default, a token on any other address, CSRF tokens.

On loopback without a token, only ``Host: 127.0.0.1`` / ``localhost`` is answered (a page elsewhere cannot
rebind a name of its own to this port and read it). With a token, a request carries it once as ``?token=``
(answered with an HttpOnly, SameSite=Strict cookie and a redirect to the same page without it), then in the
cookie, or as ``Authorization: Bearer``. Every POST carries the page's CSRF token and, when the browser sends
an ``Origin``, comes from this server's own origin.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "memscore_ui_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to bind) is reachable from this machine only."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    """The server's secrets: ``token`` (None: none needed) and the CSRF token its pages embed."""

    token: str | None
    loopback_only: bool
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def for_host(cls, host: str, token: str | None) -> Guard:
        """Loopback needs no token unless one is given; any other address gets the given one or a new one."""
        loopback = is_loopback(host)
        return cls(token=token or (None if loopback else secrets.token_urlsafe(24)), loopback_only=loopback)

    def csrf_ok(self, request: Request, submitted: str | None) -> bool:
        """Whether a POST carries this server's CSRF token and no foreign ``Origin``."""
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            return False
        return submitted is not None and secrets.compare_digest(submitted, self.csrf)


class GuardMiddleware:
    """Refuses requests to a foreign ``Host`` (loopback without a token) and requests without the token."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._refusal(request)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        guard = self.guard
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if guard.loopback_only and guard.token is None and host not in LOOPBACK_NAMES:
            return PlainTextResponse(f"error: host {host!r} is not this machine's loopback address", status_code=400)
        if guard.token is None:
            return None
        given = request.query_params.get("token")
        if given is not None and secrets.compare_digest(given, guard.token):
            return _remember(request.url, guard.token)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        for candidate in (request.cookies.get(COOKIE), bearer):
            if candidate and secrets.compare_digest(candidate, guard.token):
                return None
        return PlainTextResponse("error: this memscore ui needs its token: open the URL it printed at start "
                                 "(…/?token=…)", status_code=401)


def _remember(url: URL, token: str) -> Response:
    """Redirect to ``url`` without its ``token`` parameter, setting the token cookie."""
    query = urlencode([pair for pair in parse_qsl(url.query, keep_blank_values=True) if pair[0] != "token"])
    response = RedirectResponse(url.path + (f"?{query}" if query else ""), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response
