"""The optional parts of the package and what to install for them.

`pip install policy-engine` is the language, the engine and the CLI; the decision service and the
HTTP client are extras (pyproject.toml): `[server]` and `[client]`. A command that needs one
imports it lazily, so every other command works without it; when the import fails, the user
gets one line naming the `pip install` that fixes it (exit 2), not a traceback.
"""

from __future__ import annotations

import importlib.util
import sys

import click

# The top-level modules each extra brings (and the libraries they pull in themselves).
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("fastapi", "starlette", "uvicorn", "prometheus_client", "httptools", "uvloop", "anyio", "h11",
               "fastapi_offline"),
    "client": ("httpx", "httpcore"),
}
EXIT_USAGE = 2


def extra_for(module: str | None) -> str | None:
    """The extra that provides `module` (a dotted name is looked up by its first part)."""
    top = (module or "").partition(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return extra
    return None


def install_hint(extra: str, command: str | None, missing: str) -> str:
    where = f"policy-engine {command}" if command else "policy-engine"
    return (f"{where}: needs the {extra} extra, which is not installed (no module named {missing!r}); "
            f"install it with: pip install 'policy-engine[{extra}]'")


def require(extra: str, command: str | None = None) -> None:
    """Exit 2 with the install hint unless every module of `extra` that it needs can be imported;
    for a command to call before it does any work."""
    needed = {"server": ("fastapi", "uvicorn", "prometheus_client"), "client": ("httpx",)}[extra]
    for module in needed:
        if importlib.util.find_spec(module) is None:
            click.echo(install_hint(extra, command, module), err=True)
            sys.exit(EXIT_USAGE)


def exit_if_missing_extra(err: ModuleNotFoundError, command: str | None) -> None:
    """Called with an import failure from a command: exit 2 with the hint when an extra's module is
    what is missing; return (the caller re-raises) when it is anything else."""
    extra = extra_for(err.name)
    if extra is not None:
        click.echo(install_hint(extra, command, str(err.name)), err=True)
        sys.exit(EXIT_USAGE)
