-- The subject store, version 1. One schema for SQLite and PostgreSQL: `{serial}` is the
-- dialect's auto-numbered primary key. Times are RFC 3339 UTC texts of one fixed width
-- (2026-03-01T00:00:00.000000Z), so text order is time order on both databases.
CREATE TABLE events (
    id              {serial},
    subject         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('begin', 'end', 'collected')),
    fact            TEXT,
    category        TEXT,
    source          TEXT,
    at              TEXT NOT NULL,
    channel         TEXT,
    evidence        TEXT,
    policy_digest   TEXT,
    idempotency_key TEXT UNIQUE,
    fingerprint     TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    CHECK ((kind = 'collected' AND category IS NOT NULL AND fact IS NULL)
        OR (kind <> 'collected' AND fact IS NOT NULL AND category IS NULL))
);
CREATE INDEX events_subject_fact ON events (subject, fact, at);
CREATE INDEX events_collected ON events (kind, subject, category, source);

CREATE TABLE tombstones (
    subject      TEXT PRIMARY KEY,
    forgotten_at TEXT NOT NULL,
    request_id   TEXT NOT NULL
);

CREATE TABLE requests (
    id              {serial},
    subject         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    channel         TEXT,
    note            TEXT,
    idempotency_key TEXT UNIQUE,
    fingerprint     TEXT NOT NULL
);
CREATE INDEX requests_subject ON requests (subject, received_at);
