-- Reference tables that are not FHIR resources: community indices (CDC/ATSDR SVI) and the
-- ZIP-to-county crosswalk they are joined through. One row per table and vintage, holding the
-- table as the text it was loaded from (it was validated before it was stored, and is parsed
-- again when patients are linked: a few milliseconds for 3,000 counties), so that loading a
-- table is one insert: all of it or nothing. sha256 tells an identical reload (unchanged).
-- Times are microseconds since the epoch.
CREATE TABLE reference_tables (
    kind       TEXT    NOT NULL,
    vintage    TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    row_count  INTEGER NOT NULL,
    content    TEXT    NOT NULL,
    loaded_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, vintage)
);
