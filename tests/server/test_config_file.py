"""`serve` options from a TOML config file and POLICY_ENGINE_* variables, with flag > environment >
file > default: shown by `--print-config` (itself a config file `--config` reads back), bad files
refused with the file, line, key and fix, and a real server (two workers) configured by a file
alone."""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from policy_engine.server import settings

from .conftest import OPEN_E, REPO, SCRIPT, free_port

pytestmark = pytest.mark.slow  # starts server processes


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_ENGINE_")}
    return subprocess.run([str(SCRIPT), "serve", *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**clean, **(env or {})})


def sources(printed: str) -> dict[str, str]:
    """key -> where its value came from: the comment on each `key = value  # source` line of --print-config."""
    pairs = (line.split(" # ", 1) for line in printed.splitlines() if not line.startswith("#"))
    return {body.split("=")[0].strip(): comment.strip() for body, comment in pairs}


def test_precedence_flag_over_environment_over_file_over_default(tmp_path):
    conf = tmp_path / "serve.toml"
    conf.write_text(f'# the service\npolicy = "{OPEN_E}"\nport = 9000\nmax-batch = 50\n'
                    'max-body = "2MiB"\nwatch = true\nlog-format = "json"\n')
    out = run("--config", str(conf), "--print-config", "--max-batch", "7",
              env={"POLICY_ENGINE_PORT": "9100", "POLICY_ENGINE_WATCH": "false", "POLICY_ENGINE_MAX_BATCH": "8"})
    assert out.returncode == 0, out.stderr
    values = tomllib.loads(out.stdout)
    assert values["max-batch"] == 7 and values["port"] == 9100 and values["watch"] is False
    assert values["max-body"] == "2MiB" and values["log-format"] == "json" and values["policy"] == str(OPEN_E)
    assert values["host"] == "127.0.0.1" and values["workers"] == 1
    where = sources(out.stdout)
    assert where["max-batch"] == "command line"
    assert where["port"] == "environment POLICY_ENGINE_PORT"
    assert where["watch"] == "environment POLICY_ENGINE_WATCH"
    assert where["max-body"] == f"config file {conf}:5"
    assert where["policy"] == f"config file {conf}:2"
    assert where["host"] == "default"
    # what it printed is a config file: read back, it gives the same configuration
    again = tmp_path / "printed.toml"
    again.write_text(out.stdout)
    back = run("--config", str(again), "--print-config")
    assert back.returncode == 0, back.stderr
    assert tomllib.loads(back.stdout) == values


def test_the_config_file_comes_from_the_environment_and_paths_in_it_are_relative_to_it(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "serve.toml").write_text('policy = "policies/main.policy"\ndecision-log = "../state/log.sqlite3"\n'
                                       'token-file = "tokens"\n')
    out = run("--print-config", env={"POLICY_ENGINE_CONFIG": str(folder / "serve.toml")}, cwd=tmp_path)
    values = tomllib.loads(out.stdout)
    assert values["policy"] == str(folder / "policies" / "main.policy")
    assert values["decision-log"] == str(tmp_path / "state" / "log.sqlite3")
    assert values["token-file"] == str(folder / "tokens")


def test_bad_files_name_the_file_the_line_the_key_and_the_fix(tmp_path):
    conf = tmp_path / "serve.toml"
    conf.write_text('port = "8181"\nmax_body = 10\nmax-batch = 0\ndecision-log-mode = "fast"\n'
                    'max-header-size = "lots"\nwatch = 1\n[serve]\nport = 1\n')
    out = run("--config", str(conf), "policies/open_e.policy")
    assert out.returncode == 2
    error = out.stderr.split("Error: ", 1)[1]
    assert error.splitlines() == [
        f'{conf}:1: port = "8181": expected an integer, got a string (default: 8181)',
        f"{conf}:2: unknown option `max_body` (did you mean `max-body`?); every option is listed by "
        "`policy-engine serve --help` and in docs/operations.md",
        f"{conf}:3: max-batch = 0: must be greater than or equal to 1 (default: 1000)",
        f'{conf}:4: decision-log-mode = "fast": expected "buffered" or "audit", got a string (default: "buffered")',
        f'{conf}:5: max-header-size = "lots": not a size (write 1048576, "512KiB" or "1MiB") (default: "16KiB")',
        f"{conf}:6: watch = 1: expected true or false, got an integer (default: false)",
        f"{conf}:7: unknown option `serve` (the options are keys at the top level of the file, not in a table); "
        "every option is listed by `policy-engine serve --help` and in docs/operations.md",
    ]
    conf.write_text("port = \n")
    out = run("--config", str(conf), "policies/open_e.policy")
    assert out.returncode == 2 and f"config file {conf}: not valid TOML: Invalid value (at line 1, column 8)" in out.stderr
    out = run("--config", str(tmp_path / "missing.toml"), "policies/open_e.policy")
    assert out.returncode == 2 and f"config file {tmp_path / 'missing.toml'}: no such file" in out.stderr
    for out in (run("--config", str(conf)), run("--config", str(tmp_path / "missing.toml"))):
        assert "Traceback" not in out.stderr


def test_bad_environment_values_name_the_variable(tmp_path):
    out = run("policies/open_e.policy", env={"POLICY_ENGINE_PORT": "70000"})
    assert out.returncode == 2
    assert "Invalid value for '--port' (env var: 'POLICY_ENGINE_PORT'): 70000 is not in the range 0<=x<=65535" \
        in out.stderr
    out = run("policies/open_e.policy", env={"POLICY_ENGINE_MAX_BODY": "lots"})
    assert out.returncode == 2 and "(env var: 'POLICY_ENGINE_MAX_BODY')" in out.stderr and "not a size" in out.stderr
    out = run("--print-config", env={"POLICY_ENGINE_PROT": "9000", "POLICY_ENGINE_SERVER_CONFIG": "{}"})
    assert out.returncode == 0 and tomllib.loads(out.stdout)["port"] == 8181
    assert out.stderr == ("policy-engine serve: POLICY_ENGINE_PROT is set but is no option of serve; did you mean "
                          "POLICY_ENGINE_PORT? (ignored)\n")  # and nothing about the internal variable
    out = run()
    assert out.returncode == 2
    assert "no policy to serve: name it (`policy-engine serve FILE`), or set POLICY_ENGINE_POLICY" in out.stderr


def test_contradicting_options_the_higher_source_wins(tmp_path):
    conf = tmp_path / "serve.toml"
    conf.write_text("no-decision-log = true\n")
    out = run("--config", str(conf), "--decision-log", str(tmp_path / "d.sqlite3"), "--print-config",
              "policies/open_e.policy")
    values = tomllib.loads(out.stdout)
    assert values["decision-log"] == str(tmp_path / "d.sqlite3") and values["no-decision-log"] is False
    out = run("--decision-log", "x", "--no-decision-log", "policies/open_e.policy")
    assert out.returncode == 2
    assert "--decision-log (from command line) and --no-decision-log (from command line) contradict" in out.stderr


def test_every_option_of_serve_comes_from_the_one_definition():
    from policy_engine.cli.serve import serve

    names = {p.name for p in serve.params} - {"config_file", "print_config", "help"}
    assert names == {o.name for o in settings.OPTIONS}
    for p in serve.params:
        if p.name in names:
            assert p.envvar == settings.BY_NAME[p.name].env


def test_a_server_configured_by_a_file_alone_with_two_workers(tmp_path):
    """Each worker process gets the same configuration: every connection, whichever worker takes
    it, refuses a batch larger than the file's max-batch and serves on the file's port."""
    port = free_port()
    policy = tmp_path / "p.policy"
    policy.write_bytes(OPEN_E.read_bytes())
    conf = tmp_path / "serve.toml"
    conf.write_text(f'policy = "p.policy"\nport = {port}\nworkers = 2\nmax-batch = 2\n'
                    'decision-log = "decisions.sqlite3"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_ENGINE_")}
    with open(tmp_path / "err", "wb") as err:
        proc = subprocess.Popen([str(SCRIPT), "serve"], env={**env, "POLICY_ENGINE_CONFIG": str(conf)},
                                stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "err").read_text()
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "err").read_text()
            time.sleep(0.05)
        q = {"action": "collect", "data": "email", "source": "contact", "facts": []}
        for _ in range(20):  # a new connection each time: both workers answer some
            assert httpx.post(url + "/v1/decide/batch", json={"queries": [q] * 3}).status_code == 413
            assert httpx.post(url + "/v1/decide/batch", json={"queries": [q] * 2}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0
    assert (tmp_path / "decisions.sqlite3").exists()  # relative to the file's folder
    err = (tmp_path / "err").read_text()
    assert err.count("Started server process") == 2 and "Traceback" not in err
