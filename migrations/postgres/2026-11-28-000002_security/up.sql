-- Bearer tokens: only the SHA-256 of a token is kept. Times are microseconds since the epoch.
-- client_id is set for access tokens issued to a SMART Backend Services client.
CREATE TABLE api_tokens (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    client_id  TEXT,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
-- SMART Backend Services clients and their public keys (JWKS).
CREATE TABLE smart_clients (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    jwks       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);
-- Assertion ids seen, kept until the assertion expires: a second use is a replay.
CREATE TABLE smart_jtis (
    client_id  TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (client_id, jti)
);
-- The audit trail: a ledger in a hash chain. seq is the position in the chain (1, 2, …) and the
-- AuditEvent's id; line is the entry's canonical form (a JSON array of its fields, see
-- salus-auth audit::ledger_line), the exact bytes that are hashed; the AuditEvent is rendered
-- from it when read. One narrow row per entry keeps appends cheap: there is one per request.
CREATE TABLE audit_events (
    seq  BIGINT PRIMARY KEY,
    line TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Which entries name a resource: AuditEvent?entity= and ?patient=.
CREATE TABLE audit_entities (
    reference TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (reference, seq)
);
