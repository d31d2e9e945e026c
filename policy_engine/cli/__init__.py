"""The command line, one module per command group; imports the layers, never the reverse."""

from policy_engine.cli.app import cli, main

__all__ = ["cli", "main"]
