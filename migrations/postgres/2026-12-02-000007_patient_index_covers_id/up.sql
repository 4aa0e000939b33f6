-- Patient-compartment searches select (pk, res_id) of a patient's current resources of a type,
-- in pk order, a page at a time. With res_id in the index (INCLUDE: carried, not sorted on),
-- PostgreSQL answers them from the index alone (an index-only scan over pages VACUUM has marked
-- all-visible, which ingest does after large loads) instead of visiting the heap once per hit.
CREATE INDEX resource_versions_patient_covering ON resource_versions (patient_id, res_type, pk) INCLUDE (res_id) WHERE is_current = 1;
DROP INDEX resource_versions_patient;
