"""Scoped tokens for the subject endpoints. Subject data is personal data, so these endpoints are
closed unless a subject token file is configured (POLICY_ENGINE_SUBJECT_TOKENS); the decision
tokens of the server do not open them.

The file: one token per line followed by its scopes, `subjects:read` and/or `subjects:write`
(`#` comments and blank lines ignored):

    s3cr3t-reader  subjects:read
    s3cr3t-writer  subjects:read subjects:write
"""

from __future__ import annotations

import hmac
from pathlib import Path

from policy_engine.subjects.model import SubjectError

SCOPES = ("subjects:read", "subjects:write")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="policy-engine"'}


class AuthError(SubjectError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(code, message, None)
        self.status = status
        self.headers = CHALLENGE if status == 401 else None


def read_scoped_tokens(path: str) -> dict[str, frozenset[str]]:
    """Raises ValueError naming the file and line for anything it cannot read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read subject token file {path}: {err}") from None
    tokens: dict[str, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        token, scopes = words[0], words[1:]
        unknown = [s for s in scopes if s not in SCOPES]
        if not scopes or unknown:
            raise ValueError(f"{path}:{number}: a line is a token and its scopes ({' and/or '.join(SCOPES)}); "
                             f"got {' '.join(unknown) or 'no scope'}")
        if not token.isprintable():
            raise ValueError(f"{path}:{number}: a token may not contain control characters")
        tokens[token] = frozenset(scopes)
    if not tokens:
        raise ValueError(f"subject token file {path} holds no token")
    return tokens


class ScopeCheck:
    def __init__(self, tokens: dict[str, frozenset[str]] | None):
        self.tokens = tokens or {}

    def check(self, authorization: str | None, scope: str) -> None:
        if not self.tokens:
            raise AuthError(403, "auth.disabled", "subject endpoints are disabled: set POLICY_ENGINE_SUBJECT_TOKENS "
                            "to a token file with subjects:read / subjects:write scopes")
        if authorization is None:
            raise AuthError(401, "auth.missing_token", "subject endpoints need `Authorization: Bearer TOKEN`")
        kind, _, token = authorization.partition(" ")
        token = token.strip()
        if kind.lower() != "bearer" or not token:
            raise AuthError(401, "auth.malformed", "the Authorization header must be `Bearer TOKEN`")
        encoded = token.encode("utf-8", "surrogateescape")
        granted: frozenset[str] = frozenset()
        for known, scopes in self.tokens.items():  # compare with every token: timing does not tell which is close
            if hmac.compare_digest(encoded, known.encode("utf-8")):
                granted = scopes
        if not granted:
            raise AuthError(401, "auth.invalid_token", "this token is not accepted here")
        if scope not in granted:
            raise AuthError(403, "auth.insufficient_scope", f"this endpoint needs the scope {scope}")
