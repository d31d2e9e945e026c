"""Request limits and token checks on their own: nesting depth is measured without recursion,
hostile JSON is a 400 with a code, token files and bearer headers are checked strictly."""

from __future__ import annotations

import pytest

from policy_engine.server.auth import TokenCheck, read_token_file
from policy_engine.server.config import parse_size
from policy_engine.server.errors import ApiError
from policy_engine.server.limits import parse_json, too_deep


def test_depth_ignores_brackets_inside_strings():
    assert not too_deep('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 2)
    assert too_deep("[" * 50 + "]" * 50, 32) and not too_deep("[" * 32 + "]" * 32, 32)
    assert too_deep('{"q": [{"f": ["x"]}]}', 3) and not too_deep('{"q": [{"f": ["x"]}]}', 4)
    assert not too_deep('["\\"[[[[", ' + "[" * 5 + "]" * 5 + "]", 6)  # an escaped quote stays inside the string
    assert too_deep('["\\"[[[[", ' + "[" * 5 + "]" * 5 + "]", 5)


@pytest.mark.parametrize("body, code", [
    (b"", "query.invalid_json"),
    (b"   ", "query.invalid_json"),
    (b"{", "query.invalid_json"),
    (b'{"a": NaN}', "query.invalid_json"),
    (b'{"a": -Infinity}', "query.invalid_json"),
    (b"\xff\xfe{}", "query.invalid_json"),
    (b'{"a": ' + b"9" * 5000 + b"}", "query.invalid_json"),
    (b"[" * 100_000, "request.too_deep"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "request.too_deep"),
])
def test_hostile_json_is_a_400_with_a_code(body, code):
    with pytest.raises(ApiError) as err:
        parse_json(body, 32)
    assert err.value.status == 400 and err.value.code == code


def test_parse_json_takes_ordinary_queries():
    assert parse_json(b'{"action": "use", "data": "email", "facts": []}', 32)["facts"] == []


def test_sizes():
    assert parse_size("1MiB") == 1 << 20 and parse_size("512KiB") == 512 * 1024 and parse_size("2048") == 2048
    with pytest.raises(ValueError):
        parse_size("lots")


class _Req:
    def __init__(self, auth: str | None):
        self.headers = {} if auth is None else {"authorization": auth}


def test_tokens(tmp_path):
    f = tmp_path / "tokens"
    f.write_text("# a comment\n\n  s3cret-1  \nother\n")
    assert read_token_file(str(f)) == {"s3cret-1", "other"}
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(ValueError):
        read_token_file(str(tmp_path / "empty"))
    with pytest.raises(ValueError):
        read_token_file(str(tmp_path / "missing"))

    check = TokenCheck(frozenset({"s3cret-1"}), required=True, scope="admin")
    check.check(_Req("Bearer s3cret-1"))
    check.check(_Req("bearer   s3cret-1"))
    for header, status in ((None, 401), ("Basic abc", 401), ("Bearer", 401), ("Bearer wrong", 401),
                           ("Bearer s3cret-1x", 401), ("Bearer \udcff", 401)):
        with pytest.raises(ApiError) as err:
            check.check(_Req(header))
        assert err.value.status == status, header

    TokenCheck(None, required=False, scope="decision").check(_Req(None))  # open
    with pytest.raises(ApiError) as err:
        TokenCheck(None, required=True, scope="admin").check(_Req("Bearer anything"))
    assert err.value.status == 403 and err.value.code == "auth.disabled"


def test_a_non_ascii_token_matches_as_the_client_sends_it(tmp_path):
    """Regression (issue 15 item 7): header values arrive as latin-1 text, one char per byte; a
    UTF-8 token from the file must match the same token sent by a client (its UTF-8 bytes)."""
    f = tmp_path / "tokens"
    f.write_text("tökén-ü-🎉\n", encoding="utf-8")
    check = TokenCheck(read_token_file(str(f)), required=True, scope="admin")
    check.check(_Req("Bearer " + "tökén-ü-🎉".encode("utf-8").decode("latin-1")))  # as starlette hands it over
    for wrong in ("tökén-ü-🎉", "tokén-ü-🎉".encode("utf-8").decode("latin-1")):  # not bytes as sent; another token
        with pytest.raises(ApiError) as err:
            check.check(_Req("Bearer " + wrong))
        assert err.value.status == 401 and err.value.code == "auth.invalid_token"
