-- PostgreSQL: the body is JSONB; pks come from resource_versions_pk_seq, reserved per batch.
-- Every version of every resource. The current version has is_current = 1.
-- Times are microseconds since the Unix epoch (UTC); content_hash is the SHA-256 (hex) of the
-- content without meta.versionId/lastUpdated, so an identical write is detected without
-- reading the body.
CREATE SEQUENCE resource_versions_pk_seq;
CREATE TABLE resource_versions (
    pk           BIGINT  PRIMARY KEY,
    res_type     TEXT    NOT NULL,
    res_id       TEXT    NOT NULL,
    version_id   BIGINT  NOT NULL,
    is_current   SMALLINT NOT NULL,
    last_updated BIGINT  NOT NULL,
    content_hash TEXT    NOT NULL,
    patient_id   TEXT,
    source       TEXT,
    body         JSONB   NOT NULL
);
-- lz4 instead of the default pglz for TOASTed bodies: several times faster to compress on
-- ingest and to decompress on every read.
ALTER TABLE resource_versions ALTER COLUMN body SET COMPRESSION lz4;
CREATE UNIQUE INDEX resource_versions_key ON resource_versions (res_type, res_id, version_id);
-- pk last, so that a patient's resources of one type come in page order without a sort.
CREATE INDEX resource_versions_patient ON resource_versions (patient_id, res_type, pk) WHERE is_current = 1;
CREATE INDEX resource_versions_updated ON resource_versions (res_type, last_updated) WHERE is_current = 1;

-- Search index rows point at a version (pk); searches join on is_current.
CREATE TABLE search_token (
    pk       BIGINT  NOT NULL,
    res_type TEXT    NOT NULL,
    param    TEXT    NOT NULL,
    system   TEXT,
    code     TEXT    NOT NULL
);
CREATE INDEX search_token_lookup ON search_token (res_type, param, code, system);

CREATE TABLE search_date (
    pk       BIGINT  NOT NULL,
    res_type TEXT    NOT NULL,
    param    TEXT    NOT NULL,
    lo       BIGINT  NOT NULL,
    hi       BIGINT  NOT NULL
);
CREATE INDEX search_date_lookup ON search_date (res_type, param, lo);

CREATE TABLE search_string (
    pk       BIGINT  NOT NULL,
    res_type TEXT    NOT NULL,
    param    TEXT    NOT NULL,
    value    TEXT    NOT NULL
);
CREATE INDEX search_string_lookup ON search_string (res_type, param, value);
