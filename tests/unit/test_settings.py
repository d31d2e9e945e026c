"""server/settings.py (the one definition of serve's options and its TOML file), server/logs.py's
JSON formatter and server/tls.py's checks, in-process; the real server tests are in tests/server."""

from __future__ import annotations

import json
import logging
import sys
import tomllib

import pytest

from policy_engine.server import settings
from policy_engine.server.config import DEFAULT_MAX_BODY, DEFAULT_PORT
from policy_engine.server.logs import JsonFormatter
from policy_engine.server.tls import TLSError, check


def test_every_option_has_a_key_a_variable_a_default_and_help():
    for o in settings.OPTIONS:
        assert o.key == o.name.replace("_", "-") and o.env == "POLICY_ENGINE_" + o.name.upper()
        assert o.help.endswith((".", ")")), o.name
    assert settings.BY_NAME["port"].default == DEFAULT_PORT and settings.BY_NAME["port"].maximum == 65535
    assert settings.BY_NAME["max_body"].kind == "size" and settings.BY_NAME["max_body"].default == DEFAULT_MAX_BODY
    assert settings.BY_NAME["log_format"].choices == ("text", "json")
    assert settings.BY_NAME["watch"].kind == "bool" and settings.BY_NAME["watch"].flags == "--watch/--no-watch"
    assert settings.BY_NAME["ssl_keyfile_password"].secret


def test_a_file_is_validated_and_its_paths_resolved_against_its_folder(tmp_path):
    conf = tmp_path / "etc" / "serve.toml"
    conf.parent.mkdir()
    conf.write_text('policy = "p.policy"\nmax-body = "2MiB"\nmax-header-size = 2048\ndecision-log = "-"\n'
                    "request-timeout = 2\n")
    loaded = settings.load_file(str(conf))
    assert loaded.values == {"policy": str(conf.parent / "p.policy"), "max_body": 2 << 20, "max_header_size": 2048,
                             "decision_log": "-", "request_timeout": 2.0}
    assert loaded.where("max_body") == f"{conf}:2"


@pytest.mark.parametrize("text, message", [
    (b"port = 1.5\n", "port = 1.5: expected an integer, got a float"),
    (b"max-body = 10\n", "max-body = 10: must be greater than or equal to 1024"),
    (b"max-body = true\n", "max-body = true: expected a size"),
    (b"\n\nhots = 1\n", ":3: unknown option `hots` (did you mean `host`?)"),
    (b"log-format = \"JSON\"\n", 'expected "text" or "json", got a string'),
    (b"\xff\xfe", "not UTF-8 text"),
])
def test_bad_files(tmp_path, text, message):
    conf = tmp_path / "serve.toml"
    conf.write_bytes(text)
    with pytest.raises(settings.SettingsError) as err:
        settings.load_file(str(conf))
    assert message in str(err.value)


def test_a_folder_is_not_a_config_file(tmp_path):
    with pytest.raises(settings.SettingsError, match="is a folder; name a TOML file"):
        settings.load_file(str(tmp_path))


def test_the_effective_configuration_is_a_config_file(tmp_path):
    values = settings.ServeSettings.model_validate(
        {"policy": "p.policy", "max-body": 3 << 20, "ssl-keyfile-password": "hush"}).model_dump()
    text = settings.render_effective(values, {"max_body": "command line"})
    assert "hush" not in text and "# ssl-keyfile-password is set (hidden)" in text
    conf = tmp_path / "printed.toml"
    conf.write_text(text)
    assert settings.load_file(str(conf)).values["max_body"] == 3 << 20
    assert tomllib.loads(text)["max-body"] == "3MiB"


def test_json_formatter_one_object_per_record_with_the_access_fields():
    fmt = JsonFormatter()
    record = logging.LogRecord("policy_engine.access", logging.INFO, __file__, 1, "POST %s %d", ("/v1/decide", 200),
                               None)
    record.request_id, record.status = "r1", 200
    out = json.loads(fmt.format(record))
    assert out["message"] == "POST /v1/decide 200" and out["level"] == "info" and out["request_id"] == "r1"
    assert out["time"].endswith("Z") and "method" not in out
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failed = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = fmt.format(failed)
    assert "\n" not in line and "RuntimeError: boom" in json.loads(line)["exception"]


def test_tls_check_reads_nothing_it_cannot_use(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(TLSError, match="is not PEM"):
        check(str(empty), None, None)
    encrypted = tmp_path / "enc.pem"
    encrypted.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
    with pytest.raises(TLSError, match="the key is encrypted; give its password"):  # never a terminal prompt
        check(str(encrypted), None, None)
