-- Version 2: the latest begin/end per (subject, fact) is read straight off one index, in order,
-- with the event id as the tie-break (the sweep reads it for every subject at once).
CREATE INDEX events_latest_fact ON events (subject, fact, at, id);
DROP INDEX events_subject_fact;
