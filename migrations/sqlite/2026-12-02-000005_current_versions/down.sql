DROP INDEX resource_versions_current;
