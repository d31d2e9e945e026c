"""`python -m policy_engine` is the `policy-engine` command."""

from .cli import main

main()
