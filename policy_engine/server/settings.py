"""The options of `policy-engine serve`, defined once: `ServeSettings` (a pydantic model).

From this one definition come the command-line flags (cli/serve_options.py builds the click
options from it), the `POLICY_ENGINE_*` environment variables, the keys of the TOML config file,
its validation, `--print-config` and the configuration reference in docs/operations.md (checked by
tests/docs/test_operations_reference.py). Precedence, per option: flag > environment > config
file > default (click's own order for command line, envvar and default_map).

The file is flat TOML, its keys the flags' names without the dashes (`max-body = "2MiB"`), read
with `tomllib` and validated strictly (a port written as a string is an error, not a guess); paths
in it are relative to the file's folder. Every error names the file, the line and the key.
pydantic-settings is not used: click already reads flags and environment variables and reports
where each value came from, and its TOML source has no line numbers to report.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from policy_engine.server import config as c

ENV_PREFIX = "POLICY_ENGINE_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"


def _size(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return c.parse_size(value)
        except ValueError:
            raise ValueError("not a size (write 1048576, \"512KiB\" or \"1MiB\")") from None
    return value


class SizeMarker:
    """Marks a byte size: an integer, or a string such as "512KiB" or "2MiB"."""


Size = Annotated[int, BeforeValidator(_size), SizeMarker()]


def _opt(default: Any, help: str, *, metavar: str | None = None, path: bool = False, secret: bool = False,
         flag: str | None = None, **constraints: Any) -> Any:
    extra = {"metavar": metavar, "path": path, "secret": secret, "flag": flag}
    return Field(default, description=help, json_schema_extra={k: v for k, v in extra.items() if v}, **constraints)


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class ServeSettings(BaseModel):
    """Every option of `serve`; the field order is the order of `--help` and of the reference."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=_kebab, validate_by_name=False)

    policy: str | None = _opt(None, "The policy file to serve (the POLICY argument).", metavar="FILE", path=True)
    host: str = _opt(c.DEFAULT_HOST, "Address to listen on.")
    port: int = _opt(c.DEFAULT_PORT, "Port to listen on (0: any free port).", ge=0, le=65535)
    workers: int = _opt(1, "Processes; each loads the policy and answers on the same port.", ge=1, le=64)
    decision_log: str | None = _opt(
        None, "SQLite file for the decision log (WAL mode), or `-` for JSON lines on stdout. "
              "Default: $XDG_STATE_HOME/policy-engine/decisions.sqlite3 (~/.local/state when unset).",
        metavar="PATH|-", path=True)
    no_decision_log: bool = _opt(False, "Do not log decisions.", flag="--no-decision-log")
    decision_log_mode: Literal["buffered", "audit"] = _opt(
        "buffered", "buffered: answer at once, the row is committed moments later (a crash loses the rows not "
                    "yet committed). audit: answer only once the row is committed (group commit, fsync).")
    token_file: str | None = _opt(
        None, "Bearer tokens (one a line) required by the decision endpoints; also admin tokens unless "
              "--admin-token-file is given.", metavar="FILE", path=True)
    admin_token_file: str | None = _opt(
        None, "Bearer tokens for the admin endpoints (POST /v1/admin/reload). Without any token file "
              "the admin endpoints refuse every request.", metavar="FILE", path=True)
    subject_store: str | None = _opt(None, "The subject store (consents and facts per data subject): a SQLite "
                                     "file or a postgresql:// URL; unset: no subject endpoints.", metavar="URL")
    subject_tokens: str | None = _opt(None, "Bearer tokens of the subject endpoints: a token and its scopes "
                                      "(subjects:read, subjects:write) a line; unset: those endpoints refuse "
                                      "every request.", metavar="FILE",
                                      path=True)
    watch: bool = _opt(False, "Reload when the policy file changes.")
    watch_interval: float = _opt(1.0, "Seconds between checks of the file with --watch.", ge=0.05, le=3600)
    watch_settle: float = _opt(c.DEFAULT_WATCH_SETTLE, "Seconds a changed policy file must stay unchanged "
                                                       "before a reload reads it.", ge=0.01, le=60)
    max_body: Size = _opt(c.DEFAULT_MAX_BODY, "Largest request body (bytes, or e.g. 512KiB, 2MiB); larger ones "
                                              "get 413.", ge=1024)
    max_batch: int = _opt(c.DEFAULT_MAX_BATCH, "Most queries in one batch request; more get 413.", ge=1,
                          le=1_000_000)
    request_timeout: float = _opt(c.DEFAULT_REQUEST_TIMEOUT, "Seconds a request may wait for its decisions; "
                                                             "past it, 503 with Retry-After.", ge=0.01, le=3600)
    decision_threads: int = _opt(c.DEFAULT_DECISION_THREADS, "Threads that compute decisions off the event "
                                                             "loop.", ge=1, le=256)
    max_connections: int = _opt(c.DEFAULT_MAX_CONNECTIONS, "Open connections at most; beyond it, 503 and "
                                                           "close.", ge=1, le=1_000_000)
    keep_alive_timeout: float = _opt(c.DEFAULT_KEEP_ALIVE, "Seconds an idle connection is kept open.", ge=0.1,
                                     le=3600)
    header_timeout: float = _opt(c.DEFAULT_HEADER_TIMEOUT, "Seconds a client has to send a request's headers.",
                                 ge=0.1, le=3600)
    body_timeout: float = _opt(c.DEFAULT_BODY_TIMEOUT, "Seconds a client has to send a request's body.", ge=0.1,
                               le=3600)
    max_header_size: Size = _opt(c.DEFAULT_MAX_HEADER_BYTES, "Largest request line and headers together; "
                                                             "larger gets 431.", ge=1024)
    max_headers: int = _opt(c.DEFAULT_MAX_HEADERS, "Most header lines in a request; more gets 431.", ge=1,
                            le=10_000)
    shutdown_timeout: float = _opt(c.DEFAULT_SHUTDOWN_TIMEOUT, "Seconds SIGTERM waits for the requests in "
                                   "flight to finish before it cancels them; the decision log is flushed "
                                   "either way.", ge=0, le=3600)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = _opt("info", "Server log level.")
    log_format: Literal["text", "json"] = _opt("text", "text: uvicorn's lines. json: one JSON object per line "
                                               "(time, level, logger, message; access lines add request_id, "
                                               "method, path, status, duration_ms).")
    access_log: bool = _opt(False, "Log every request (never a query's content or a subject id).")
    ssl_certfile: str | None = _opt(None, "Serve HTTPS with this PEM certificate (chain).", metavar="FILE",
                                    path=True)
    ssl_keyfile: str | None = _opt(None, "The certificate's PEM private key (default: in --ssl-certfile).",
                                   metavar="FILE", path=True)
    ssl_keyfile_password: str | None = _opt(None, "Password of an encrypted private key (prefer the "
                                            "environment or the config file to the command line).",
                                            metavar="TEXT", secret=True)


@dataclass(frozen=True)
class Option:
    """One field of ServeSettings as the CLI, the environment and the file see it."""

    name: str  # the Python name (ServeSettings.name, click's parameter name)
    key: str  # the config file's key
    env: str
    kind: str  # bool | int | float | size | choice | str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    metavar: str | None = None
    path: bool = False
    secret: bool = False
    flag: str | None = None

    @property
    def flags(self) -> str:
        """The command-line spelling (`--max-body`; `--watch/--no-watch` for a switch)."""
        if self.name == "policy":
            return "POLICY"
        if self.flag:
            return self.flag
        return f"--{self.key}/--no-{self.key}" if self.kind == "bool" else f"--{self.key}"

    def shown_default(self) -> str:
        if self.default is None:
            return "not set"
        if self.kind == "size":
            return format_size(self.default)
        return toml_value(self.default)


def _kind(annotation: Any, metadata: list[Any]) -> tuple[str, tuple[str, ...]]:
    if any(isinstance(m, SizeMarker) for m in metadata):
        return "size", ()
    base = annotation
    if get_origin(annotation) not in (Literal, Annotated):  # `X | None`: X
        base = next((a for a in get_args(annotation) if a is not type(None)), annotation)
    if get_origin(base) is Literal:
        return "choice", tuple(get_args(base))
    if get_origin(base) is Annotated:
        return _kind(get_args(base)[0], list(get_args(base)[1:]))
    return {bool: "bool", int: "int", float: "float"}.get(base, "str"), ()


def _options() -> tuple[Option, ...]:
    out = []
    for name, field in ServeSettings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        kind, choices = _kind(field.annotation, list(field.metadata))
        lo = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
        hi = next((m.le for m in field.metadata if isinstance(m, Le)), None)
        out.append(Option(name=name, key=_kebab(name), env=ENV_PREFIX + name.upper(), kind=kind,
                          default=field.default, help=field.description or "", choices=choices,
                          minimum=lo, maximum=hi, metavar=extra.get("metavar"), path=bool(extra.get("path")),
                          secret=bool(extra.get("secret")), flag=extra.get("flag")))
    return tuple(out)


OPTIONS = _options()
BY_NAME = {o.name: o for o in OPTIONS}
BY_KEY = {o.key: o for o in OPTIONS}


class SettingsError(ValueError):
    """A configuration that cannot be used; the message names the place, the key and the fix."""


# ---- the config file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileValues:
    path: str
    values: dict[str, Any]  # ServeSettings names -> validated values (paths resolved)
    lines: dict[str, int]  # ServeSettings names -> line of the key

    def where(self, name: str) -> str:
        line = self.lines.get(name)
        return f"{self.path}:{line}" if line else self.path


def _key_line(text: str, key: str) -> int | None:
    k = re.escape(key)
    m = re.search(rf"""^[ \t]*(?:{k}|"{k}"|'{k}')[ \t]*=""", text, re.MULTILINE)
    if m is None:
        m = re.search(rf"^[ \t]*\[[ \t]*{k}[ \t]*\]", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(_kebab(key.lower()), list(BY_KEY), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", dict: "a table",
            list: "an array"}.get(type(value), type(value).__name__)


def _expected(option: Option) -> str:
    return {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
            "size": 'a size (an integer number of bytes, or a string such as "512KiB")',
            "choice": " or ".join(f'"{x}"' for x in option.choices)}[option.kind]


def load_file(path: str) -> FileValues:
    """Read and validate a config file; raises SettingsError naming the file, line and key."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise SettingsError(f"config file {path}: no such file") from None
    except IsADirectoryError:
        raise SettingsError(f"config file {path} is a folder; name a TOML file") from None
    except OSError as err:
        raise SettingsError(f"config file {path}: cannot read it ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as err:
        raise SettingsError(f"config file {path}: not UTF-8 text (byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"config file {path}: not valid TOML: {err}") from None
    problems: list[tuple[int, str]] = []
    known: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key, value in data.items():
        where = f"{path}:{_key_line(text, key) or '?'}"
        option = BY_KEY.get(key)
        if option is None:
            table = " (the options are keys at the top level of the file, not in a table)" if isinstance(
                value, dict) else ""
            problems.append((_key_line(text, key) or 0, f"{where}: unknown option `{key}`{_suggest(key)}{table}; "
                             "every option is listed by `policy-engine serve --help` and in docs/operations.md"))
        elif isinstance(value, dict):
            problems.append((_key_line(text, key) or 0, f"{where}: `{key}` is a table; the options are keys at "
                             f"the top level of the file, e.g. {key} = "
                             f"{toml_value(option.default) if option.default is not None else '...'}"))
        else:
            known[key] = value
            lines[option.name] = _key_line(text, key) or 0
    try:
        validated = ServeSettings.model_validate(known, strict=True)
    except ValidationError as err:
        for e in err.errors():
            key = str(e["loc"][0]) if e["loc"] else "?"
            option = BY_KEY[key]
            got = e.get("input")
            if e["type"].endswith("_type") or e["type"] in ("literal_error", "value_error"):
                why = f"expected {_expected(option)}, got {_type_name(got)}"
                if e["type"] == "value_error":
                    why = e["msg"].removeprefix("Value error, ")
            else:
                why = e["msg"].replace("Input should be", "must be")
            line = lines.get(option.name) or 0
            problems.append((line, f"{path}:{line or '?'}: {key} = {toml_value(got)}: {why} "
                                   f"(default: {option.shown_default()})"))
    if problems:
        raise SettingsError("\n".join(text for _, text in sorted(problems)))
    folder = os.path.dirname(path)
    values: dict[str, Any] = {}
    for key in known:
        option = BY_KEY[key]
        value = getattr(validated, option.name)
        if option.path and isinstance(value, str) and value != "-" and not os.path.isabs(value):
            value = os.path.normpath(os.path.join(folder, value))
        values[option.name] = value
    return FileValues(path=path, values=values, lines=lines)


# ---- writing values: --print-config, the docs -----------------------------------------------------


def format_size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % scale == 0:
            return f'"{n // scale}{unit}"'
    return str(n)


def toml_value(value: Any) -> str:
    """A TOML literal for a scalar (strings as TOML basic strings, which JSON's escapes are)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def render_effective(values: dict[str, Any], sources: dict[str, str]) -> str:
    """The effective configuration as a TOML file that `--config` reads back, each line saying
    where its value came from."""
    out = ["# The effective configuration of `policy-engine serve`",
           "# (precedence: flag > environment > config file > default)."]
    for o in OPTIONS:
        value = values.get(o.name)
        source = sources.get(o.name, "default")
        if value is None:
            line = f"# {o.key} is not set"
        elif o.secret:
            line = f"# {o.key} is set (hidden)"
        else:
            line = f"{o.key} = {format_size(value) if o.kind == 'size' else toml_value(value)}"
        out.append(f"{line:<52} # {source}")
    return "\n".join(out) + "\n"


def reference_markdown() -> str:
    """The configuration reference table of docs/operations.md."""
    out = ["| config file key | flag | environment variable | default | meaning |", "|---|---|---|---|---|"]
    for o in OPTIONS:
        meaning = o.help.replace("|", "\\|")
        if o.choices:
            meaning += " One of " + ", ".join(f"`{x}`" for x in o.choices) + "."
        if o.minimum is not None or o.maximum is not None:
            low = format_size(int(o.minimum)).strip('"') if o.kind == "size" and o.minimum else o.minimum
            meaning += f" Range: {low if low is not None else '…'} to {o.maximum if o.maximum is not None else '…'}."
        default = o.shown_default()
        out.append(f"| `{o.key}` | `{o.flags}` | `{o.env}` | {default if o.default is None else f'`{default}`'} "
                   f"| {meaning} |")
    return "\n".join(out) + "\n"
