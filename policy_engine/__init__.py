"""policy-engine: privacy policy as code."""

__version__ = "0.1.0"

from policy_engine.api import load, loads  # noqa: E402
from policy_engine.language.diagnostics import PolicyError  # noqa: E402
from policy_engine.engine.policy import Policy  # noqa: E402
from policy_engine.engine.query import Decision, Query, QueryError  # noqa: E402

__all__ = ["__version__", "load", "loads", "Policy", "Query", "Decision", "PolicyError", "QueryError"]
