DROP TABLE export_jobs;
DROP TABLE deid_policies;
