"""policy_engine/cli/extras.py: a command whose extra is not installed says which `pip install`
fixes it (exit 2, one line); any other missing module stays a fault in the tool (exit 3)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from policy_engine.cli import app, extras


def _group_with(missing: str) -> click.Group:
    group = app._Group("policy-engine")

    @group.command("needs")
    def needs() -> None:
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    return group


@pytest.mark.parametrize(("missing", "extra"), [("uvicorn", "server"), ("fastapi.routing", "server"),
                                                ("prometheus_client", "server"), ("httpx", "client")])
def test_a_missing_extra_names_its_install(missing: str, extra: str) -> None:
    result = CliRunner().invoke(_group_with(missing), ["needs"])
    assert result.exit_code == 2
    assert result.output == (f"policy-engine needs: needs the {extra} extra, which is not installed (no module named "
                             f"{missing!r}); install it with: pip install 'policy-engine[{extra}]'\n")


def test_any_other_missing_module_is_not_blamed_on_an_extra() -> None:
    result = CliRunner().invoke(_group_with("no_such_module"), ["needs"])
    assert isinstance(result.exception, ModuleNotFoundError) and result.exception.name == "no_such_module"
    assert extras.extra_for("no_such_module") is None and extras.extra_for(None) is None


def test_require_passes_when_installed_and_exits_when_not(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    extras.require("client", "ship-logs")  # httpx is installed in the test environment
    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit) as stop:
        extras.require("server", "serve")
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith("install it with: pip install 'policy-engine[server]'")
