"""Subjects: the records a decision about one person rests on (consents, account events, data
collected), kept append-only next to the policy, and what follows from them: decisions for a
subject, data-subject requests and the retention sweep.

Modules: model (events, times, errors), backends (SQLite, PostgreSQL, migrations), store,
decide (questions naming a subject), retention (erasure plan, sweep), requests, auth (scoped
tokens), http (the router the server includes).
"""
