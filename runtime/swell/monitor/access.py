"""Who may read and who may act: bearer-token (or login cookie) checks and the read-only switch."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "swell_token"
# Browsers cannot add a custom header to a cross-site form post, so asking for one on
# cookie-authenticated actions stops cross-site request forgery without CSRF tokens.
ACTION_HEADER = "x-requested-with"
ACTION_HEADER_VALUE = "swell"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Denied(Exception):
    """A request is not allowed; ``status`` is 401 (who are you) or 403 (not this)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def same_origin(request: Request) -> bool:
    """No Origin header (not a browser), or an Origin naming the host the request was sent to."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


@dataclass(frozen=True, slots=True)
class Access:
    token: str | None = None
    read_only: bool = False

    def check(self, request: Request, *, action: bool = False) -> None:
        """Raise Denied unless the request may go on; ``action`` marks requests that change jobs."""
        via = self._authenticate(request)
        if request.method not in SAFE_METHODS and not same_origin(request):
            # Browsers always send Origin on cross-site posts; curl and scripts send none.
            raise Denied(403, "cross-origin request refused: actions must come from the dashboard's "
                              "own origin or from a non-browser client")
        if action and self.read_only:
            raise Denied(403, "the admin API is in read-only mode: actions are disabled")
        if (via == "cookie" and request.method not in SAFE_METHODS
                and request.headers.get(ACTION_HEADER) != ACTION_HEADER_VALUE):
            raise Denied(403, f"cookie-authenticated actions need the header "
                              f"'{ACTION_HEADER}: {ACTION_HEADER_VALUE}'")

    def token_matches(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def _authenticate(self, request: Request) -> str:
        if self.token is None:
            return "open"
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise Denied(401, "use 'Authorization: Bearer <token>'")
            if not self.token_matches(value.strip()):
                raise Denied(401, "invalid bearer token")
            return "header"
        cookie = request.cookies.get(COOKIE)
        if cookie is not None and self.token_matches(cookie):
            return "cookie"
        raise Denied(401, "authentication required: send 'Authorization: Bearer <token>'")
