-- Version 3: the current state beside the events (current.py), maintained in the event's own
-- transaction, so the sweep and subject decisions read one row per (subject, fact) and per
-- (subject, data, source) instead of replaying histories. A store with events is filled by
-- current.rebuild right after these statements, in the same transaction.
CREATE TABLE current_facts (
    subject  TEXT NOT NULL,
    fact     TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('begin', 'end')),
    event_id {bigint} NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (subject, fact)
) {without_rowid};
CREATE TABLE current_data (
    subject  TEXT NOT NULL,
    category TEXT NOT NULL,
    source   TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    events   {bigint} NOT NULL,
    PRIMARY KEY (subject, category, source)
) {without_rowid};
CREATE TABLE current_subjects (
    subject TEXT PRIMARY KEY,
    factset TEXT NOT NULL,
    last_at TEXT NOT NULL
) {without_rowid};
CREATE INDEX current_subjects_last_at ON current_subjects (last_at);
