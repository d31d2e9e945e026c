"""Every endpoint of the OpenAPI document declares a typed schema for each response it documents,
and what the real server sends validates against it (issue 13 item 2)."""

from __future__ import annotations

from typing import Any

import jsonschema

from .conftest import assert_clean_log

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}


def _validator(doc: dict[str, Any], ref: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**ref, "components": doc["components"]})


def test_every_documented_response_has_a_schema(server):
    with server.client() as http:
        doc = http.get("/openapi.json").json()
    untyped = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                content = response.get("content")
                if status == "304":
                    assert not content, "a 304 has no body"
                    continue
                if not content or not all(v.get("schema") for v in content.values()):
                    untyped.append(f"{method.upper()} {path} {status}")
    assert untyped == []


def test_the_answers_match_their_schemas(server):
    with server.client() as http:
        doc = http.get("/openapi.json").json()
        asked = [("post", "/v1/decide", {"json": Q}), ("post", "/v1/decide/batch", {"json": {"queries": [Q, "x"]}}),
                 ("post", "/v1/explain", {"json": Q}), ("get", "/v1/policy", {}), ("get", "/v1/terms", {}),
                 ("get", "/v1/map", {"params": {"data": "email", "purpose": "marketing", "recipient": "public"}}),
                 ("get", "/v1/map", {"params": {"no_consent": "true"}}), ("get", "/healthz", {}),
                 ("get", "/readyz", {}), ("post", "/v1/decide", {"json": {**Q, "data": "emial"}}),
                 ("get", "/v1/map", {})]
        for method, path, kw in asked:
            r = http.request(method.upper(), path, **kw)
            declared = doc["paths"][path][method]["responses"][str(r.status_code)]
            schema = declared["content"]["application/json"]["schema"]
            errors = [e.message for e in _validator(doc, schema).iter_errors(r.json())]
            assert errors == [], (method, path, r.status_code, errors[:3])
    assert_clean_log(server)
