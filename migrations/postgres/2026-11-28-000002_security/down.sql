DROP TABLE audit_entities;
DROP TABLE audit_blocks;
DROP TABLE smart_jtis;
DROP TABLE smart_clients;
DROP TABLE api_tokens;
