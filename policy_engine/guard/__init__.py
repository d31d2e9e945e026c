"""The CI guardrails: tests, invariants, lint, semantic diff, SARIF.

    workspace    the repository's policies and their text at a git revision
    testing      the test runner (expectations and invariants) and its reports
    invariants   never / every / no promises, over the whole question space
    lint         legal but probably unintended
    diff         the semantic diff of two policies; diff_report puts it in words
    sarif        SARIF and GitHub annotations

Imports the engine and language layers.
"""
