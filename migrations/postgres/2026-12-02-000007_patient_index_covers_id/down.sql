CREATE INDEX resource_versions_patient ON resource_versions (patient_id, res_type, pk) WHERE is_current = 1;
DROP INDEX resource_versions_patient_covering;
