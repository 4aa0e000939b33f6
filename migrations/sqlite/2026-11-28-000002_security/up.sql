-- Bearer tokens: only the SHA-256 of a token is kept. Times are microseconds since the epoch.
-- client_id is set for access tokens issued to a SMART Backend Services client.
CREATE TABLE api_tokens (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    client_id  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
-- SMART Backend Services clients and their public keys (JWKS).
CREATE TABLE smart_clients (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    jwks       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
-- Assertion ids seen, kept until the assertion expires: a second use is a replay.
CREATE TABLE smart_jtis (
    client_id  TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
-- The audit trail: a ledger in a hash chain, written a block at a time (one row per commit of
-- the audit writer, holding every entry of that commit). An entry's sequence number (1, 2, …) is
-- its AuditEvent id; its line is its canonical form (a JSON array of its fields, see salus-auth
-- audit::ledger_line), the exact bytes that are hashed; the AuditEvent is rendered when read.
-- Why blocks: there is an entry per request, and a row (with its index entries and log records)
-- per entry cost PostgreSQL a fifth of its read throughput.
CREATE TABLE audit_blocks (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL,
    -- The entries' lines, newline-separated (a JSON line holds no raw newline).
    lines     TEXT NOT NULL,
    -- Their hashes, newline-separated, in the same order.
    hashes    TEXT NOT NULL,
    -- The last entry's hash again, so that appending reads the chain's head without
    -- decompressing a block.
    last_hash TEXT NOT NULL
);
-- Which blocks have entries naming a resource: AuditEvent?entity= and ?patient=.
CREATE TABLE audit_entities (
    reference TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    PRIMARY KEY (reference, first_seq)
) WITHOUT ROWID;
