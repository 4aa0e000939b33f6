-- Stored de-identification policies, by name. The policy is kept as the text the steward sent
-- (TEXT, not JSONB, so that it reads back byte for byte); it was validated before it was stored.
-- Times are microseconds since the epoch; updated_by names the token (token/ID) that wrote it.
CREATE TABLE deid_policies (
    name       TEXT    PRIMARY KEY,
    policy     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);
-- Bulk Data export jobs (`GET /fhir/$export`), kept so that a restarted server still answers the
-- status polls of finished jobs. status: accepted | in-progress | complete | failed. The request
-- is kept as its parts (types comma-separated, empty for all; since; the de-identification
-- policy's name, NULL for an identified export). error holds a message without PHI; manifest
-- the Bulk Data manifest (JSON) of a complete job.
CREATE TABLE export_jobs (
    id             TEXT    PRIMARY KEY,
    status         TEXT    NOT NULL,
    types          TEXT    NOT NULL,
    since          INTEGER,
    deid_policy    TEXT,
    request_url    TEXT    NOT NULL,
    requester      TEXT    NOT NULL,
    requester_name TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    error          TEXT,
    manifest       TEXT
);
