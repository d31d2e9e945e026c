"""`python -m policy_engine` is the `policy-engine` command."""

from policy_engine.cli.app import main

main()
