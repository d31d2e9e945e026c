"""The engine: checked AST -> compiled policy -> decisions.

    compiler     named passes: vocabulary, rule table, graph, decision index
    engine       decide: matching rules by bitsets, then docs/semantics.md
    query        the query and answer contract (Query, Decision, QueryError)
    policy       Policy: a loaded policy, compile once, decide many
    datamap      the data map a DPO asks of a whole policy
    space        the question space in classes no rule tells apart
    graph_export the compiled graph as JSON, DOT or Mermaid

Imports the language layer only.
"""
