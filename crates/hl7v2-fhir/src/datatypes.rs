//! v2 data types → FHIR data types: CWE → CodeableConcept, CX/EI → Identifier, XPN →
//! HumanName, XAD → Address, XTN → ContactPoint, XCN/CNN → Practitioner reference, PL →
//! Location reference, NM → decimal, NM + CWE unit → Quantity. (TS is in [`crate::ts`].)

use std::borrow::Cow;

use salus_hl7v2::{Rep, Segment};
use serde_json::{Map, Number, Value};

use crate::tables;
use crate::v2::{Parts, RepExt};
use crate::{ids, nonempty, put, put_opt, text, Ctx, Shape};

/// `Coding`, or `None` without a code.
pub fn coding(system: Option<&str>, code: &str, display: &str) -> Option<Value> {
    static SHAPE: Shape = Shape::new(&["system", "code", "display"], 0);
    if code.is_empty() {
        return None;
    }
    Some(Value::Object(SHAPE.build_some([
        system.and_then(text),
        Some(Value::String(code.into())),
        text(display),
    ])))
}

/// The FHIR system for a v2 coding-system name (table 0396); a name FHIR has no URI for is
/// kept as `urn:hl7v2:codesystem:<name>` so the code keeps its meaning.
pub fn system_for<'d>(name: &str, default: Option<&'d str>) -> Option<Cow<'d, str>> {
    if name.is_empty() {
        return default.map(Cow::Borrowed);
    }
    Some(
        tables::coding_system_cow(name)
            .unwrap_or_else(|| Cow::Owned(ids::prefixed_uri("urn:hl7v2:codesystem:", name))),
    )
}

/// CWE/CE/CNE (components: 1 code, 2 text, 3 system, 4-6 alternate, 9 original text) →
/// CodeableConcept. `default_system` applies when CWE-3 is empty and the field has a table.
pub fn cwe(rep: &Rep<'_>, default_system: Option<&str>) -> Option<Value> {
    let rep = &Parts::new(rep);
    let code = rep.c(1);
    let text = rep.c(2);
    let mut codings = Vec::new();
    let system = system_for(&rep.c(3), default_system);
    codings.extend(coding(system.as_deref(), &code, &text));
    let alt_code = rep.c(4);
    if !alt_code.is_empty() {
        let alt_system = system_for(&rep.c(6), None);
        codings.extend(coding(alt_system.as_deref(), &alt_code, &rep.c(5)));
    }
    let original = rep.c(9);
    let text = if original.is_empty() { text } else { original };
    if codings.is_empty() && text.is_empty() {
        return None;
    }
    static CONCEPT: Shape = Shape::new(&["coding", "text"], 0);
    Some(Value::Object(
        CONCEPT.build_some([nonempty(codings), crate::text(&text)]),
    ))
}

/// A CodeableConcept with one coding and no text.
pub fn concept(system: &str, code: &str, display: &str) -> Value {
    jv!({ "coding": [coding(Some(system), code, display)] })
}

/// A v2 code from a table, as a CodeableConcept in that table's FHIR code system.
pub fn table_concept(table: &str, code: &str, display: &str) -> Option<Value> {
    if code.is_empty() {
        return None;
    }
    Some(concept(&tables::v2_system(table), code, display))
}

/// `Identifier.system` for an assigning authority (HD namespace, universal id, universal id
/// type): configured system, else `urn:oid:` / `urn:uuid:` / the URI itself, else
/// `urn:hl7v2:authority:<namespace>`.
pub fn authority_system(
    ctx: &Ctx<'_>,
    namespace: &str,
    universal: &str,
    kind: &str,
) -> Option<String> {
    for key in [namespace, universal] {
        if !key.is_empty() {
            if let Some(system) = ctx.options.authority_systems.get(key) {
                return Some(system.clone());
            }
        }
    }
    if !universal.is_empty() {
        match kind.to_ascii_uppercase().as_str() {
            "ISO" if universal.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                return Some(format!("urn:oid:{universal}"))
            }
            "UUID" => return Some(format!("urn:uuid:{}", universal.to_ascii_lowercase())),
            "URI" | "URL" if universal.contains(':') => return Some(universal.to_string()),
            _ => {}
        }
    }
    let name = if namespace.is_empty() {
        universal
    } else {
        namespace
    };
    (!name.is_empty()).then(|| ids::prefixed_uri("urn:hl7v2:authority:", name))
}

/// The authority of an HD-typed component: namespace, else universal id.
pub fn authority_name<'a>(rep: &impl RepExt<'a>, component: usize) -> String {
    let ns = rep.s(component, 1);
    if ns.is_empty() {
        rep.s(component, 2).into_owned()
    } else {
        ns.into_owned()
    }
}

/// CX (1 id, 4 assigning authority, 5 type, 7/8 validity) → Identifier. `fallback` is the
/// authority to assume when CX-4 is empty (patient identifiers: the options' default or MSH-4).
pub fn cx(
    ctx: &mut Ctx<'_>,
    seg: &Segment<'_>,
    field: usize,
    rep: &Rep<'_>,
    fallback: Option<&str>,
) -> Option<Value> {
    let rep = &Parts::new(rep);
    let value = rep.c(1);
    if value.is_empty() {
        return None;
    }
    let (ns, uid, kind) = (rep.s(4, 1), rep.s(4, 2), rep.s(4, 3));
    let type_code = rep.c(5).to_ascii_uppercase();
    let configured = [ns.as_ref(), uid.as_ref()]
        .iter()
        .find_map(|k| ctx.options.authority_systems.get(*k).cloned());
    let system = configured
        .or_else(|| match type_code.as_str() {
            "SS" => Some(tables::US_SSN.to_string()),
            "NPI" => Some(tables::US_NPI.to_string()),
            _ => None,
        })
        .or_else(|| authority_system(ctx, &ns, &uid, &kind))
        .or_else(|| fallback.and_then(|a| authority_system(ctx, a, "", "")));
    static IDENTIFIER: Shape = Shape::new(&["type", "system", "value", "period", "assigner"], 0);
    static PERIOD: Shape = Shape::new(&["start", "end"], 0);
    let type_concept = (!type_code.is_empty()).then(|| {
        let display = tables::identifier_type_display(&type_code).unwrap_or("");
        concept(&tables::v2_system("0203"), &type_code, display)
    });
    let start = rep.c(7);
    let end = rep.c(8);
    let start = ctx.date_time(seg, field, &start).and_then(nonempty);
    let end = ctx.date_time(seg, field, &end).and_then(nonempty);
    let period =
        (start.is_some() || end.is_some()).then(|| Value::Object(PERIOD.build_some([start, end])));
    let assigner = if ns.is_empty() { uid } else { ns };
    let assigner = (!assigner.is_empty()).then(|| jv!({ "display": assigner }));
    Some(Value::Object(IDENTIFIER.build_some([
        type_concept,
        system.and_then(nonempty),
        Some(Value::String(value.into_owned())),
        period,
        assigner,
    ])))
}

/// EI (1 id, 2 namespace, 3 universal id, 4 type) as (value, authority).
pub fn ei(rep: &Rep<'_>, component: Option<usize>) -> (String, String, String, String) {
    match component {
        // EI inside a component (EIP, OBR-29...): subcomponents.
        Some(c) => {
            let comp = rep.component(c);
            let sub = |n: usize| crate::v2::clean(comp.sub_value(n)).into_owned();
            (sub(1), sub(2), sub(3), sub(4))
        }
        None => {
            let rep = Parts::new(rep);
            (
                rep.c(1).into_owned(),
                rep.c(2).into_owned(),
                rep.c(3).into_owned(),
                rep.c(4).into_owned(),
            )
        }
    }
}

/// EI → Identifier with an optional v2-0203 type (PLAC, FILL).
/// The placer (`PLAC`) and filler (`FILL`) order numbers as identifiers, those present.
pub fn order_identifiers(
    ctx: &Ctx<'_>,
    placer: &(String, String, String, String),
    filler: &(String, String, String, String),
) -> Vec<Value> {
    [
        ei_identifier(ctx, placer, Some("PLAC")),
        ei_identifier(ctx, filler, Some("FILL")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn ei_identifier(
    ctx: &Ctx<'_>,
    (value, ns, uid, kind): &(String, String, String, String),
    type_code: Option<&str>,
) -> Option<Value> {
    if value.is_empty() {
        return None;
    }
    let mut id = Map::new();
    if let Some(t) = type_code {
        id.insert(
            "type".into(),
            concept(
                &tables::v2_system("0203"),
                t,
                tables::identifier_type_display(t).unwrap_or(""),
            ),
        );
    }
    put_opt(&mut id, "system", authority_system(ctx, ns, uid, kind));
    id.insert("value".into(), Value::String(value.clone()));
    Some(Value::Object(id))
}

/// XPN (1 family, 2 given, 3 further given, 4 suffix, 5 prefix, 6 degree, 7 name type) →
/// HumanName.
pub fn xpn(rep: &Rep<'_>) -> Option<Value> {
    let rep = &Parts::new(rep);
    human_name(
        &rep.s(1, 1),
        &[&rep.c(2), &rep.c(3)],
        &[&rep.c(5)],
        &[&rep.c(4), &rep.c(6)],
        tables::name_use(&rep.c(7)),
    )
}

fn human_name(
    family: &str,
    given: &[&str],
    prefix: &[&str],
    suffix: &[&str],
    name_use: Option<&str>,
) -> Option<Value> {
    let list = |parts: &[&str]| -> Vec<Value> {
        parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    let given = list(given);
    if family.is_empty() && given.is_empty() {
        return None;
    }
    static NAME: Shape = Shape::new(&["use", "family", "given", "prefix", "suffix"], 0);
    Some(Value::Object(NAME.build_some([
        name_use.and_then(text),
        text(family),
        nonempty(given),
        nonempty(list(prefix)),
        nonempty(list(suffix)),
    ])))
}

/// XAD (1 street, 2 other designation, 3 city, 4 state, 5 zip, 6 country, 7 type, 9 county)
/// → Address.
pub fn xad(rep: &Rep<'_>) -> Option<Value> {
    let rep = &Parts::new(rep);
    let mut line = Vec::new();
    let street = rep.s(1, 1);
    if street.is_empty() {
        // SAD split into its parts: dwelling number (3) and street name (2).
        let joined = [rep.s(1, 3), rep.s(1, 2)]
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.as_ref())
            .collect::<Vec<_>>()
            .join(" ");
        if !joined.is_empty() {
            line.push(Value::String(joined));
        }
    } else {
        line.push(Value::String(street.into_owned()));
    }
    let other = rep.c(2);
    if !other.is_empty() {
        line.push(Value::String(other.into_owned()));
    }
    let mut a = Map::new();
    let (address_use, address_type) = tables::address_use_type(&rep.c(7));
    put_opt(&mut a, "use", address_use);
    put_opt(&mut a, "type", address_type);
    put(&mut a, "line", line);
    put(&mut a, "city", rep.c(3).as_ref());
    put(&mut a, "district", rep.c(9).as_ref());
    put(&mut a, "state", rep.c(4).as_ref());
    put(&mut a, "postalCode", rep.c(5).as_ref());
    put(&mut a, "country", rep.c(6).as_ref());
    // Only the use and type: no address.
    let has_content = a.keys().any(|k| !matches!(k.as_str(), "use" | "type"));
    has_content.then_some(Value::Object(a))
}

/// XTN (1 number as text, 2 use, 3 equipment, 4 email, 5 country, 6 area, 7 local, 8
/// extension, 12 unformatted) → ContactPoint.
pub fn xtn(rep: &Rep<'_>, default_use: Option<&str>) -> Option<Value> {
    let rep = &Parts::new(rep);
    let use_code = rep.c(2).to_ascii_uppercase();
    let equipment = rep.c(3).to_ascii_uppercase();
    let email = rep.c(4);
    let text = rep.c(1);
    let mut system = tables::telecom_system(&equipment);
    if system.is_none() && (use_code == "NET" || (!email.is_empty() && text.is_empty())) {
        system = Some("email");
    }
    let value = if system == Some("email") {
        if email.is_empty() {
            text.into_owned()
        } else {
            email.into_owned()
        }
    } else {
        let (country, area, local, ext) = (rep.c(5), rep.c(6), rep.c(7), rep.c(8));
        if !local.is_empty() {
            let mut v = String::new();
            if !country.is_empty() {
                v.push('+');
                v.push_str(&country);
                v.push(' ');
            }
            if !area.is_empty() {
                v.push('(');
                v.push_str(&area);
                v.push_str(") ");
            }
            v.push_str(&local);
            if !ext.is_empty() {
                v.push_str(" ext. ");
                v.push_str(&ext);
            }
            v
        } else if !text.is_empty() {
            text.into_owned()
        } else {
            rep.c(12).into_owned()
        }
    };
    if value.is_empty() {
        return None;
    }
    let system = system.unwrap_or("phone");
    let contact_use = if equipment == "CP" {
        Some("mobile")
    } else {
        tables::telecom_use(&use_code).or(default_use)
    };
    static CONTACT: Shape = Shape::new(&["system", "value", "use"], 0);
    Some(Value::Object(CONTACT.build_some([
        Some(Value::String(system.into())),
        Some(Value::String(value)),
        contact_use.and_then(crate::text),
    ])))
}

/// A person as XCN or CNN writes them, borrowing from the message where no escape had to be
/// decoded (a person is read for every clinician field, and most name nobody new).
#[derive(Debug, Default)]
pub struct Person<'a> {
    pub id: Cow<'a, str>,
    pub family: Cow<'a, str>,
    pub given: Cow<'a, str>,
    pub middle: Cow<'a, str>,
    pub suffix: Cow<'a, str>,
    pub prefix: Cow<'a, str>,
    pub degree: Cow<'a, str>,
    pub authority_ns: Cow<'a, str>,
    pub authority_uid: Cow<'a, str>,
    pub authority_type: Cow<'a, str>,
    pub id_type: Cow<'a, str>,
}

impl<'a> Person<'a> {
    /// XCN: 1 id, 2 family, 3 given, 4 middle, 5 suffix, 6 prefix, 7 degree, 9 authority,
    /// 13 identifier type.
    pub fn xcn(rep: &Rep<'a>) -> Person<'a> {
        let rep = &Parts::new(rep);
        Person {
            id: rep.c(1),
            family: rep.s(2, 1),
            given: rep.c(3),
            middle: rep.c(4),
            suffix: rep.c(5),
            prefix: rep.c(6),
            degree: rep.c(7),
            authority_ns: rep.s(9, 1),
            authority_uid: rep.s(9, 2),
            authority_type: rep.s(9, 3),
            id_type: rep.c(13),
        }
    }

    /// CNN inside component `c` (OBR-32 and friends): the same parts as subcomponents, 9-11
    /// the authority.
    pub fn cnn(rep: &Rep<'a>, c: usize) -> Person<'a> {
        // The component is found once; its subcomponents are short.
        let comp = rep.component(c);
        let sub = |n: usize| crate::v2::clean(comp.sub_value(n));
        Person {
            id: sub(1),
            family: sub(2),
            given: sub(3),
            middle: sub(4),
            suffix: sub(5),
            prefix: sub(6),
            degree: sub(7),
            authority_ns: sub(9),
            authority_uid: sub(10),
            authority_type: sub(11),
            id_type: Cow::Borrowed(""),
        }
    }

    fn display(&self) -> String {
        let parts = [
            &self.prefix,
            &self.given,
            &self.middle,
            &self.family,
            &self.suffix,
        ];
        let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for part in parts.iter().filter(|p| !p.is_empty()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
        out
    }
}

/// A reference to the Practitioner a person field names, emitting the Practitioner (once per
/// message). Without an id there is nothing to key a resource on: the reference is
/// `display` only.
pub fn practitioner(ctx: &mut Ctx<'_>, person: &Person<'_>) -> Option<Value> {
    let display = person.display();
    if person.id.is_empty() {
        return (!display.is_empty()).then(|| jv!({ "display": display }));
    }
    let authority: &str = if !person.authority_ns.is_empty() {
        &person.authority_ns
    } else if !person.authority_uid.is_empty() {
        &person.authority_uid
    } else {
        &ctx.sending_facility
    };
    let id = ids::id("Practitioner", &[authority, &person.id]);
    let reference = crate::reference_to("Practitioner", &id);
    if !ctx.has(&reference) {
        let authority = authority.to_string();
        let mut r = ctx.resource("Practitioner", &id);
        let mut identifier = Map::new();
        if !person.id_type.is_empty() {
            let t = person.id_type.to_ascii_uppercase();
            identifier.insert(
                "type".into(),
                concept(
                    &tables::v2_system("0203"),
                    &t,
                    tables::identifier_type_display(&t).unwrap_or(""),
                ),
            );
        }
        let system = if person.id_type.eq_ignore_ascii_case("NPI") {
            Some(tables::US_NPI.to_string())
        } else {
            authority_system(
                ctx,
                &person.authority_ns,
                &person.authority_uid,
                &person.authority_type,
            )
            .or_else(|| authority_system(ctx, &authority, "", ""))
        };
        put_opt(&mut identifier, "system", system);
        identifier.insert("value".into(), Value::String(person.id.to_string()));
        r.insert("identifier".into(), jv!([identifier]));
        let name = human_name(
            &person.family,
            &[&person.given, &person.middle],
            &[&person.prefix],
            &[&person.suffix, &person.degree],
            None,
        );
        if let Some(name) = name {
            r.insert("name".into(), jv!([name]));
        }
        ctx.push(r);
    }
    Some(display_reference(reference, display))
}

/// `{"reference": …, "display": …}`, without the display when it is blank.
fn display_reference(reference: String, display: String) -> Value {
    static REFERENCE: Shape = Shape::new(&["reference", "display"], 0);
    Value::Object(REFERENCE.build_some([Some(Value::String(reference)), nonempty(display)]))
}

/// PL (1 point of care, 2 room, 3 bed, 4 facility, 7 building, 8 floor, 9 description) → a
/// Location (emitted once) and a reference to it.
pub fn location(ctx: &mut Ctx<'_>, rep: &Rep<'_>) -> Option<Value> {
    let rep = &Parts::new(rep);
    let (poc, room, bed) = (rep.c(1), rep.c(2), rep.c(3));
    let facility = authority_name(rep, 4);
    let (building, floor, description) = (rep.c(7), rep.c(8), rep.c(9));
    if [&poc, &room, &bed, &building, &floor]
        .iter()
        .all(|p| p.is_empty())
        && facility.is_empty()
    {
        return None;
    }
    let id = ids::id(
        "Location",
        &[&facility, &building, &floor, &poc, &room, &bed],
    );
    let name = [&facility, poc.as_ref(), &room, &bed]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let reference = crate::reference_to("Location", &id);
    if !ctx.has(&reference) {
        let mut r = ctx.resource("Location", &id);
        put(&mut r, "name", name.as_str());
        put(&mut r, "description", description.as_ref());
        r.insert("mode".into(), Value::String("instance".into()));
        let physical = if !bed.is_empty() {
            Some(("bd", "Bed"))
        } else if !room.is_empty() {
            Some(("ro", "Room"))
        } else if !poc.is_empty() {
            Some(("wa", "Ward"))
        } else if !floor.is_empty() {
            Some(("lvl", "Level"))
        } else if !building.is_empty() {
            Some(("bu", "Building"))
        } else {
            None
        };
        if let Some((code, display)) = physical {
            r.insert(
                "physicalType".into(),
                concept(
                    "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    code,
                    display,
                ),
            );
        }
        ctx.push(r);
    }
    Some(display_reference(reference, name))
}

/// An NM value as a FHIR decimal, keeping every digit: a leading `+` and leading zeros go
/// (FHIR's decimal grammar forbids them), `.5` becomes `0.5`. `None` when it is not a number.
pub fn decimal(text: &str) -> Option<Number> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    if !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()))
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let mut out = String::with_capacity(text.len() + 1);
    if negative {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        out.push('.');
        out.push_str(f);
    }
    serde_json::from_str::<Number>(&out).ok()
}

/// The unit of a quantity, from a CWE (1 code, 2 text, 3 system): UCUM code and system when
/// the CWE says UCUM or the code is one UCUM spells the same; else text only.
#[derive(Debug, Default)]
pub struct Unit {
    /// `Quantity.unit` (the text, else the code).
    pub unit: Option<String>,
    /// The UCUM code, when the unit is UCUM.
    pub ucum: Option<String>,
}

pub fn unit(rep: &Rep<'_>) -> Unit {
    let rep = &Parts::new(rep);
    let code = rep.c(1);
    let text = rep.c(2);
    let system = rep.c(3);
    let ucum = system.eq_ignore_ascii_case("UCUM")
        || system.eq_ignore_ascii_case("ANSI+")
        || (system.is_empty() && tables::looks_ucum(&code));
    // Blank values are left out, as `put` leaves them out.
    let shown = |s: &str| (!crate::v2::trim(s).is_empty()).then(|| s.to_string());
    if code.is_empty() {
        return Unit {
            unit: shown(&text),
            ucum: None,
        };
    }
    Unit {
        unit: shown(if text.is_empty() { &code } else { &text }),
        ucum: ucum.then(|| code.into_owned()),
    }
}

/// A Quantity from a number and a unit (which may be empty).
pub fn quantity(value: Number, unit: &Unit) -> Value {
    static QUANTITY: Shape = Shape::new(&["value", "unit", "system", "code"], 0);
    Value::Object(
        QUANTITY.build_some([
            Some(Value::Number(value)),
            unit.unit.clone().map(Value::String),
            unit.ucum
                .as_ref()
                .map(|_| Value::String(tables::UCUM.into())),
            unit.ucum.clone().map(Value::String),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_fhir_grammar() {
        let d = |s: &str| decimal(s).map(|n| n.to_string());
        assert_eq!(d("4.06").as_deref(), Some("4.06"));
        assert_eq!(d("+007.50").as_deref(), Some("7.50"));
        assert_eq!(d(".5").as_deref(), Some("0.5"));
        assert_eq!(d("-0.25").as_deref(), Some("-0.25"));
        assert_eq!(d("12.").as_deref(), Some("12"));
        assert_eq!(d("1e5"), None);
        assert_eq!(d("<5"), None);
        assert_eq!(d("."), None);
        assert_eq!(d(""), None);
    }
}
