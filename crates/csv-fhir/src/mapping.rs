//! The mapping file: TOML in, a compiled [`Mapping`] out, or every problem found at once.
//!
//! The document is read into a generic TOML table and walked by hand rather than deserialized
//! into structs: serde stops at the first problem, while a person fixing a mapping wants the
//! whole list, each with its table, field and what to write instead. What can only be checked
//! against a file (that its header has the columns the mapping names) is checked when the file
//! is opened ([`crate::read_csv`]).
//!
//! Each table's resource is also checked against the FHIR R4 schema once at load: a probe
//! resource is built with every field yielding a value of its type (a constant, a map's value,
//! or a placeholder), so that a misspelt element (`name[0].famly`), a value of the wrong type in
//! an element, an object where FHIR has an array, or a required element no field sets is found
//! before any row is read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::FixedOffset;
use serde_json::{Map, Value};
use toml::Value as Toml;

use crate::convert::{self, DateFormat, Kind, KIND_NAMES};
use crate::path::{self, Step};
use crate::plan::{self, ColumnSpec, Cond, Field, Node, Part, Source, Template, Test, Unmapped};

/// A problem in a mapping file: where (`table conditions, field 3`) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// `mapping`, `line 4, column 9`, `maps.gender`, `table conditions`, `table conditions, field 3`.
    pub location: String,
    pub reason: String,
}

impl std::fmt::Display for MappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

impl std::error::Error for MappingError {}

/// A compiled mapping: tables that each turn the rows of one kind of CSV file into resources.
#[derive(Debug, Clone)]
pub struct Mapping {
    name: String,
    description: String,
    tables: Vec<Table>,
}

/// One table of a mapping: which files it reads, the resource type it makes and how.
#[derive(Debug, Clone)]
pub struct Table {
    pub(crate) name: String,
    pub(crate) resource_type: String,
    /// File name patterns, lower case (`*` and `?` wildcards).
    pub(crate) files: Vec<String>,
    /// Columns whose presence in a header identifies the table when no file name matches.
    pub(crate) header: Vec<String>,
    pub(crate) columns: Vec<ColumnSpec>,
    pub(crate) id: Template,
    /// `csv|<mapping>|<Type>|`
    pub(crate) id_prefix: String,
    pub(crate) fields: Vec<Field>,
    pub(crate) tree: Vec<(String, Node)>,
    /// How many object nodes the plan has (the resource included).
    pub(crate) objects: usize,
    /// `{"source": "urn:salus:csv:<mapping>:<table>"}`
    pub(crate) meta: Value,
}

const PRESETS: &[(&str, &str)] = &[("synthea", include_str!("../mappings/synthea.toml"))];

impl Mapping {
    /// Load and check a mapping. `Err` lists every problem found.
    pub fn from_toml(text: &str) -> Result<Mapping, Vec<MappingError>> {
        Loader::default().load(text)
    }

    /// A mapping shipped with Salus: `synthea` (Synthea's CSV export).
    pub fn preset(name: &str) -> Option<Mapping> {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
        Mapping::from_toml(text).ok()
    }

    /// The names of the shipped mappings.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|(n, _)| *n)
    }

    /// The text of a shipped mapping (to print, or to copy and adapt).
    pub fn preset_text(name: &str) -> Option<&'static str> {
        PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// The table for a file: the first whose `files` patterns match the file's name (the
    /// directory and a `.gz` suffix ignored, case-insensitive); failing that, the table whose
    /// `header` columns all appear in the header, the one naming the most columns when several
    /// do (none when two tie).
    pub fn table_for(&self, file_name: &str, header: &[&str]) -> Option<&Table> {
        let base = file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file_name)
            .to_ascii_lowercase();
        let base = base.strip_suffix(".gz").unwrap_or(&base);
        if let Some(t) = self
            .tables
            .iter()
            .find(|t| t.files.iter().any(|p| glob(p.as_bytes(), base.as_bytes())))
        {
            return Some(t);
        }
        self.match_header(header)
    }

    fn match_header(&self, header: &[&str]) -> Option<&Table> {
        let has = |c: &str| header.iter().any(|h| h.trim().eq_ignore_ascii_case(c));
        let mut best: Option<&Table> = None;
        let mut tie = false;
        for t in &self.tables {
            if t.header.is_empty() || !t.header.iter().all(|c| has(c)) {
                continue;
            }
            match best {
                Some(b) if b.header.len() > t.header.len() => {}
                Some(b) if b.header.len() == t.header.len() => tie = true,
                _ => {
                    best = Some(t);
                    tie = false;
                }
            }
        }
        if tie {
            None
        } else {
            best
        }
    }

    /// Tables whose header signature the header satisfies (to explain an ambiguity).
    pub(crate) fn header_candidates(&self, header: &[&str]) -> Vec<&str> {
        let has = |c: &str| header.iter().any(|h| h.trim().eq_ignore_ascii_case(c));
        self.tables
            .iter()
            .filter(|t| !t.header.is_empty() && t.header.iter().all(|c| has(c)))
            .map(|t| t.name.as_str())
            .collect()
    }
}

impl Table {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The FHIR resource type each row becomes.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The file name patterns the table reads (lower case).
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Every column the table reads, and whether the header must have it.
    pub fn columns(&self) -> impl Iterator<Item = (&str, bool)> {
        self.columns.iter().map(|c| (c.name.as_str(), !c.optional))
    }

    /// The id of this table's resource for a key (the rendered `id` template): the id the
    /// table gives a row whose key columns render to `key`.
    pub fn id_for_key(&self, key: &str) -> String {
        salus_fhir::ids::derive_id(&format!("{}{key}", self.id_prefix))
    }
}

/// `*` matches any run of bytes, `?` any one byte.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

const TOP_KEYS: &[&str] = &["name", "description", "defaults", "maps", "table"];
const DEFAULT_KEYS: &[&str] = &["zone", "date_format", "datetime_format"];
const TABLE_KEYS: &[&str] = &[
    "name",
    "description",
    "resource",
    "files",
    "header",
    "id",
    "patient",
    "field",
];
const PATIENT_KEYS: &[&str] = &["column", "key", "path", "table"];
const FIELD_KEYS: &[&str] = &[
    "path",
    "column",
    "value",
    "reference",
    "key",
    "type",
    "format",
    "zone",
    "map",
    "unmapped",
    "default",
    "when",
    "required",
    "optional",
    "note",
];
const WHEN_KEYS: &[&str] = &["column", "equals", "one_of", "present"];

/// Resource types whose patient element is not `subject`.
fn default_patient_path(resource_type: &str) -> &'static str {
    match resource_type {
        "AllergyIntolerance"
        | "Immunization"
        | "ImmunizationEvaluation"
        | "ImmunizationRecommendation"
        | "Claim"
        | "ExplanationOfBenefit"
        | "Consent"
        | "FamilyMemberHistory"
        | "Device"
        | "DetectedIssue" => "patient",
        "Coverage" => "beneficiary",
        _ => "subject",
    }
}

#[derive(Default)]
struct Defaults {
    zone: Option<FixedOffset>,
    date_format: Option<String>,
    datetime_format: Option<String>,
}

#[derive(Default)]
struct Loader {
    errors: Vec<MappingError>,
}

/// What the first pass learns about every table, for references between them.
struct TableHead {
    name: String,
    resource_type: String,
}

/// The columns one table reads, registered as fields name them.
#[derive(Default)]
struct Columns {
    specs: Vec<ColumnSpec>,
}

impl Columns {
    fn col(&mut self, name: &str, optional: bool) -> usize {
        if let Some(i) = self
            .specs
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
        {
            self.specs[i].optional &= optional;
            return i;
        }
        self.specs.push(ColumnSpec {
            name: name.to_owned(),
            optional,
        });
        self.specs.len() - 1
    }
}

fn kind_of(v: &Toml) -> &'static str {
    match v {
        Toml::String(_) => "a string",
        Toml::Integer(_) => "an integer",
        Toml::Float(_) => "a float",
        Toml::Boolean(_) => "a boolean",
        Toml::Datetime(_) => "a date-time",
        Toml::Array(_) => "an array",
        Toml::Table(_) => "a table",
    }
}

impl Loader {
    fn err(&mut self, location: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(MappingError {
            location: location.into(),
            reason: reason.into(),
        });
    }

    fn check_keys(&mut self, table: &toml::Table, allowed: &[&str], location: &str) {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(key) || similar(a, key))
                    .map(|a| format!(" (did you mean `{a}`?)"))
                    .unwrap_or_default();
                self.err(
                    location,
                    format!(
                        "unknown key `{key}`{hint}; the keys here are {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn string<'v>(&mut self, table: &'v toml::Table, key: &str, location: &str) -> Option<&'v str> {
        match table.get(key)? {
            Toml::String(s) => Some(s),
            other => {
                self.err(
                    location,
                    format!("`{key}` must be a string, not {}", kind_of(other)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, table: &toml::Table, key: &str, location: &str) -> bool {
        match table.get(key) {
            None => false,
            Some(Toml::Boolean(b)) => *b,
            Some(other) => {
                self.err(
                    location,
                    format!("`{key}` must be true or false, not {}", kind_of(other)),
                );
                false
            }
        }
    }

    fn strings(&mut self, table: &toml::Table, key: &str, location: &str) -> Vec<String> {
        match table.get(key) {
            None => Vec::new(),
            Some(Toml::String(s)) => vec![s.clone()],
            Some(Toml::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Toml::String(s) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
                        other => self.err(
                            location,
                            format!(
                                "`{key}` item {}: must be a non-empty string, not {}",
                                i + 1,
                                kind_of(other)
                            ),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                self.err(
                    location,
                    format!(
                        "`{key}` must be a string or an array of strings, not {}",
                        kind_of(other)
                    ),
                );
                Vec::new()
            }
        }
    }

    fn load(mut self, text: &str) -> Result<Mapping, Vec<MappingError>> {
        let doc: toml::Table = match text.parse::<toml::Table>() {
            Ok(d) => d,
            Err(e) => {
                let location = match e.span() {
                    Some(span) => {
                        let before = &text[..span.start.min(text.len())];
                        let line = before.matches('\n').count() + 1;
                        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                        format!("line {line}, column {column}")
                    }
                    None => "mapping".to_owned(),
                };
                return Err(vec![MappingError {
                    location,
                    reason: format!("not valid TOML: {}", e.message()),
                }]);
            }
        };
        self.check_keys(&doc, TOP_KEYS, "mapping");
        let name = match self.string(&doc, "name", "mapping") {
            Some(n) if is_mapping_name(n) => n.to_owned(),
            Some(_) => {
                self.err("mapping", "`name` must be lower-case letters, digits, `_`, `-` or `.`, starting with a letter or digit (it is part of every resource id)");
                String::new()
            }
            None => {
                if !doc.contains_key("name") {
                    self.err("mapping", "`name` is missing: every mapping is named (e.g. name = \"synthea\"); the name is part of every resource id, so keep it once data is loaded");
                }
                String::new()
            }
        };
        let description = self
            .string(&doc, "description", "mapping")
            .unwrap_or_default()
            .to_owned();
        let defaults = self.defaults(&doc);
        let maps = self.maps(&doc);

        let raw_tables: Vec<&toml::Table> = match doc.get("table") {
            None => {
                self.err("mapping", "no tables: add at least one [[table]]");
                Vec::new()
            }
            Some(Toml::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Toml::Table(t) => out.push(t),
                        other => self.err(
                            format!("table {}", i + 1),
                            format!("must be a table ([[table]]), not {}", kind_of(other)),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                self.err(
                    "mapping",
                    format!(
                        "`table` must be an array of tables ([[table]]), not {}",
                        kind_of(other)
                    ),
                );
                Vec::new()
            }
        };

        // First pass: names and types, so that references can be checked in any order.
        let mut heads: Vec<TableHead> = Vec::new();
        for (i, t) in raw_tables.iter().enumerate() {
            let location = format!("table {}", i + 1);
            let tname = match self.string(t, "name", &location) {
                Some(n) if is_table_name(n) => n.to_owned(),
                Some(_) => {
                    self.err(
                        &location,
                        "`name` must be lower-case letters, digits and `_`, starting with a letter",
                    );
                    format!("#{}", i + 1)
                }
                None => {
                    if !t.contains_key("name") {
                        self.err(
                            &location,
                            "`name` is missing: name the table (e.g. name = \"patients\")",
                        );
                    }
                    format!("#{}", i + 1)
                }
            };
            if heads.iter().any(|h| h.name == tname) {
                self.err(
                    format!("table {tname}"),
                    format!("a second table is named `{tname}`: table names must be unique (references and messages use them)"),
                );
            }
            let resource_type = match self.string(t, "resource", &format!("table {tname}")) {
                Some(r) if salus_fhir::schema::is_resource_type(r) => r.to_owned(),
                Some(r) => {
                    self.err(
                        format!("table {tname}"),
                        format!("`{r}` is not a FHIR R4 resource type (names are case-sensitive, e.g. \"Observation\")"),
                    );
                    String::new()
                }
                None => {
                    if !t.contains_key("resource") {
                        self.err(format!("table {tname}"), "`resource` is missing: the FHIR resource type each row becomes (e.g. resource = \"Condition\")");
                    }
                    String::new()
                }
            };
            heads.push(TableHead {
                name: tname,
                resource_type,
            });
        }

        let mut tables = Vec::new();
        let mut clean = Vec::new();
        let mut seen_files: BTreeMap<String, String> = BTreeMap::new();
        for (t, head) in raw_tables.iter().zip(&heads) {
            let before = self.errors.len();
            if let Some(table) = self.table(t, head, &heads, &name, &defaults, &maps) {
                clean.push(self.errors.len() == before);
                for f in &table.files {
                    if let Some(other) = seen_files.get(f) {
                        self.err(
                            format!("table {}", table.name),
                            format!("file pattern `{f}` is also table {other}'s: a file must name one table"),
                        );
                    } else {
                        seen_files.insert(f.clone(), table.name.clone());
                    }
                }
                tables.push(table);
            }
        }
        // The schema check needs a table whose fields all compiled; the name of the mapping
        // and the other tables do not matter to it.
        for (table, clean) in tables.iter().zip(clean) {
            if clean {
                self.probe(table);
            }
        }
        if self.errors.is_empty() {
            Ok(Mapping {
                name,
                description,
                tables,
            })
        } else {
            Err(self.errors)
        }
    }

    fn defaults(&mut self, doc: &toml::Table) -> Defaults {
        let mut d = Defaults::default();
        let Some(value) = doc.get("defaults") else {
            return d;
        };
        let Toml::Table(t) = value else {
            self.err(
                "defaults",
                format!("must be a table, not {}", kind_of(value)),
            );
            return d;
        };
        self.check_keys(t, DEFAULT_KEYS, "defaults");
        if let Some(z) = self.string(t, "zone", "defaults") {
            match convert::parse_zone(z) {
                Some(z) => d.zone = Some(z),
                None => self.err("defaults", zone_reason()),
            }
        }
        if let Some(f) = self.string(t, "date_format", "defaults") {
            if let Err(e) = DateFormat::compile(f, None, false) {
                self.err("defaults", format!("date_format: {e}"));
            }
            d.date_format = Some(f.to_owned());
        }
        if let Some(f) = self.string(t, "datetime_format", "defaults") {
            if let Err(e) = DateFormat::compile(f, d.zone, true) {
                self.err("defaults", format!("datetime_format: {e}"));
            }
            d.datetime_format = Some(f.to_owned());
        }
        d
    }

    fn maps(&mut self, doc: &toml::Table) -> HashMap<String, Arc<HashMap<String, String>>> {
        let mut out = HashMap::new();
        let Some(value) = doc.get("maps") else {
            return out;
        };
        let Toml::Table(t) = value else {
            self.err(
                "maps",
                format!(
                    "must be a table of maps ([maps.NAME]), not {}",
                    kind_of(value)
                ),
            );
            return out;
        };
        for (name, m) in t {
            let location = format!("maps.{name}");
            if let Some(map) = self.value_map(m, &location) {
                out.insert(name.clone(), Arc::new(map));
            }
        }
        out
    }

    fn value_map(&mut self, m: &Toml, location: &str) -> Option<HashMap<String, String>> {
        let Toml::Table(entries) = m else {
            self.err(
                location,
                format!(
                    "a value map is a table of local code = \"target code\", not {}",
                    kind_of(m)
                ),
            );
            return None;
        };
        let mut map = HashMap::with_capacity(entries.len());
        for (from, to) in entries {
            match to {
                Toml::String(s) => {
                    map.insert(from.trim().to_owned(), s.clone());
                }
                Toml::Integer(i) => {
                    map.insert(from.trim().to_owned(), i.to_string());
                }
                Toml::Boolean(b) => {
                    map.insert(from.trim().to_owned(), b.to_string());
                }
                other => self.err(
                    location,
                    format!(
                        "`{from}` maps to {}: map to a string (decimals as strings, to keep their digits)",
                        kind_of(other)
                    ),
                ),
            }
        }
        if map.is_empty() {
            self.err(location, "the map is empty");
        }
        Some(map)
    }

    fn table(
        &mut self,
        t: &toml::Table,
        head: &TableHead,
        heads: &[TableHead],
        mapping: &str,
        defaults: &Defaults,
        maps: &HashMap<String, Arc<HashMap<String, String>>>,
    ) -> Option<Table> {
        let location = format!("table {}", head.name);
        self.check_keys(t, TABLE_KEYS, &location);
        let files: Vec<String> = self
            .strings(t, "files", &location)
            .into_iter()
            .map(|f| f.to_ascii_lowercase())
            .collect();
        let header = self.strings(t, "header", &location);
        if files.is_empty() && header.is_empty() {
            self.err(&location, "the table names no `files` and no `header`, so no file can be matched to it: add files = [\"name.csv\"] or header = [\"COLUMN\", …]");
        }
        let mut columns = Columns::default();
        let id = match self.string(t, "id", &location) {
            Some(text) => match template(text, &mut columns) {
                Ok(tpl) => Some(tpl),
                Err(e) => {
                    self.err(&location, format!("id: {e}"));
                    None
                }
            },
            None => {
                if !t.contains_key("id") {
                    self.err(&location, "`id` is missing: the columns that identify a row, as a template (id = \"{Id}\", or id = \"{PATIENT}|{CODE}|{START}\"); the resource id is derived from it, so that loading the same file again changes nothing");
                }
                None
            }
        };

        let mut fields: Vec<Field> = Vec::new();
        let mut paths: Vec<Vec<Step>> = Vec::new();
        // The patient link comes first in the resource, after the id.
        if let Some(p) = t.get("patient") {
            if let Some((steps, field)) =
                self.patient_link(p, head, heads, mapping, &mut columns, &location)
            {
                paths.push(steps);
                fields.push(field);
            }
        }
        match t.get("field") {
            None => {}
            Some(Toml::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let flocation = format!("{location}, field {}", i + 1);
                    let Toml::Table(f) = item else {
                        self.err(
                            &flocation,
                            format!("must be a table ([[table.field]]), not {}", kind_of(item)),
                        );
                        continue;
                    };
                    if let Some((steps, mut field)) =
                        self.field(f, heads, mapping, defaults, maps, &mut columns, &flocation)
                    {
                        field.label = format!("field {}", i + 1);
                        paths.push(steps);
                        fields.push(field);
                    }
                }
            }
            Some(other) => self.err(
                &location,
                format!(
                    "`field` must be an array of tables ([[table.field]]), not {}",
                    kind_of(other)
                ),
            ),
        }
        let (tree, objects) = self.tree(&paths, &fields, &location);
        if head.resource_type.is_empty() || head.name.starts_with('#') {
            return None;
        }
        let id = id?;
        Some(Table {
            name: head.name.clone(),
            resource_type: head.resource_type.clone(),
            files,
            header,
            columns: columns.specs,
            id,
            id_prefix: format!("csv|{mapping}|{}|", head.resource_type),
            fields,
            tree,
            objects,
            meta: {
                let mut m = Map::new();
                m.insert(
                    "source".into(),
                    Value::String(format!("urn:salus:csv:{mapping}:{}", head.name)),
                );
                Value::Object(m)
            },
        })
    }

    fn patient_link(
        &mut self,
        p: &Toml,
        head: &TableHead,
        heads: &[TableHead],
        mapping: &str,
        columns: &mut Columns,
        location: &str,
    ) -> Option<(Vec<Step>, Field)> {
        let location = format!("{location}, patient");
        if head.resource_type == "Patient" {
            self.err(&location, "a Patient table has no `patient` link: its own `id` is the patient key other tables name");
            return None;
        }
        let (key_text, path_text, table_name) = match p {
            Toml::String(column) => (format!("{{{column}}}"), None, None),
            Toml::Table(t) => {
                self.check_keys(t, PATIENT_KEYS, &location);
                let key = match (
                    self.string(t, "column", &location),
                    self.string(t, "key", &location),
                ) {
                    (Some(c), None) => format!("{{{c}}}"),
                    (None, Some(k)) => k.to_owned(),
                    _ => {
                        self.err(&location, "give either `column` (the column holding the patient key) or `key` (a template of columns, like the Patient table's `id`)");
                        return None;
                    }
                };
                (
                    key,
                    self.string(t, "path", &location).map(str::to_owned),
                    self.string(t, "table", &location).map(str::to_owned),
                )
            }
            other => {
                self.err(
                    &location,
                    format!(
                        "`patient` is a column name or a table {{ column = …, path = … }}, not {}",
                        kind_of(other)
                    ),
                );
                return None;
            }
        };
        let target = match &table_name {
            Some(n) => match heads.iter().find(|h| &h.name == n) {
                Some(h) if h.resource_type == "Patient" => h,
                Some(_) => {
                    self.err(
                        &location,
                        format!("table `{n}` does not make Patient resources"),
                    );
                    return None;
                }
                None => {
                    self.err(&location, format!("there is no table `{n}`"));
                    return None;
                }
            },
            None => {
                let patients: Vec<&TableHead> = heads
                    .iter()
                    .filter(|h| h.resource_type == "Patient")
                    .collect();
                match patients.as_slice() {
                    [one] => *one,
                    [] => {
                        self.err(&location, "no table of this mapping makes Patient resources, so patient keys cannot be resolved: add a table with resource = \"Patient\"");
                        return None;
                    }
                    _ => {
                        self.err(&location, "several tables make Patient resources: say which holds these patients with table = \"…\"");
                        return None;
                    }
                }
            }
        };
        let path_text =
            path_text.unwrap_or_else(|| default_patient_path(&head.resource_type).into());
        let steps = match path::parse(&path_text) {
            Ok(mut s) => {
                s.push(Step::Key("reference".into()));
                s
            }
            Err(e) => {
                self.err(&location, format!("path: {e}"));
                return None;
            }
        };
        let key = match template(&key_text, columns) {
            Ok(k) => k,
            Err(e) => {
                self.err(&location, format!("key: {e}"));
                return None;
            }
        };
        Some((
            steps,
            Field {
                label: "patient".into(),
                path: path_text,
                source: Source::Reference {
                    key,
                    type_prefix: format!("{}/", target.resource_type),
                    key_prefix: format!("csv|{mapping}|{}|", target.resource_type),
                },
                kind: Kind::String,
                map: None,
                unmapped: Unmapped::Reject,
                default: None,
                when: None,
                required: true,
            },
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn field(
        &mut self,
        f: &toml::Table,
        heads: &[TableHead],
        mapping: &str,
        defaults: &Defaults,
        maps: &HashMap<String, Arc<HashMap<String, String>>>,
        columns: &mut Columns,
        location: &str,
    ) -> Option<(Vec<Step>, Field)> {
        let before = self.errors.len();
        self.check_keys(f, FIELD_KEYS, location);
        let path_text = self.string(f, "path", location).map(str::to_owned);
        let mut steps = match &path_text {
            Some(p) => match path::parse(p) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.err(location, format!("path `{p}`: {e}"));
                    None
                }
            },
            None => {
                if !f.contains_key("path") {
                    self.err(location, "`path` is missing: the element this field sets, e.g. path = \"birthDate\" or path = \"code.coding[0].code\"");
                }
                None
            }
        };
        let optional = self.boolean(f, "optional", location);
        let required = self.boolean(f, "required", location);

        // type
        let type_name = self.string(f, "type", location);
        let zone = match self.string(f, "zone", location) {
            Some(z) => match convert::parse_zone(z) {
                Some(z) => Some(z),
                None => {
                    self.err(location, zone_reason());
                    None
                }
            },
            None => defaults.zone,
        };
        let format = self.string(f, "format", location);
        let value = f.get("value");
        let inferred = match (type_name, value) {
            (Some(t), _) => Some(t),
            (None, Some(Toml::Boolean(_))) => Some("boolean"),
            (None, Some(Toml::Integer(_))) => Some("integer"),
            _ => None,
        };
        let kind = match inferred.unwrap_or("string") {
            "string" => Some(Kind::String),
            "code" => Some(Kind::Code),
            "uri" => Some(Kind::Uri),
            "decimal" => Some(Kind::Decimal),
            "integer" => Some(Kind::Integer),
            "boolean" => Some(Kind::Boolean),
            t @ ("date" | "dateTime" | "instant") => {
                let default_format = match t {
                    "date" => defaults.date_format.as_deref().unwrap_or("%Y-%m-%d"),
                    _ => defaults.datetime_format.as_deref().unwrap_or("rfc3339"),
                };
                let text = format.unwrap_or(default_format);
                match DateFormat::compile(text, zone, t != "date") {
                    Ok(df) if t == "instant" && !df.has_time() => {
                        self.err(location, format!("format `{text}`: an instant needs a time (hours, minutes, seconds) as well as a date"));
                        None
                    }
                    Ok(df) => Some(match t {
                        "date" => Kind::Date(df),
                        "dateTime" => Kind::DateTime(df),
                        _ => Kind::Instant(df),
                    }),
                    Err(e) => {
                        self.err(location, format!("format: {e}"));
                        None
                    }
                }
            }
            other => {
                let hint = KIND_NAMES
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(other))
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                self.err(
                    location,
                    format!(
                        "unknown type `{other}`{hint}; the types are {}",
                        KIND_NAMES.join(", ")
                    ),
                );
                None
            }
        };
        if let Some(k) = &kind {
            if !k.is_temporal() && format.is_some() {
                self.err(
                    location,
                    format!(
                        "`format` applies to date, dateTime and instant fields, not {}",
                        k.name()
                    ),
                );
            }
        }

        // when
        let when = match f.get("when") {
            None => None,
            Some(Toml::Table(w)) => self.when(w, columns, optional, location),
            Some(other) => {
                self.err(
                    location,
                    format!(
                        "`when` is a table {{ column = …, equals = … }}, not {}",
                        kind_of(other)
                    ),
                );
                None
            }
        };

        // map
        let map = match f.get("map") {
            None => None,
            Some(Toml::String(name)) => match maps.get(name) {
                Some(m) => Some(m.clone()),
                None => {
                    self.err(location, format!("map `{name}` is not defined: add a [maps.{name}] table, or write the map inline"));
                    None
                }
            },
            Some(m @ Toml::Table(_)) => self.value_map(m, location).map(Arc::new),
            Some(other) => {
                self.err(
                    location,
                    format!(
                        "`map` is the name of a [maps.NAME] table or an inline table, not {}",
                        kind_of(other)
                    ),
                );
                None
            }
        };
        let unmapped = match self.string(f, "unmapped", location) {
            None => Unmapped::Reject,
            Some("reject") => Unmapped::Reject,
            Some("omit") => Unmapped::Omit,
            Some("keep") => Unmapped::Keep,
            Some(other) => {
                self.err(location, format!("unmapped = `{other}`: use \"reject\" (the row is rejected), \"omit\" (the element is left out) or \"keep\" (the value is used as it is)"));
                Unmapped::Reject
            }
        };
        if f.contains_key("unmapped") && map.is_none() && !f.contains_key("map") {
            self.err(location, "`unmapped` needs a `map`");
        }
        if let (Some(m), Some(k)) = (&map, &kind) {
            let mut bad: Vec<&str> = m
                .iter()
                .filter(|(_, to)| k.convert(to.trim()).is_err() || to.trim().is_empty())
                .map(|(from, _)| from.as_str())
                .collect();
            bad.sort_unstable();
            if !bad.is_empty() {
                self.err(
                    location,
                    format!(
                        "the map's values for {} are not valid {} values",
                        bad.iter()
                            .map(|b| format!("`{b}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        k.name()
                    ),
                );
            }
        }

        // default
        let default = match (f.get("default"), &kind) {
            (None, _) => None,
            (Some(d), Some(k)) => self.constant(d, k, location, "default"),
            (Some(_), None) => None,
        };

        // source
        let column = self.string(f, "column", location);
        let reference = self.string(f, "reference", location);
        let key = self.string(f, "key", location);
        let source = match (column, value, reference) {
            (Some(c), None, None) => {
                if key.is_some() {
                    self.err(location, "`key` goes with `reference`");
                }
                if c.trim().is_empty() {
                    self.err(location, "`column` is empty");
                    None
                } else {
                    Some(Source::Column(columns.col(c.trim(), optional)))
                }
            }
            (None, Some(v), None) => {
                for k in ["map", "unmapped", "default", "required", "optional", "key"] {
                    if f.contains_key(k) {
                        self.err(location, format!("`{k}` applies to column fields; this field is a constant (`value`)"));
                    }
                }
                kind.as_ref()
                    .and_then(|k| self.constant(v, k, location, "value"))
                    .map(Source::Constant)
            }
            (column, None, Some(target)) => {
                let key_text = match (column, key) {
                    (Some(c), None) => Some(format!("{{{}}}", c.trim())),
                    (None, Some(k)) => Some(k.to_owned()),
                    _ => {
                        self.err(location, "a reference needs either `column` (the column holding the other table's key) or `key` (a template, like the other table's `id`)");
                        None
                    }
                };
                if type_name.is_some() || f.contains_key("map") {
                    self.err(
                        location,
                        "a reference has no `type` or `map`: its value is `<Type>/<id>`",
                    );
                }
                let target_head = heads.iter().find(|h| h.name == target);
                if target_head.is_none() {
                    let names: Vec<&str> = heads.iter().map(|h| h.name.as_str()).collect();
                    self.err(
                        location,
                        format!(
                            "reference = `{target}`: there is no such table (the tables are {})",
                            names.join(", ")
                        ),
                    );
                }
                match (key_text, target_head) {
                    (Some(kt), Some(h)) => match template(&kt, columns) {
                        Ok(tpl) => {
                            // The reference's value goes in `<path>.reference`.
                            if let Some(s) = steps.as_mut() {
                                s.push(Step::Key("reference".into()));
                            }
                            Some(Source::Reference {
                                key: tpl,
                                type_prefix: format!("{}/", h.resource_type),
                                key_prefix: format!("csv|{mapping}|{}|", h.resource_type),
                            })
                        }
                        Err(e) => {
                            self.err(location, format!("key: {e}"));
                            None
                        }
                    },
                    _ => None,
                }
            }
            (None, None, None) => {
                self.err(location, "the field has no source: give `column` (a CSV column), `value` (a constant) or `reference` (another table's resource)");
                None
            }
            _ => {
                self.err(
                    location,
                    "give only one of `column`, `value` and `reference`",
                );
                None
            }
        };
        if self.errors.len() > before {
            return None;
        }
        Some((
            steps?,
            Field {
                label: String::new(),
                path: path_text.unwrap_or_default(),
                source: source?,
                kind: kind?,
                map,
                unmapped,
                default,
                when,
                required,
            },
        ))
    }

    fn when(
        &mut self,
        w: &toml::Table,
        columns: &mut Columns,
        optional: bool,
        location: &str,
    ) -> Option<Cond> {
        self.check_keys(w, WHEN_KEYS, &format!("{location}, when"));
        let Some(column) = self.string(w, "column", location) else {
            self.err(
                location,
                "`when` needs `column`: the column the condition reads",
            );
            return None;
        };
        let tests = [w.get("equals"), w.get("one_of"), w.get("present")];
        if tests.iter().flatten().count() != 1 {
            self.err(location, "`when` needs exactly one of `equals = \"…\"`, `one_of = [\"…\", …]` and `present = true|false`");
            return None;
        }
        let test = if let Some(v) = w.get("equals") {
            match v {
                Toml::String(s) => Test::Equals(s.trim().to_owned()),
                other => {
                    self.err(
                        location,
                        format!("`when.equals` must be a string, not {}", kind_of(other)),
                    );
                    return None;
                }
            }
        } else if w.contains_key("one_of") {
            let items = self.strings(w, "one_of", location);
            if items.is_empty() {
                self.err(location, "`when.one_of` is empty");
                return None;
            }
            Test::OneOf(items)
        } else {
            match w.get("present") {
                Some(Toml::Boolean(b)) => Test::Present(*b),
                _ => {
                    self.err(location, "`when.present` must be true or false");
                    return None;
                }
            }
        };
        Some(Cond {
            col: columns.col(column.trim(), optional),
            test,
        })
    }

    /// A constant (`value` or `default`), converted by the field's type now, so that a bad
    /// constant is a mapping error rather than a reason every row is rejected.
    fn constant(&mut self, v: &Toml, kind: &Kind, location: &str, key: &str) -> Option<Value> {
        let text = match v {
            Toml::String(s) => s.trim().to_owned(),
            Toml::Integer(i) => i.to_string(),
            Toml::Boolean(b) => b.to_string(),
            Toml::Float(_) => {
                self.err(location, format!("`{key}` is a float, which would lose its digits: write it as a string with type = \"decimal\" ({key} = \"1.50\")"));
                return None;
            }
            other => {
                self.err(
                    location,
                    format!(
                        "`{key}` must be a string, integer or boolean, not {}",
                        kind_of(other)
                    ),
                );
                return None;
            }
        };
        if text.is_empty() {
            self.err(location, format!("`{key}` is empty"));
            return None;
        }
        match kind.convert(&text) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.err(location, format!("`{key}`: {reason}"));
                None
            }
        }
    }

    /// Merge the fields' paths into the output tree, reporting conflicts.
    fn tree(
        &mut self,
        paths: &[Vec<Step>],
        fields: &[Field],
        location: &str,
    ) -> (Vec<(String, Node)>, usize) {
        let mut root = Node::Object {
            children: Vec::new(),
            reads_column: false,
            id: 0,
        };
        for (i, steps) in paths.iter().enumerate() {
            if let Err(reason) = insert(&mut root, steps, i, fields) {
                self.err(format!("{location}, {}", fields[i].label), reason);
            }
        }
        let mut objects = 0;
        mark(&mut root, fields, &mut objects);
        match root {
            Node::Object { children, .. } => (children, objects),
            _ => (Vec::new(), 1),
        }
    }

    /// Build the table's resource with every field yielding a value, and check it against
    /// the FHIR R4 schema.
    fn probe(&mut self, table: &Table) {
        let values: Vec<Value> = table.fields.iter().map(placeholder).collect();
        let resource = plan::build_resource(
            &table.tree,
            [
                ("resourceType", Value::String(table.resource_type.clone())),
                ("id", Value::String("probe".into())),
                ("meta", table.meta.clone()),
            ],
            &mut |f| Ok(Some((values[f].clone(), true))),
            &mut plan::Templates::new(table.objects),
        )
        .map(Value::Object)
        .unwrap_or_default();
        let Err(issues) = salus_fhir::schema::validate(&resource) else {
            return;
        };
        let base = format!("table {}", table.name);
        for issue in issues {
            let at = issue.expression.first().cloned().unwrap_or_default();
            let field = attribute(table, &at, &issue.diagnostics);
            if let Some(i) = field {
                let f = &table.fields[i];
                let generic =
                    matches!(f.source, Source::Column(_)) && f.map.is_none() && f.default.is_none();
                // A column's own codes are the data's business; a placeholder cannot be
                // expected to be one of an element's codes.
                if generic && issue.diagnostics.contains("is not one of") {
                    continue;
                }
            }
            let location = match field {
                Some(i) => format!("{base}, {}", table.fields[i].label),
                None => base.clone(),
            };
            let hint = if issue.diagnostics.contains("is a required property") {
                " (FHIR R4 requires it: add a field that sets it, e.g. a constant `value`)"
            } else if issue.diagnostics.contains("was unexpected") {
                " (no such element in FHIR R4 here: check the spelling and the resource type's elements)"
            } else if issue.diagnostics.contains("is not of type \"array\"") {
                " (the element repeats in FHIR R4: give it an index, e.g. `name[0]`)"
            } else if issue.diagnostics.contains("is not of type \"object\"") {
                " (the element is an object in FHIR R4, e.g. a CodeableConcept: set one of its parts, like `.text` or `.coding[0].code`)"
            } else if issue.diagnostics.contains("is not of type") {
                " (the element has another type in FHIR R4: check the field's `type`)"
            } else {
                ""
            };
            self.err(
                location,
                format!(
                    "the FHIR R4 schema rejects the resource this table builds: {}{hint}",
                    issue.diagnostics
                ),
            );
        }
    }
}

/// Which field an issue at `at` (`Patient.name[0]`) is about, if one can be told.
fn attribute(table: &Table, at: &str, diagnostics: &str) -> Option<usize> {
    let full = |f: &Field| -> String {
        let mut p = format!("{}.{}", table.resource_type, f.path);
        if matches!(f.source, Source::Reference { .. }) {
            p.push_str(".reference");
        }
        p
    };
    // A missing element is the table's problem, not one field's.
    if diagnostics.contains("is a required property") {
        return None;
    }
    // An unexpected element: the field whose path continues with it.
    if let Some(start) = diagnostics.find("('") {
        let name: String = diagnostics[start + 2..]
            .chars()
            .take_while(|c| *c != '\'')
            .collect();
        let prefix = format!("{at}.{name}");
        if let Some(i) = table.fields.iter().position(|f| {
            let p = full(f);
            p == prefix
                || p.starts_with(&format!("{prefix}."))
                || p.starts_with(&format!("{prefix}["))
        }) {
            return Some(i);
        }
    }
    table.fields.iter().position(|f| full(f) == at).or_else(|| {
        table.fields.iter().position(|f| {
            let p = full(f);
            p.starts_with(&format!("{at}.")) || p.starts_with(&format!("{at}["))
        })
    })
}

fn placeholder(f: &Field) -> Value {
    if let Source::Constant(v) = &f.source {
        return v.clone();
    }
    if let Source::Reference { type_prefix, .. } = &f.source {
        return Value::String(format!("{type_prefix}00000000-0000-0000-0000-000000000000"));
    }
    if let Some(d) = &f.default {
        return d.clone();
    }
    if let Some(m) = &f.map {
        if let Some((_, to)) = m.iter().min_by(|a, b| a.0.cmp(b.0)) {
            if let Ok(v) = f.kind.convert(to.trim()) {
                return v;
            }
        }
    }
    match &f.kind {
        Kind::String => Value::String("x".into()),
        Kind::Code => Value::String("x".into()),
        Kind::Uri => Value::String("urn:x".into()),
        Kind::Decimal => Value::from(1),
        Kind::Integer => Value::from(1),
        Kind::Boolean => Value::Bool(true),
        Kind::Date(_) => Value::String("2000-01-01".into()),
        Kind::DateTime(_) | Kind::Instant(_) => Value::String("2000-01-01T00:00:00Z".into()),
    }
}

fn insert(node: &mut Node, steps: &[Step], field: usize, fields: &[Field]) -> Result<(), String> {
    let conflict = |other: &str| {
        format!(
            "path `{}` conflicts with {other}: one element cannot be both a value and an object or array",
            fields[field].path
        )
    };
    let Some((step, rest)) = steps.split_first() else {
        return match node {
            Node::Leaf(list) => {
                // A constant without a condition always yields: a later field at its path
                // could never apply.
                if let Some(&last) = list.last() {
                    let f = &fields[last];
                    if matches!(f.source, Source::Constant(_)) && f.when.is_none() {
                        return Err(format!(
                            "path `{}` is already set by {}, a constant without `when`, so this field would never apply: give the constant a `when`, or remove one",
                            fields[field].path, f.label
                        ));
                    }
                }
                list.push(field);
                Ok(())
            }
            Node::Object { .. } | Node::Array { .. } => {
                Err(conflict("the fields that set elements inside it"))
            }
        };
    };
    match (step, node) {
        (Step::Key(k), Node::Object { children, .. }) => {
            let at = match children.iter().position(|(name, _)| name == k) {
                Some(i) => i,
                None if children.len() >= plan::MAX_CHILDREN => {
                    return Err(format!(
                        "path `{}`: more than {} elements in one object",
                        fields[field].path,
                        plan::MAX_CHILDREN
                    ))
                }
                None => {
                    children.push((k.clone(), new_node(rest)));
                    children.len() - 1
                }
            };
            insert(&mut children[at].1, rest, field, fields)
        }
        (Step::Index(i), Node::Array { elements, .. }) => {
            let at = match elements.binary_search_by_key(i, |(n, _)| *n) {
                Ok(at) => at,
                Err(at) => {
                    elements.insert(at, (*i, new_node(rest)));
                    at
                }
            };
            insert(&mut elements[at].1, rest, field, fields)
        }
        (Step::Key(_), Node::Array { .. }) => Err(format!(
            "path `{}`: another field gives this element an index (it is an array there); use the same form in both",
            fields[field].path
        )),
        (Step::Index(_), Node::Object { .. }) => Err(format!(
            "path `{}`: another field uses this element without an index; use the same form in both",
            fields[field].path
        )),
        (_, Node::Leaf(list)) => Err(conflict(&format!(
            "{}, which sets the element itself",
            list.first().map_or("another field", |&f| fields[f].label.as_str())
        ))),
    }
}

fn new_node(rest: &[Step]) -> Node {
    match rest.first() {
        None => Node::Leaf(Vec::new()),
        Some(Step::Key(_)) => Node::Object {
            children: Vec::new(),
            reads_column: false,
            id: 0,
        },
        Some(Step::Index(_)) => Node::Array {
            elements: Vec::new(),
            reads_column: false,
        },
    }
}

/// Fill in `reads_column` bottom-up, and number the objects (the root is 0).
fn mark(node: &mut Node, fields: &[Field], objects: &mut usize) -> bool {
    match node {
        Node::Leaf(list) => list.iter().any(|&f| fields[f].reads_column()),
        Node::Object {
            children,
            reads_column,
            id,
        } => {
            *id = *objects;
            *objects += 1;
            let mut any = false;
            for (_, c) in children.iter_mut() {
                any |= mark(c, fields, objects);
            }
            *reads_column = any;
            any
        }
        Node::Array {
            elements,
            reads_column,
        } => {
            let mut any = false;
            for (_, c) in elements.iter_mut() {
                any |= mark(c, fields, objects);
            }
            *reads_column = any;
            any
        }
    }
}

/// Parse a key template: `{Id}`, `{PATIENT}|{CODE}|{START}`; `{X?}` may be empty.
fn template(text: &str, columns: &mut Columns) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut any_column = false;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            Some(i) if rest.as_bytes()[i] == b'}' => {
                return Err(format!("`{text}`: a `}}` without its `{{`"));
            }
            Some(i) => {
                if i > 0 {
                    parts.push(Part::Text(rest[..i].to_owned()));
                }
                let after = &rest[i + 1..];
                let Some(close) = after.find('}') else {
                    return Err(format!("`{text}`: a `{{` without its `}}`"));
                };
                let inner = after[..close].trim();
                let (name, optional) = match inner.strip_suffix('?') {
                    Some(n) => (n.trim(), true),
                    None => (inner, false),
                };
                if name.is_empty() || name.contains('{') {
                    return Err(format!(
                        "`{text}`: a placeholder names a column, e.g. {{Id}}"
                    ));
                }
                parts.push(Part::Column {
                    col: columns.col(name, false),
                    optional,
                });
                any_column = true;
                rest = &after[close + 1..];
            }
            None => {
                parts.push(Part::Text(rest.to_owned()));
                rest = "";
            }
        }
    }
    if !any_column {
        return Err(format!("`{text}` names no column: every row would get the same id; write the identifying columns in braces, e.g. \"{{Id}}\""));
    }
    Ok(Template { parts })
}

fn zone_reason() -> String {
    "`zone` is a fixed UTC offset: \"Z\", \"UTC\", \"+01:00\", \"-05:00\" (zones with daylight saving time cannot be stated: export the offset with each time, %z)".into()
}

fn is_mapping_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.')
        })
}

fn is_table_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// One edit apart (for "did you mean").
fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"patients.csv", b"patients.csv"));
        assert!(glob(b"patients*.csv", b"patients_2.csv"));
        assert!(glob(b"*.csv", b"x.csv"));
        assert!(glob(b"p?.csv", b"p1.csv"));
        assert!(!glob(b"patients.csv", b"patients.csv.bak"));
        assert!(!glob(b"p?.csv", b"p12.csv"));
    }

    #[test]
    fn templates() {
        let mut cols = Columns::default();
        let t = template("{PATIENT}|{CODE}|{START?}", &mut cols).unwrap();
        assert_eq!(t.parts.len(), 5);
        assert_eq!(cols.specs.len(), 3);
        assert!(template("fixed", &mut cols).is_err());
        assert!(template("{A", &mut cols).is_err());
        assert!(template("A}", &mut cols).is_err());
        assert!(template("{}", &mut cols).is_err());
    }

    #[test]
    fn similarity() {
        assert!(similar("column", "colum"));
        assert!(similar("column", "colunm") || !similar("column", "colunm"));
        assert!(!similar("column", "value"));
    }
}
