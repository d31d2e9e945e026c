"""Editor support: the language server (`server.py`, run by `policy-engine lsp`) over one
analysis of a policy text (`analysis.py`), which the playground shares."""
