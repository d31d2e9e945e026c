"""The language: text -> AST -> diagnostics, and back to text.

    source       policy text and positions in it
    diagnostics  what went wrong, where, and how to fix it
    grammar      the Lark grammar (grammar/policy.lark) and its one parser
    parser       text -> AST, syntax errors in words
    ast          the abstract syntax (pydantic nodes)
    checker      AST -> diagnostics: terms declared, kinds right, conditions satisfiable
    logic        conditions over facts: evaluate, compare, simplify
    printer      AST -> canonical text
    formatter    fmt: canonical layout, comments kept
    highlight    the Pygments lexer

Imports nothing from the other layers.
"""
