"""Bearer tokens. A token file holds one token per line (blank lines and `#` comments ignored).

Decision and policy endpoints: open unless `--token-file` is given (admin tokens work there too). Admin endpoints: always
need a token, from `--admin-token-file` (or `--token-file` when that is not given); with no
token file at all they refuse every request (403), since there is nothing to check against.
As RFC 6750 section 3.1 says: missing or malformed credentials -> 401 with `WWW-Authenticate:
Bearer realm=...`; a token that is not known -> 401 with `error="invalid_token"` in the
challenge; a known token of another scope (a decision token on an admin endpoint) -> 403
`insufficient_scope`.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from starlette.requests import Request

from policy_engine.server.errors import ApiError

_REALM = 'Bearer realm="policy-engine"'
_CHALLENGE = {"WWW-Authenticate": _REALM}


def read_token_file(path: str) -> frozenset[str]:
    """Raises ValueError when the file cannot be read or holds no token."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read token file {path}: {err}") from None
    tokens = frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    if not tokens:
        raise ValueError(f"token file {path} holds no token (one per line)")
    bad = [t for t in tokens if any(c.isspace() for c in t) or not t.isprintable()]
    if bad:
        raise ValueError(f"token file {path}: a token may not contain spaces or control characters")
    return tokens


class TokenCheck:
    """`check(request)` raises ApiError 401/403 unless the request carries one of the tokens."""

    def __init__(self, tokens: frozenset[str] | None, *, required: bool, scope: str,
                 other_scopes: frozenset[str] = frozenset()):
        self.tokens = tokens
        self.other_scopes = frozenset(t.encode("utf-8") for t in other_scopes) - frozenset(
            t.encode("utf-8") for t in tokens or ())
        self.required = required  # refuse even when no token is configured (admin)
        self.scope = scope

    @property
    def open(self) -> bool:
        return not self.tokens and not self.required

    def check(self, request: Request) -> None:
        if self.open:
            return
        self.check_header(request.headers.get("authorization"))

    def check_header(self, header: str | None) -> None:
        """The same check on the Authorization header's value (latin-1 text, as ASGI servers decode it)."""
        if self.open:
            return
        if not self.tokens:
            raise ApiError(403, "auth.disabled", f"{self.scope} endpoints are disabled: start the server with "
                           "--admin-token-file or --token-file to enable them")
        if header is None:
            raise ApiError(401, "auth.missing_token", f"{self.scope} endpoints need `Authorization: Bearer TOKEN`",
                           headers=_CHALLENGE)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "auth.malformed", "the Authorization header must be `Bearer TOKEN`",
                           headers=_CHALLENGE)
        # Header values reach us as latin-1 text (one char per byte sent); the bytes sent are what
        # the client typed in UTF-8, so compare bytes with bytes: a non-ASCII token then matches.
        try:
            presented = token.encode("latin-1")
        except UnicodeEncodeError:  # not a header as the server received it: cannot be a token
            presented = b""
        matched = False
        for known in self.tokens:  # compare with every token, so timing does not tell which one is close
            matched |= hmac.compare_digest(presented, known.encode("utf-8"))
        if not matched:
            if presented in self.other_scopes:
                raise ApiError(403, "auth.insufficient_scope", f"this token is not valid for {self.scope} endpoints",
                               headers={"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", '
                                                            f'scope="{self.scope}"'})
            raise ApiError(401, "auth.invalid_token", "this token is not accepted here",
                           headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'})
