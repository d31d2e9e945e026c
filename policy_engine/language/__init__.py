"""The language: text -> AST -> diagnostics, and back to text.

    source       policy text and positions in it
    diagnostics  what went wrong, where, and how to fix it
    grammar      the Lark grammar (grammar/policy.lark) and its one parser
    parser       text -> AST: fast_parse (with fast_parse_items) reads well-formed text in one pass; otherwise the tree
                 path: recovery (every syntax error), syntax_errors (in words, with the fix),
                 ast_builder (Lark tree -> AST), spans (node spans), comments (kept beside)
    ast          the abstract syntax (pydantic nodes)
    checker      AST -> diagnostics: terms declared, kinds right, conditions satisfiable;
                 check_extensions for sub-actions, implications, rights and statements
    implication  facts that imply facts: closures, cycles, the care set of partial evaluation
    logic        conditions over facts: evaluate, compare, decide, simplify (the API)
    tables       truth tables and the exact minimum cover (few facts)
    bdd          binary decision diagrams and the irredundant cover (many facts)
    cubes        sums of products back into readable, factored conditions
    printer      AST -> canonical text
    formatter    fmt: canonical layout, comments kept
    highlight    the Pygments lexer

Imports nothing from the other layers.
"""
