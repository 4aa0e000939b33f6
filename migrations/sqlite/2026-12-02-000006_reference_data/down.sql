DROP TABLE reference_tables;
