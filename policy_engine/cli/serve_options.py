"""The click options of `serve`, made from the one definition (server/settings.py), and the
resolution of flag > environment (`POLICY_ENGINE_*`) > config file (`--config`) > default.

click does the precedence itself: each option reads its flag, then its `envvar`, then
`ctx.default_map`, which the eager `--config` callback fills from the validated TOML file; click
also tells where each value came from (`ctx.get_parameter_source`), which `--print-config` shows.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import click
from click.core import ParameterSource

from policy_engine.server import settings as s


class SizeType(click.ParamType):
    """A byte size: 1048576, 512KiB, 2MiB (server/config.parse_size), at least `minimum`."""

    name = "SIZE"

    def __init__(self, minimum: int = 0):
        self.minimum = minimum

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            n = value
        else:
            try:
                n = s.c.parse_size(str(value))
            except ValueError as err:
                self.fail(str(err), param, ctx)
        if n < self.minimum:
            self.fail(f"must be at least {s.format_size(self.minimum).strip(chr(34))}", param, ctx)
        return n


def _type(o: s.Option) -> Any:
    if o.kind == "size":
        return SizeType(int(o.minimum or 0))
    if o.kind == "int":
        return click.IntRange(o.minimum, o.maximum)
    if o.kind == "float":
        return click.FloatRange(o.minimum, o.maximum)
    if o.kind == "choice":
        return click.Choice(o.choices)
    return click.STRING


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Eager: read the file before any other option, so its values are click's default_map."""
    if value is None:
        return
    try:
        loaded = s.load_file(value)
    except s.SettingsError as err:
        raise click.UsageError(str(err), ctx) from None
    ctx.meta["serve.config_file"] = loaded
    ctx.default_map = {**(ctx.default_map or {}), **loaded.values}


def serve_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate `serve` with POLICY, every option of ServeSettings, --config and --print-config."""
    print_config = click.option("--print-config", is_flag=True,
                                help="Print the effective configuration (a TOML file `--config` reads back) with "
                                     "where each value came from, and exit.")
    return _decorate(func, list(s.OPTIONS), print_config)


def some_serve_options(helps: dict[str, str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with these options of `serve` (same flags, POLICY_ENGINE_* variables and
    defaults; `helps`: option name -> its help in this command) and --config: a command that must
    agree with a running server reads the same settings."""
    return lambda func: _decorate(func, [dataclasses.replace(o, help=helps[o.name]) for o in s.OPTIONS
                                         if o.name in helps])


def _decorate(func: Callable[..., Any], options: list[s.Option],
              then: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None) -> Callable[..., Any]:
    for o in reversed(options):
        help = o.help + (" --print-config never shows it." if o.secret else "")
        if o.name == "policy":
            func = click.argument("policy", required=False, envvar=o.env, metavar="[POLICY]")(func)
        elif o.kind == "bool":
            func = click.option(o.flags, o.name, default=o.default, envvar=o.env, show_envvar=True,
                                is_flag=True, show_default=not o.flag, help=help)(func)
        else:
            shown = o.shown_default().strip('"') if o.default is not None and o.kind == "size" else (
                o.default is not None)
            func = click.option(o.flags, o.name, default=o.default, type=_type(o), envvar=o.env,
                                show_envvar=True, metavar=o.metavar, show_default=shown, help=help)(func)
    if then is not None:
        func = then(func)
    return click.option("--config", "config_file", metavar="FILE", envvar=s.CONFIG_ENV, show_envvar=True,
                        is_eager=True, expose_value=False, callback=_load_config,
                        help="A TOML file of options (keys as the flags without `--`: `max-body = \"2MiB\"`); "
                             "flags and POLICY_ENGINE_* variables override it.")(func)


# ---- after parsing ---------------------------------------------------------------------------------

_RANK = {ParameterSource.COMMANDLINE: 3, ParameterSource.ENVIRONMENT: 2, ParameterSource.DEFAULT_MAP: 1}


def _source(ctx: click.Context, o: s.Option) -> tuple[int, str]:
    src = ctx.get_parameter_source(o.name)
    if src is ParameterSource.COMMANDLINE:
        return 3, "command line"
    if src is ParameterSource.ENVIRONMENT:
        return 2, f"environment {o.env}"
    if src is ParameterSource.DEFAULT_MAP:
        loaded: s.FileValues = ctx.meta["serve.config_file"]
        return 1, f"config file {loaded.where(o.name)}"
    return 0, "default"


def resolve(ctx: click.Context, params: dict[str, Any]) -> tuple[s.ServeSettings, dict[str, str]]:
    """The effective settings and, per option, where its value came from; the checks that span
    options (whichever of two contradicting options was set with higher precedence wins; set at
    the same level, they are an error naming both places)."""
    ranked = {o.name: _source(ctx, o) for o in s.OPTIONS}
    values = {o.name: params[o.name] for o in s.OPTIONS}
    where = {name: text for name, (_, text) in ranked.items()}

    if values["no_decision_log"] and values["decision_log"]:
        a, b = ranked["decision_log"][0], ranked["no_decision_log"][0]
        if a == b:
            raise click.UsageError(f"--decision-log (from {where['decision_log']}) and --no-decision-log "
                                   f"(from {where['no_decision_log']}) contradict each other; drop one", ctx)
        values["no_decision_log" if a > b else "decision_log"] = False if a > b else None
    if values["ssl_keyfile"] and not values["ssl_certfile"]:
        raise click.UsageError(f"--ssl-keyfile (from {where['ssl_keyfile']}) needs --ssl-certfile, the certificate "
                               "it belongs to", ctx)
    if values["ssl_keyfile_password"] and not values["ssl_certfile"]:
        raise click.UsageError(f"--ssl-keyfile-password (from {where['ssl_keyfile_password']}) without "
                               "--ssl-certfile: there is no key to decrypt", ctx)
    settings = s.ServeSettings.model_validate({o.key: values[o.name] for o in s.OPTIONS})
    return settings, where


def warn_misspelt_environment(environ: dict[str, str]) -> None:
    """A POLICY_ENGINE_* variable that is no option but close to one is most likely a typo that
    would silently leave the default in force: say so on stderr (others are left alone: other
    commands and features have variables of their own)."""
    import difflib

    known = {o.env for o in s.OPTIONS} | {s.CONFIG_ENV, s.c.ENV_VAR}
    for name in sorted(environ):
        if name.startswith(s.ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.85)
            if close:
                click.echo(f"policy-engine serve: {name} is set but is no option of serve; did you mean "
                           f"{close[0]}? (ignored)", err=True)


def where_from(sources: dict[str, str], name: str) -> str:
    """`--port (from environment POLICY_ENGINE_PORT)`: an option named with where its value came from."""
    o = s.BY_NAME[name]
    return f"{o.flags.split('/')[0]} (from {sources[name]})"
