-- Every version of every resource. The current version has is_current = 1.
-- Times are microseconds since the Unix epoch (UTC); content_hash is the SHA-256 (hex) of the
-- content without meta.versionId/lastUpdated, so an identical write is detected without
-- reading the body.
CREATE TABLE resource_versions (
    pk           INTEGER PRIMARY KEY,
    res_type     TEXT    NOT NULL,
    res_id       TEXT    NOT NULL,
    version_id   INTEGER NOT NULL,
    is_current   INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    content_hash TEXT    NOT NULL,
    patient_id   TEXT,
    source       TEXT,
    body         TEXT    NOT NULL
);
CREATE UNIQUE INDEX resource_versions_key ON resource_versions (res_type, res_id, version_id);
CREATE INDEX resource_versions_patient ON resource_versions (patient_id, res_type) WHERE is_current = 1;
CREATE INDEX resource_versions_updated ON resource_versions (res_type, last_updated) WHERE is_current = 1;

-- Search index rows point at a version (pk); searches join on is_current.
CREATE TABLE search_token (
    pk       INTEGER NOT NULL,
    res_type TEXT    NOT NULL,
    param    TEXT    NOT NULL,
    system   TEXT,
    code     TEXT    NOT NULL
);
CREATE INDEX search_token_lookup ON search_token (res_type, param, code, system);

CREATE TABLE search_date (
    pk       INTEGER NOT NULL,
    res_type TEXT    NOT NULL,
    param    TEXT    NOT NULL,
    lo       INTEGER NOT NULL,
    hi       INTEGER NOT NULL
);
CREATE INDEX search_date_lookup ON search_date (res_type, param, lo);

CREATE TABLE search_string (
    pk       INTEGER NOT NULL,
    res_type TEXT    NOT NULL,
    param    TEXT    NOT NULL,
    value    TEXT    NOT NULL
);
CREATE INDEX search_string_lookup ON search_string (res_type, param, value);
