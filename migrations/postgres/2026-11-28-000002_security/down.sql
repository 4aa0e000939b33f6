DROP TABLE audit_entities;
DROP TABLE audit_events;
DROP TABLE smart_jtis;
DROP TABLE smart_clients;
DROP TABLE api_tokens;
