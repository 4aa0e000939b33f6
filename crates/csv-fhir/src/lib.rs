//! CSV exports mapped to FHIR R4 resources by a declarative mapping.
//!
//! A [`Mapping`] (TOML, checked against `schemas/csv-mapping.schema.json` by editors and
//! completely by [`Mapping::from_toml`]) says, per table of an export, which files it reads,
//! the resource type each row becomes, how the row's id is derived, and which column or
//! constant fills which element. [`read_csv`] streams one file through it a record at a time
//! and hands each row, mapped or rejected, to a callback. The crate is pure: no I/O beyond the
//! reader it is given, no clock.
//!
//! # The mapping format
//!
//! ```toml
//! name = "synthea"               # part of every resource id: keep it once data is loaded
//! description = "…"
//!
//! [defaults]
//! zone = "Z"                     # the zone of times written without one (a fixed offset)
//! date_format = "%Y-%m-%d"       # for `date` fields without `format`
//! datetime_format = "rfc3339"    # for `dateTime`/`instant` fields without `format`
//!
//! [maps.gender]                  # named value maps, usable by any field
//! M = "male"
//! F = "female"
//!
//! [[table]]
//! name = "patients"              # unique; messages and references use it
//! files = ["patients.csv"]       # file names (`*`, `?`; case, directory and .gz ignored)
//! header = ["Id", "BIRTHDATE"]   # or/and: columns that identify the file by its header
//! resource = "Patient"
//! id = "{Id}"                    # the key template the id is derived from
//!
//! [[table.field]]
//! path = "birthDate"             # the element: `name[0].given[1]`, `code.coding[0].code`
//! column = "BIRTHDATE"
//! type = "date"                  # string code uri decimal integer boolean date dateTime instant
//!
//! [[table.field]]
//! path = "gender"
//! column = "GENDER"
//! type = "code"
//! map = "gender"                 # or inline: map = { M = "male", F = "female" }
//! unmapped = "reject"            # reject (default) | omit | keep
//!
//! [[table.field]]
//! path = "identifier[0].system"
//! value = "https://github.com/synthetichealth/synthea"   # a constant
//!
//! [[table]]
//! name = "conditions"
//! files = ["conditions.csv"]
//! resource = "Condition"
//! id = "{PATIENT}|{ENCOUNTER?}|{CODE}|{START}"           # `?`: may be empty
//! patient = "PATIENT"            # or { column = "PATIENT", path = "subject", table = "patients" }
//!
//! [[table.field]]
//! path = "encounter"
//! reference = "encounters"       # Encounter/<the id table encounters gives that key>
//! column = "ENCOUNTER"           # or key = "{…}", a template like the other table's `id`
//!
//! [[table.field]]
//! path = "clinicalStatus.coding[0].code"
//! value = "resolved"
//! type = "code"
//! when = { column = "STOP", present = true }   # or equals = "…", one_of = ["…"]
//! ```
//!
//! Field keys: `path` (required); one source: `column`, `value` or `reference` (with
//! `column` or `key`); `type` (default `string`; a `value` that is a TOML boolean or integer
//! implies `boolean`/`integer`); `format` and `zone` for dates (see [`convert::DateFormat`]:
//! `%Y-%m-%d`, any chrono strftime format, `rfc3339`, `fhir`); `map` and `unmapped`;
//! `default` (the value when the cell is empty); `required` (an empty cell rejects the row);
//! `optional` (the column may be missing from the header); `when`; `note` (free text).
//!
//! # Decisions
//!
//! - **Ids.** Every resource id is `salus_fhir::ids::derive_id("csv|<mapping>|<Type>|<key>")`
//!   (UUID v5), the key being the table's `id` template rendered with the row's cells (`%`
//!   and `|` inside a cell are percent-encoded, so `a|b` + `c` and `a` + `b|c` differ). The
//!   same export loaded twice yields the same ids, so it changes nothing. A placeholder
//!   without `?` must be non-empty, else the row is rejected: a key with a hole would make
//!   unrelated rows one resource.
//! - **Joins.** `patient = "PATIENT"` sets the patient element (`subject`; `patient` for
//!   AllergyIntolerance, Immunization and a few more; `beneficiary` for Coverage) to
//!   `Patient/<id>`, the id the Patient table derives from the same key, so a Condition's
//!   subject is the Patient the patients table made of that patient's row. A reference field
//!   does the same for any other table. An empty patient key rejects the row; an empty
//!   reference key leaves the element out. The key must render the way the target table's
//!   `id` template does (one column each, in the common case).
//! - **Empty cells.** A cell is trimmed; an empty one yields nothing (or the field's
//!   `default`). An object or array element whose columns all yielded nothing is left out with
//!   the constants in it; arrays are compacted, so `given[1]` becomes the first
//!   given name when `given[0]` is empty. Several fields may set one path: the first that
//!   yields a value wins (alternatives by `when`, or a column with a fallback).
//! - **Rows.** A row that cannot be mapped (a bad date, an unmapped code, an empty key, a
//!   ragged row, bytes that are not UTF-8) is rejected whole, with its column and a reason
//!   naming the rule, never the value: a half-mapped row would be a resource that silently
//!   says less than the source.
//! - **Header.** Column names are matched without regard to ASCII case and surrounding
//!   spaces. A missing column the table reads is a file error naming every missing column;
//!   `optional = true` columns read as empty when absent (exports differ between versions).
//! - **Checks at load.** Every problem is reported at once with its table and field (1-based,
//!   in file order): unknown keys (with "did you mean"), bad paths, unknown types, bad date
//!   formats and zones, constants that are not valid for their type, map values that are not,
//!   conflicting paths, duplicate table names and file patterns, references to unknown tables,
//!   and then the resource each table builds is checked against the FHIR R4 schema with
//!   placeholder values (misspelt elements, wrong types, missing required elements).
//! - **Provenance.** `meta.source` is `urn:salus:csv:<mapping>:<table>`: stable across loads,
//!   so that it does not change the content hash; the store records the file and row.

pub mod convert;
mod mapping;
pub mod path;
mod plan;
mod read;

pub use mapping::{Mapping, MappingError, Table};
pub use read::{read_csv, CsvError, CsvLimits, ReadSummary, RowOutcome, Stop};
