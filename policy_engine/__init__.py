"""policy-engine: privacy policy as code."""

__version__ = "0.1.0"
