-- The current version of each resource, by type and id. Writes look the current version up and
-- retire it; without this index both walked every version of the resource (a Practitioner that
-- every HL7 v2 message names has thousands). Unique: a resource has one current version at most.
CREATE UNIQUE INDEX resource_versions_current ON resource_versions (res_type, res_id) WHERE is_current = 1;
