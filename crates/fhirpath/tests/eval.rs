//! Evaluation on small FHIR resources: which nodes, where, of what type, with what value.

use salus_fhirpath::{
    parse, validate, EvalError, Evaluator, Item, PartialDateTime, Step, TypeModel, Value,
};
use serde_json::{json, Value as Json};

fn eval<'a>(src: &str, root: &'a Json) -> Vec<Item<'a>> {
    let expr = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    Evaluator::r4()
        .evaluate(&expr, root)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// (location pointer, type name) of each node.
fn nodes(src: &str, root: &Json) -> Vec<(String, String)> {
    eval(src, root)
        .iter()
        .map(|i| {
            let n = i
                .as_node()
                .unwrap_or_else(|| panic!("{src}: a value, not a node"));
            (n.location().pointer(), n.type_name().to_string())
        })
        .collect()
}

fn values(src: &str, root: &Json) -> Vec<Value> {
    eval(src, root)
        .iter()
        .map(|i| i.value().expect("has a value"))
        .collect()
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn patient() -> Json {
    json!({
        "resourceType": "Patient",
        "id": "p1",
        "name": [
            {"use": "official", "family": "Doe", "given": ["Jane", "Q"], "_given": [null, {"extension": [{"url": "u", "valueString": "x"}]}]},
            {"use": "nickname", "given": ["JJ"]}
        ],
        "birthDate": "1980-05-17",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1980-05-17T10:30:00Z"}]},
        "address": [{"city": "KeepTest", "postalCode": "12345"}, {"city": "Elsewhere", "period": {"start": "2001-02"}}],
        "contact": [{"name": {"family": "Roe"}, "period": {"start": "2010-01-01"}}],
        "contained": [{"resourceType": "Patient", "id": "c1", "name": [{"family": "Inner"}], "birthDate": "1999-01-01"}],
        "deceasedBoolean": false,
        "multipleBirthInteger": 2
    })
}

#[test]
fn nodes_by_type_human_name_includes_contact_and_skips_contained() {
    assert_eq!(
        nodes("nodesByType('HumanName')", &patient()),
        vec![
            ("/name/0".to_string(), "HumanName".to_string()),
            ("/name/1".into(), "HumanName".into()),
            ("/contact/0/name".into(), "HumanName".into()),
        ]
    );
    assert_eq!(
        values("Patient.nodesByType('HumanName').use", &patient()),
        vec![s("official"), s("nickname")]
    );
    assert_eq!(
        nodes("Patient.nodesByType('HumanName').use", &patient())[0],
        ("/name/0/use".to_string(), "code".to_string())
    );
}

#[test]
fn nodes_by_type_date_and_the_birth_time_extension() {
    let p = patient();
    assert_eq!(
        nodes("nodesByType('date')", &p),
        vec![("/birthDate".to_string(), "date".to_string())]
    );
    assert_eq!(
        nodes("nodesByType('dateTime')", &p),
        vec![
            (
                "/_birthDate/extension/0/valueDateTime".to_string(),
                "dateTime".to_string()
            ),
            ("/address/1/period/start".into(), "dateTime".into()),
            ("/contact/0/period/start".into(), "dateTime".into()),
        ]
    );
    let birth = eval("birthDate", &p);
    let node = birth[0].as_node().expect("node");
    assert_eq!(node.location().pointer(), "/birthDate");
    assert_eq!(
        node.companion_location().expect("primitive").pointer(),
        "/_birthDate"
    );
    assert!(node.companion().is_some());
    assert_eq!(
        node.value(),
        Some(Value::Date(
            PartialDateTime::parse_date_time("1980-05-17", false).unwrap()
        ))
    );
    // The node includes its companion's children.
    assert_eq!(
        values("birthDate.extension.url", &p),
        vec![s(
            "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
        )]
    );
}

#[test]
fn primitive_arrays_with_companions_are_one_node_per_index() {
    let p = patient();
    let given = eval("name[0].given", &p);
    assert_eq!(given.len(), 2);
    let q = given[1].as_node().expect("node");
    assert_eq!(
        q.location().steps(),
        &[
            Step::Key("name".into()),
            Step::Index(0),
            Step::Key("given".into()),
            Step::Index(1)
        ]
    );
    assert_eq!(
        q.companion_location().unwrap().pointer(),
        "/name/0/_given/1"
    );
    assert_eq!(
        q.companion()
            .and_then(|c| c.get("extension"))
            .map(|e| e.as_array().map(Vec::len)),
        Some(Some(1))
    );
    assert_eq!(
        nodes("name[0].given[1].extension.value", &p),
        vec![(
            "/name/0/_given/1/extension/0/valueString".to_string(),
            "string".to_string()
        )]
    );
    // A companion with no value still makes a node.
    let only_ext = json!({"resourceType": "Patient", "_gender": {"id": "g"}});
    let g = eval("gender", &only_ext);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].as_node().unwrap().json(), None);
    assert_eq!(g[0].as_node().unwrap().location().pointer(), "/gender");
    assert_eq!(values("gender.id", &only_ext), vec![s("g")]);
}

#[test]
fn where_filters_and_nodes_by_type_starts_at_self() {
    let p = patient();
    assert_eq!(
        nodes("Patient.nodesByType('Address').where(city='KeepTest')", &p),
        vec![("/address/0".to_string(), "Address".to_string())]
    );
    assert_eq!(
        nodes("nodesByType('Patient')", &p),
        vec![(String::new(), "Patient".to_string())]
    );
    assert_eq!(values("name.nodesByName('family')", &p), vec![s("Doe")]);
    assert_eq!(
        values("nodesByName('family')", &p),
        vec![s("Doe"), s("Roe")]
    );
}

#[test]
fn bundle_entries_and_resource_id() {
    let b = json!({
        "resourceType": "Bundle", "id": "b1", "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p1", "birthDate": "2000-01-01"}},
            {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}}
        ]
    });
    assert_eq!(
        nodes("Bundle.entry.fullUrl", &b),
        vec![
            ("/entry/0/fullUrl".to_string(), "uri".to_string()),
            ("/entry/1/fullUrl".into(), "uri".into())
        ]
    );
    assert_eq!(
        nodes("Resource.id", &b),
        vec![("/id".to_string(), "id".to_string())]
    );
    assert_eq!(
        nodes("Resource.id", &patient()),
        vec![("/id".to_string(), "id".to_string())]
    );
    assert_eq!(nodes("DomainResource.id", &patient()).len(), 1);
    assert!(
        nodes("DomainResource.id", &b).is_empty(),
        "a Bundle is not a DomainResource"
    );
    assert!(nodes("Observation.id", &patient()).is_empty());
    // Entry resources are typed by their resourceType; nodesByType does not enter them.
    assert_eq!(
        nodes("entry.resource", &b),
        vec![
            ("/entry/0/resource".to_string(), "Patient".to_string()),
            ("/entry/1/resource".into(), "Observation".into())
        ]
    );
    assert!(nodes("nodesByType('date')", &b).is_empty());
    assert_eq!(
        nodes("entry.resource.nodesByType('date')", &b),
        vec![(
            "/entry/0/resource/birthDate".to_string(),
            "date".to_string()
        )]
    );
    assert_eq!(
        values("entry.resource.ofType(Observation).status", &b),
        vec![s("final")]
    );
    // Descendants do enter them.
    assert_eq!(eval("descendants().ofType(date)", &b).len(), 1);
}

#[test]
fn choice_elements() {
    let o = json!({
        "resourceType": "Observation", "status": "final", "code": {"text": "w"},
        "valueQuantity": {"value": 72.5, "unit": "kg"},
        "effectiveDateTime": "2020-03-01T10:00:00Z",
        "component": [{"code": {"text": "a"}, "valueString": "s"}, {"code": {"text": "b"}, "valueInteger": 3}]
    });
    assert_eq!(
        nodes("Observation.value", &o),
        vec![("/valueQuantity".to_string(), "Quantity".to_string())]
    );
    assert_eq!(
        nodes("Observation.value.ofType(Quantity)", &o),
        vec![("/valueQuantity".to_string(), "Quantity".to_string())]
    );
    assert!(nodes("Observation.value.ofType(string)", &o).is_empty());
    assert_eq!(
        values("Observation.value is Quantity", &o),
        vec![Value::Boolean(true)]
    );
    assert_eq!(
        values("Observation.value.is(FHIR.Quantity)", &o),
        vec![Value::Boolean(true)]
    );
    assert_eq!(
        values("Observation.value is Age", &o),
        vec![Value::Boolean(false)]
    );
    assert!(
        eval("Observation.valueQuantity", &o).is_empty(),
        "choice elements are named without their type"
    );
    assert_eq!(values("value.value", &o), vec![Value::Decimal(72.5)]);
    assert_eq!(values("value.value > 70", &o), vec![Value::Boolean(true)]);
    assert_eq!(
        values("component.value", &o),
        vec![s("s"), Value::Integer(3)]
    );
    assert_eq!(
        nodes("component.value as integer", &o),
        vec![(
            "/component/1/valueInteger".to_string(),
            "integer".to_string()
        )]
    );
    assert_eq!(
        values("effective > @2020-01-01T00:00:00Z", &o),
        vec![Value::Boolean(true)]
    );
    assert_eq!(
        nodes(
            "FamilyMemberHistory.condition.onset as Age",
            &json!({"resourceType": "FamilyMemberHistory", "condition": [{"onsetAge": {"value": 40}}, {"onsetString": "young"}]})
        ),
        vec![("/condition/0/onsetAge".to_string(), "Age".to_string())]
    );
}

#[test]
fn backbone_elements_are_backbone_element() {
    let p = patient();
    assert_eq!(
        nodes("contact", &p),
        vec![("/contact/0".to_string(), "BackboneElement".to_string())]
    );
    assert_eq!(nodes("nodesByType('BackboneElement')", &p).len(), 1);
    assert_eq!(
        values("contact is BackboneElement", &p),
        vec![Value::Boolean(true)]
    );
}

fn case(cond: &str, value: &str, this: Value) -> Option<Value> {
    let ev = Evaluator::r4();
    let root = Json::Null;
    let this = Item::Value(this);
    if ev
        .predicate(&parse(cond).unwrap(), &root, &this)
        .expect("condition evaluates")
    {
        ev.scalar(&parse(value).unwrap(), &root, &this)
            .expect("value evaluates")
    } else {
        None
    }
}

fn date(s: &str) -> Value {
    Value::Date(PartialDateTime::parse_date_time(s, false).unwrap())
}

fn date_time(s: &str) -> Value {
    Value::DateTime(PartialDateTime::parse_date_time(s, true).unwrap())
}

#[test]
fn microsoft_generalize_cases() {
    let range = "$this <= @2020-01-01 and $this >= @1990-01-01";
    assert_eq!(
        case(range, "@2000-01-01", date("1995-06-01")),
        Some(date("2000-01-01"))
    );
    assert_eq!(case(range, "@2000-01-01", date("1985-06-01")), None);
    // Different precision at the boundary: empty, so the case does not hold.
    assert_eq!(case(range, "@2000-01-01", date("2020-01")), None);
    let dt_range = "$this <= @2020-01-01T00:00:00Z and $this >= @1990-01-01T00:00:00Z";
    assert_eq!(
        case(
            dt_range,
            "@2000-01-01T00:00:00Z",
            date_time("1995-06-01T10:00:00+02:00")
        ),
        Some(date_time("2000-01-01T00:00:00Z"))
    );
    let langs = "$this in ('en-AU' | 'en-CA' | 'en-GB' | 'en-IN' | 'en-NZ' | 'en-SG' | 'en-US')";
    assert_eq!(case(langs, "'en'", s("en-GB")), Some(s("en")));
    assert_eq!(case(langs, "'en'", s("fr-FR")), None);
    assert_eq!(
        case(
            "('es-AR' | 'es-ES' | 'es-UY') contains $this",
            "'es'",
            s("es-UY")
        ),
        Some(s("es"))
    );
    assert_eq!(
        case(
            "$this.startsWith('123')",
            "$this.substring(0,3)+'****'",
            s("12345")
        ),
        Some(s("123****"))
    );
    assert_eq!(
        case(
            "$this.startsWith('123')",
            "$this.substring(0,3)+'****'",
            s("99345")
        ),
        None
    );
    assert_eq!(
        case("$this>=0 and $this<20", "20", Value::Integer(7)),
        Some(Value::Integer(20))
    );
    assert_eq!(case("true", "1", s("x")), Some(Value::Integer(1)));
    // Comparing a string with a number is an error (Microsoft raises a processing error).
    let err = Evaluator::r4()
        .predicate(
            &parse("$this>=0 and $this<20").unwrap(),
            &Json::Null,
            &Item::Value(s("secret-value")),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            EvalError::Type {
                left: "String",
                right: Some("Integer"),
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn evaluate_on_a_node_from_an_earlier_evaluation() {
    let p = patient();
    let ev = Evaluator::r4();
    let birth = ev.evaluate(&parse("birthDate").unwrap(), &p).unwrap();
    let this = &birth[0];
    assert!(ev
        .predicate(
            &parse("$this >= @1980-01-01 and $this.extension.exists()").unwrap(),
            &p,
            this
        )
        .unwrap());
    assert_eq!(
        ev.scalar(
            &parse("%resource.name.first().family & '-' & $this.toString()").unwrap(),
            &p,
            this
        )
        .unwrap(),
        Some(s("Doe-1980-05-17"))
    );
    let given = ev
        .evaluate(&parse("name[0].given[1]").unwrap(), &p)
        .unwrap();
    let ext = ev
        .evaluate_on(&parse("extension.value").unwrap(), &p, &given[0])
        .unwrap();
    assert_eq!(
        ext[0].as_node().unwrap().location().pointer(),
        "/name/0/_given/1/extension/0/valueString"
    );
}

#[test]
fn functions_and_operators() {
    let p = patient();
    let v = |src: &str| values(src, &p);
    let b = |x: bool| vec![Value::Boolean(x)];
    assert_eq!(v("name.count()"), vec![Value::Integer(2)]);
    assert_eq!(v("name.given.first()"), vec![s("Jane")]);
    assert_eq!(v("name.given.last()"), vec![s("JJ")]);
    assert_eq!(v("name.given.skip(1).take(1)"), vec![s("Q")]);
    assert_eq!(v("name.exists(use = 'nickname')"), b(true));
    assert_eq!(v("name.all(given.exists())"), b(true));
    assert_eq!(v("telecom.empty()"), b(true));
    assert_eq!(
        v("name.where(use = 'nickname').given.select($this.lower())"),
        vec![s("jj")]
    );
    assert_eq!(v("iif(deceased, 'dead', 'alive')"), vec![s("alive")]);
    assert_eq!(v("deceased.not()"), b(true));
    assert_eq!(v("multipleBirth + 1 * 2"), vec![Value::Integer(4)]);
    assert_eq!(v("multipleBirth / 4"), vec![Value::Decimal(0.5)]);
    assert_eq!(
        v("7 div 2 | 7 mod 2"),
        vec![Value::Integer(3), Value::Integer(1)]
    );
    assert_eq!(
        v("name[0].family & ', ' & name[1].family"),
        vec![s("Doe, ")]
    );
    assert_eq!(
        v("name[0].family.upper() + name[0].family.length().toString()"),
        vec![s("DOE3")]
    );
    assert_eq!(v("'Doe' ~ 'doe' and 'a' != 'b' and ('a' !~ 'b')"), b(true));
    assert_eq!(v("true xor false implies false"), b(false));
    assert_eq!(v("{} or true"), b(true));
    assert_eq!(v("({} and true).empty()"), b(true));
    assert_eq!(v("address.postalCode.matches('^[0-9]{5}$')"), b(true));
    assert_eq!(
        v("address.postalCode.replaceMatches('[0-9]', 'X')"),
        vec![s("XXXXX")]
    );
    assert_eq!(
        v("'abc'.contains('b') and 'abc'.endsWith('bc') and 'abc'.indexOf('c') = 2"),
        b(true)
    );
    assert_eq!(v("'a-b'.replace('-', '+')"), vec![s("a+b")]);
    assert_eq!(v("' x '.trim()"), vec![s("x")]);
    assert_eq!(v("name.given.distinct().count()"), vec![Value::Integer(3)]);
    assert_eq!(v("(1 | 2 | 2).count()"), vec![Value::Integer(2)]);
    assert_eq!(v("(1 | 2).combine(2).count()"), vec![Value::Integer(3)]);
    assert_eq!(v("(1 | 2 | 3).intersect(2 | 4)"), vec![Value::Integer(2)]);
    assert_eq!(
        v("(1 | 2 | 3).exclude(2)"),
        vec![Value::Integer(1), Value::Integer(3)]
    );
    assert_eq!(
        v("'5'.toInteger() + '1.5'.toDecimal()"),
        vec![Value::Decimal(6.5)]
    );
    assert_eq!(v("birthDate.hasValue()"), b(true));
    assert_eq!(
        v("@2020-01-01 = @2020-01-01T00:00:00Z").len(),
        0,
        "different precision is empty"
    );
    assert_eq!(v("@2020-01-02 > @2020-01-01T10:00:00Z"), b(true));
    assert_eq!(v("@T10:30 < @T11"), b(true));
    assert_eq!(v("5 'mg' = 5 'mg'"), b(true));
    assert_eq!(v("1.repeat($this).count()"), vec![Value::Integer(1)]);
    assert_eq!(v("'abcdef'.substring(2)"), vec![s("cdef")]);
    assert!(v("'abc'.substring(5)").is_empty());
    assert_eq!(v("children().count() > 5"), b(true));
    assert_eq!(v("name.children().ofType(HumanName).empty()"), b(true));
    assert_eq!(v("Device.where(id.exists()).id"), Vec::<Value>::new());
    assert_eq!(v("TestResource"), Vec::<Value>::new());
}

#[test]
fn errors_are_values_free() {
    let p = patient();
    let ev = Evaluator::r4();
    let err = ev
        .evaluate(&parse("name.given.startsWith('J')").unwrap(), &p)
        .unwrap_err();
    assert!(
        matches!(err, EvalError::NotSingleton { count: 3, .. }),
        "{err}"
    );
    let err = ev
        .evaluate(&parse("name.family > 3").unwrap(), &p)
        .unwrap_err();
    assert!(!err.to_string().contains("Doe"), "{err}");
    let err = ev
        .evaluate(&parse("name[0].family.matches('(')").unwrap(), &p)
        .unwrap_err();
    assert_eq!(err, EvalError::InvalidRegex("`matches()`"));
    assert!(matches!(
        ev.evaluate(&parse("%foo").unwrap(), &p),
        Err(EvalError::UnknownVariable(_))
    ));
}

#[test]
fn budget_stops_runaway_expressions() {
    let p = patient();
    let ev = Evaluator::r4().with_budget(10_000);
    for src in [
        "1.repeat($this + 1)",
        "descendants().select(%resource.descendants()).select(%resource.descendants())",
        "(1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select(1|2|3|4|5|6|7|8|9|10)))",
        "'x'.repeat($this & 'x')",
    ] {
        let result = ev.evaluate(&parse(src).unwrap(), &p).map(|r| r.len());
        assert_eq!(result, Err(EvalError::BudgetExceeded(10_000)), "{src}");
    }
    // The default budget is generous enough for real rules.
    assert!(Evaluator::r4()
        .evaluate(&parse("descendants().descendants()").unwrap(), &p)
        .is_ok());
}

#[test]
fn validate_checks_type_names() {
    let model = TypeModel::r4();
    assert!(validate("value.ofType(Quantity)", model).is_ok());
    assert!(validate("value is System.String", model).is_ok());
    let e = validate("name.where(use = 'x').value.ofType(Quantityy)", model).unwrap_err();
    assert!(e.message.contains("unknown type `Quantityy`"), "{e}");
    assert_eq!(e.position, 35);
}

#[test]
fn type_model_basics() {
    let m = TypeModel::r4();
    let patient = m.type_id("Patient").unwrap();
    let contact = m.type_id("Patient_Contact").unwrap();
    assert_eq!(m.fhir_type_name(contact), "BackboneElement");
    assert_eq!(
        m.fhir_type_name(m.type_id("Timing_Repeat").unwrap()),
        "Element"
    );
    assert!(m.is_a(patient, "DomainResource") && m.is_a(patient, "Resource"));
    assert!(!m.is_a(m.type_id("Bundle").unwrap(), "DomainResource"));
    let obs = m.type_id("Observation").unwrap();
    assert_eq!(
        m.member(obs, "valueQuantity")
            .map(|(n, t)| (n, m.fhir_type_name(t))),
        Some(("value", "Quantity"))
    );
    assert_eq!(
        m.member(obs, "_valueString")
            .map(|(n, t)| (n, m.fhir_type_name(t))),
        Some(("value", "string"))
    );
    assert_eq!(
        m.member(patient, "birthDate")
            .map(|(n, t)| (n, m.fhir_type_name(t))),
        Some(("birthDate", "date"))
    );
    // Not choices: `Contract.instantiatesCanonical`/`instantiatesUri` differ in kind.
    let contract = m.type_id("Contract").unwrap();
    assert_eq!(
        m.member(contract, "instantiatesUri").map(|(n, _)| n),
        Some("instantiatesUri")
    );
    // Inline (enum/pattern) properties get their primitive types.
    assert_eq!(
        m.member(patient, "gender")
            .map(|(_, t)| m.fhir_type_name(t)),
        Some("code")
    );
    let ext = m.type_id("Extension").unwrap();
    assert_eq!(
        m.member(ext, "valueBoolean")
            .map(|(n, t)| (n, m.fhir_type_name(t))),
        Some(("value", "boolean"))
    );
    assert_eq!(
        m.member(ext, "valueBase64Binary")
            .map(|(_, t)| m.fhir_type_name(t)),
        Some("base64Binary")
    );
    assert!(m.resource_type_names().any(|n| n == "Patient"));
    assert_eq!(m.resource_type_names().count(), 146);
}
