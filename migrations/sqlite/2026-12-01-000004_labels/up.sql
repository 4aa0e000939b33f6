-- Settings the store keeps about its own content, by name (e.g. `labels_version`: the version
-- of the sensitivity value sets the stored resources were labelled with).
CREATE TABLE store_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
