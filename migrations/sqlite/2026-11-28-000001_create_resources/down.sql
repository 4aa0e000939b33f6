DROP TABLE search_string;
DROP TABLE search_date;
DROP TABLE search_token;
DROP TABLE resource_versions;
