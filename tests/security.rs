//! Who may do what: every route × every role × no token × a revoked token × an expired token,
//! the audit trail those calls leave (and its tamper evidence), and SMART Backend Services.

mod common;

use common::*;
use reqwest::blocking::{Client, RequestBuilder};
use salus_store::{Store, TokenRow};
use serde_json::{json, Value};

const ROLES: [&str; 5] = ["integrator", "clinician", "steward", "auditor", "admin"];

/// The callers of the matrix: a token per role, then no token, a revoked and an expired one.
const CALLERS: [&str; 8] = [
    "integrator",
    "clinician",
    "steward",
    "auditor",
    "admin",
    "none",
    "revoked",
    "expired",
];

struct Case {
    method: &'static str,
    path: &'static str,
    body: Option<String>,
    /// Expected status for each caller, in the order of `CALLERS`.
    expect: [u16; 8],
}

fn case(method: &'static str, path: &'static str, body: Option<String>, expect: [u16; 8]) -> Case {
    Case {
        method,
        path,
        body,
        expect,
    }
}

/// Statuses: `ok` for the roles in `allowed`, 403 for the other roles, 401 without a valid token.
fn only(allowed: &[&str], ok: u16) -> [u16; 8] {
    let mut out = [401; 8];
    for (i, role) in ROLES.iter().enumerate() {
        out[i] = if allowed.contains(role) { ok } else { 403 };
    }
    out
}

fn patient(id: &str) -> String {
    json!({"resourceType": "Patient", "id": id, "name": [{"family": "Matrix"}]}).to_string()
}

fn cases() -> Vec<Case> {
    let readers = ["clinician", "admin"];
    let writers = ["integrator", "admin"];
    let stewards = ["steward", "admin"];
    let policy =
        json!({"fhirPathRules": [{"path": "nodesByType('HumanName')", "method": "redact"}]})
            .to_string();
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "id": "m-batch"}, "request": {"method": "PUT", "url": "Patient/m-batch"}}
    ]})
    .to_string();
    vec![
        case("GET", "/fhir/metadata", None, [200; 8]),
        case("GET", "/healthz", None, [200; 8]),
        case("GET", "/metrics", None, [200; 8]),
        case("GET", "/.well-known/smart-configuration", None, [200; 8]),
        case("GET", "/fhir/Patient/m-1", None, only(&readers, 200)),
        case(
            "GET",
            "/fhir/Patient/m-1/_history/1",
            None,
            only(&readers, 200),
        ),
        case(
            "GET",
            "/fhir/Patient?family=Matrix",
            None,
            only(&readers, 200),
        ),
        case(
            "GET",
            "/fhir/Observation?patient=m-1",
            None,
            only(&readers, 200),
        ),
        case(
            "PUT",
            "/fhir/Patient/m-1",
            Some(patient("m-1")),
            only(&writers, 200),
        ),
        case(
            "POST",
            "/fhir/Patient",
            Some(patient("ignored")),
            only(&writers, 201),
        ),
        case("POST", "/fhir", Some(bundle), only(&writers, 200)),
        case(
            "POST",
            "/ingest",
            Some(format!("{}\n", patient("m-ingest"))),
            only(&writers, 200),
        ),
        case(
            "GET",
            "/fhir/AuditEvent?_count=5",
            None,
            only(&["auditor", "admin"], 200),
        ),
        case(
            "GET",
            "/fhir/AuditEvent/no-such-event",
            None,
            only(&["auditor", "admin"], 404),
        ),
        // The audit trail cannot be written through the API, whoever asks.
        case("PUT", "/fhir/AuditEvent/x", Some("{}".into()), [405; 8]),
        case("POST", "/fhir/AuditEvent", Some("{}".into()), [405; 8]),
        // Summaries: authorization comes first, so the roles that may ask reach "not found"
        // for an unknown patient and the others are refused; for a patient without a Consent
        // the configured default (deny) refuses everyone.
        case(
            "GET",
            "/fhir/Patient/no-such-patient/$llm-context",
            None,
            only(&readers, 404),
        ),
        case(
            "GET",
            "/fhir/Patient/no-such-patient/$summary",
            None,
            only(&readers, 404),
        ),
        case(
            "GET",
            "/fhir/Patient/m-1/$llm-context",
            None,
            only(&readers, 403),
        ),
        // Bulk export: de-identified for stewards, identified for administrators only; a
        // job's status and files are authorized as its kick-off (the kind is in the path).
        case(
            "GET",
            "/fhir/$export?deid=safe-harbor",
            None,
            only(&stewards, 202),
        ),
        case("GET", "/fhir/$export", None, only(&["admin"], 202)),
        case(
            "GET",
            "/fhir/$export-jobs/deidentified/00000000-0000-4000-8000-000000000000",
            None,
            only(&stewards, 404),
        ),
        case(
            "DELETE",
            "/fhir/$export-jobs/deidentified/00000000-0000-4000-8000-000000000000",
            None,
            only(&stewards, 404),
        ),
        case(
            "GET",
            "/fhir/$export-jobs/deidentified/00000000-0000-4000-8000-000000000000/Patient.ndjson",
            None,
            only(&stewards, 404),
        ),
        case(
            "GET",
            "/fhir/$export-jobs/identified/00000000-0000-4000-8000-000000000000",
            None,
            only(&["admin"], 404),
        ),
        case(
            "GET",
            "/fhir/$export-jobs/identified/00000000-0000-4000-8000-000000000000/Patient.ndjson",
            None,
            only(&["admin"], 404),
        ),
        // De-identification policies: stewards and administrators.
        case("GET", "/admin/deid-policies/p", None, only(&stewards, 404)),
        case("GET", "/admin/deid-policies", None, only(&stewards, 200)),
        case(
            "GET",
            "/admin/deid-policies/safe-harbor",
            None,
            only(&stewards, 200),
        ),
        // The steward creates it (201), the administrator then replaces it (200).
        case(
            "PUT",
            "/admin/deid-policies/m-policy",
            Some(policy.clone()),
            [403, 403, 201, 403, 200, 401, 401, 401],
        ),
        case(
            "DELETE",
            "/admin/deid-policies/m-absent",
            None,
            only(&stewards, 404),
        ),
        case(
            "POST",
            "/admin/deid-policies/safe-harbor/$preview",
            Some(patient("m-preview")),
            only(&stewards, 200),
        ),
        // An unknown path needs a token too; with one, it is simply not found.
        case(
            "GET",
            "/nowhere",
            None,
            [404, 404, 404, 404, 404, 401, 401, 401],
        ),
    ]
}

/// A token row stored directly (the CLI makes no expired tokens), and the token.
fn stored_token(store: &Store, role: &str, expires_at: Option<i64>, revoked: bool) -> String {
    let value = salus_auth::token::from_random(rand_bytes());
    let now = chrono::Utc::now().timestamp_micros();
    store
        .create_token(&TokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: format!("matrix-{role}"),
            role: role.into(),
            scopes: "system/*.cruds".into(),
            token_hash: salus_auth::token::hash(&value),
            client_id: None,
            created_at: now,
            expires_at,
            revoked_at: revoked.then_some(now),
        })
        .unwrap();
    value
}

fn rand_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out
}

fn request(
    http: &Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&String>,
) -> RequestBuilder {
    let mut req = match method {
        "GET" => http.get(url),
        "PUT" => http.put(url),
        "POST" => http.post(url),
        "DELETE" => http.delete(url),
        other => panic!("method {other}"),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/fhir+json")
            .body(b.clone());
    }
    req
}

#[test]
fn every_route_for_every_caller() {
    for db in all_databases() {
        let store = Store::open(&db.url).unwrap();
        let mut tokens: Vec<Option<String>> = ROLES
            .iter()
            .map(|role| Some(make_token(&db, role)))
            .collect();
        tokens.push(None);
        // Revoked through the CLI, as an administrator would.
        let revoked = make_token(&db, "admin");
        let out = run(&db, &["token", "revoke", "test-admin"]);
        assert_eq!(out.status.code(), Some(0));
        // That revoked both admin tokens named test-admin: make the matrix's admin anew.
        tokens[4] = Some(stored_token(&store, "admin", None, false));
        tokens.push(Some(revoked));
        let past = chrono::Utc::now().timestamp_micros() - 1_000_000;
        tokens.push(Some(stored_token(&store, "admin", Some(past), false)));

        // Export jobs write into a scratch directory, and the matrix's kick-offs all fit.
        let scratch = scratch_dir();
        let config = scratch.path().join("salus.toml");
        std::fs::write(
            &config,
            format!(
                "[export]\ndir = \"{}\"\nmax_running = 16\n",
                scratch.path().join("jobs").display()
            ),
        )
        .unwrap();
        let server = Server::start_with_args(&db, &["--config", config.to_str().unwrap()]);
        let http = Client::new();
        // The resource the reads find.
        let admin = tokens[4].as_deref();
        let seeded = request(
            &http,
            "PUT",
            &server.url("/fhir/Patient/m-1"),
            admin,
            Some(&patient("m-1")),
        )
        .send()
        .unwrap();
        assert!(seeded.status().is_success());

        let mut failures = Vec::new();
        let mut protected_calls = 0;
        for case in cases() {
            for (i, caller) in CALLERS.iter().enumerate() {
                let resp = request(
                    &http,
                    case.method,
                    &server.url(case.path),
                    tokens[i].as_deref(),
                    case.body.as_ref(),
                )
                .send()
                .unwrap();
                let status = resp.status().as_u16();
                let public = case.expect == [200; 8];
                if !public {
                    protected_calls += 1;
                }
                if status != case.expect[i] {
                    failures.push(format!(
                        "{} {} as {caller}: {status}, expected {}",
                        case.method, case.path, case.expect[i]
                    ));
                }
                if status >= 400 {
                    let body: Value = resp.json().unwrap_or(Value::Null);
                    if body["resourceType"] != "OperationOutcome" {
                        failures.push(format!(
                            "{} {} as {caller}: {status} without an OperationOutcome",
                            case.method, case.path
                        ));
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{:?}:\n{}",
            db.backend,
            failures.join("\n")
        );
        // A graceful stop writes every queued audit entry.
        server.stop();

        // Every protected call left an AuditEvent, and the chain holds.
        let entries: Vec<salus_auth::audit::AuditRecord> = store
            .audit_page(0, 100_000)
            .unwrap()
            .iter()
            .map(|row| salus_auth::audit::parse_ledger_line(&row.line).unwrap().1)
            .collect();
        // + the seeding PUT; + the CLI's token commands.
        let cli = entries.iter().filter(|e| e.who.starts_with("cli/")).count();
        assert_eq!(
            entries.len() - cli,
            protected_calls + 1,
            "one event per protected request"
        );
        let denied = entries
            .iter()
            .filter(|e| (400..500).contains(&e.status))
            .count();
        assert!(denied > 0);
        let anonymous = entries.iter().filter(|e| e.who == "anonymous").count();
        assert!(
            anonymous > 0,
            "refused requests without a token are recorded too"
        );
        let out = run(&db, &["audit", "verify"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn audit_verify_finds_an_altered_or_deleted_entry() {
    for db in all_databases() {
        let token = make_token(&db, "clinician");
        let server = Server::start(&db);
        let http = client_with_token(&token);
        for i in 0..5 {
            http.get(server.url(&format!("/fhir/Patient/p{i}")))
                .send()
                .unwrap();
            // Longer than the audit writer's tick: one ledger block per request.
            std::thread::sleep(std::time::Duration::from_millis(120));
        }
        server.stop();
        let out = run(&db, &["audit", "verify"]);
        assert_eq!(out.status.code(), Some(0));
        let head = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(head.contains("6 entries"), "{head}");

        let store = Store::open(&db.url).unwrap();
        let mut pooled = store.connection().unwrap();
        // Alter entry 3: it names another patient now.
        pooled
            .conn()
            .execute(
                "UPDATE audit_blocks SET lines = REPLACE(lines, 'Patient/p1', 'Patient/px')",
                vec![],
            )
            .unwrap();
        let out = run(&db, &["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("entry 3") && err.contains("altered"), "{err}");

        // Put it back, then delete entry 4.
        pooled
            .conn()
            .execute(
                "UPDATE audit_blocks SET lines = REPLACE(lines, 'Patient/px', 'Patient/p1')",
                vec![],
            )
            .unwrap();
        assert_eq!(run(&db, &["audit", "verify"]).status.code(), Some(0));
        pooled
            .conn()
            .execute(
                "DELETE FROM audit_blocks WHERE first_seq = \
                 (SELECT MAX(first_seq) FROM audit_blocks WHERE first_seq <= 4)",
                vec![],
            )
            .unwrap();
        let out = run(&db, &["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("missing"), "{err}");

        // Removing the last entries is found against the head recorded before.
        let recorded_head = head.split_whitespace().last().unwrap().to_owned();
        pooled
            .conn()
            .execute("DELETE FROM audit_blocks WHERE first_seq >= 2", vec![])
            .unwrap();
        let out = run(&db, &["audit", "verify", "--expect-head", &recorded_head]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("removed from its end"));
    }
}

/// A signed client assertion with the test RSA key (fixtures/smart).
fn assertion(client_id: &str, aud: &str, jti: &str) -> String {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/smart/test-rs384-private.pem"
    ))
    .unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS384);
    header.kid = Some("test-rs384".into());
    let exp = chrono::Utc::now().timestamp() + 240;
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": exp, "jti": jti});
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn token_request(http: &Client, server: &Server, assertion: &str, scope: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", scope),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencoding_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let resp = http
        .post(server.url("/auth/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn urlencoding_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn smart_backend_services_issue_scoped_tokens_once_per_assertion() {
    for db in all_databases() {
        let jwks = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/smart/test-rs384-jwks.json"
        );
        let out = run(
            &db,
            &[
                "client",
                "register",
                "--name",
                "lab-feed",
                "--role",
                "clinician",
                "--scope",
                "system/Observation.rs system/Patient.r",
                "--jwks",
                jwks,
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let client_id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let server = Server::start(&db);
        let http = Client::new();
        let config: Value = http
            .get(server.url("/.well-known/smart-configuration"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let token_url = config["token_endpoint"].as_str().unwrap().to_owned();
        assert_eq!(token_url, server.url("/auth/token"));

        let jwt = assertion(&client_id, &token_url, "jti-1");
        let (status, body) = token_request(&http, &server, &jwt, "system/*.rs");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["scope"], "system/Observation.rs system/Patient.r");
        let access = body["access_token"].as_str().unwrap().to_owned();

        // The same assertion again: a replay.
        let (status, body) = token_request(&http, &server, &jwt, "system/*.rs");
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("replay"));

        // The token works within its scopes and role, and nowhere else.
        let get = |path: &str| {
            http.get(server.url(path))
                .bearer_auth(&access)
                .send()
                .unwrap()
                .status()
                .as_u16()
        };
        assert_eq!(get("/fhir/Observation?patient=x"), 200);
        assert_eq!(get("/fhir/Patient/x"), 404, "read allowed, nothing there");
        assert_eq!(
            get("/fhir/Patient?name=x"),
            403,
            "no search scope on Patient"
        );
        assert_eq!(
            get("/fhir/Condition?patient=x"),
            403,
            "no scope on Condition"
        );

        // Wrong audience, unknown client, a scope outside the registration.
        let (status, _) = token_request(
            &http,
            &server,
            &assertion(&client_id, "https://other/token", "jti-2"),
            "system/*.rs",
        );
        assert_eq!(status, 401);
        let (status, _) = token_request(
            &http,
            &server,
            &assertion("no-such-client", &token_url, "jti-3"),
            "system/*.rs",
        );
        assert_eq!(status, 401);
        let (status, body) = token_request(
            &http,
            &server,
            &assertion(&client_id, &token_url, "jti-4"),
            "system/Condition.rs",
        );
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope"))
        );

        // Revoking the client revokes its tokens (after the server's token cache expires).
        assert_eq!(
            run(&db, &["client", "revoke", "lab-feed"]).status.code(),
            Some(0)
        );
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(get("/fhir/Observation?patient=x"), 401);
    }
}

#[test]
fn scopes_hold_inside_bundles() {
    let db = salus_store::testing::sqlite();
    let out = run(
        &db,
        &[
            "token",
            "create",
            "--role",
            "integrator",
            "--name",
            "obs-only",
            "--scope",
            "system/Observation.cu",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let http = client_with_token(String::from_utf8(out.stdout).unwrap().trim());
    let server = Server::start(&db);
    let entry = |t: &str, id: &str| {
        json!({"resource": {"resourceType": t, "id": id, "status": "final", "code": {"text": "x"}},
               "request": {"method": "PUT", "url": format!("{t}/{id}")}})
    };
    let observation = entry("Observation", "o1");
    let mut patient = entry("Patient", "p1");
    patient["resource"] = json!({"resourceType": "Patient", "id": "p1"});
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [observation, patient]});
    let resp: Value = http
        .post(server.url("/fhir"))
        .body(batch.to_string())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        resp["entry"][0]["response"]["status"], "201 Created",
        "{resp}"
    );
    assert!(
        resp["entry"][1]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("403"),
        "{resp}"
    );
    let mut transaction = batch.clone();
    transaction["type"] = json!("transaction");
    let resp = http
        .post(server.url("/fhir"))
        .body(transaction.to_string())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[test]
fn auditors_search_the_trail_as_fhir_audit_events() {
    for db in all_databases() {
        let clinician = make_token(&db, "clinician");
        let auditor = make_token(&db, "auditor");
        let server = Server::start(&db);
        let reader = client_with_token(&clinician);
        reader.get(server.url("/fhir/Patient/a1")).send().unwrap();
        reader
            .get(server.url("/fhir/Observation?patient=a1"))
            .send()
            .unwrap();
        reader.get(server.url("/fhir/Patient/b2")).send().unwrap();
        client_with_token(&auditor)
            .get(server.url("/ingest"))
            .send()
            .unwrap();
        // Entries are written on a short tick: wait for them.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let http = client_with_token(&auditor);
        let search = |query: &str| -> Value {
            let resp = http
                .get(server.url(&format!("/fhir/AuditEvent?{query}")))
                .send()
                .unwrap();
            assert_eq!(resp.status(), 200, "{query}");
            resp.json().unwrap()
        };
        let about_a1 = search("patient=a1");
        let entries = about_a1["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{about_a1}");
        let event = &entries[0]["resource"];
        assert_eq!(event["resourceType"], "AuditEvent");
        assert_eq!(event["subtype"][0]["code"], "read");
        assert_eq!(event["entity"][0]["what"]["reference"], "Patient/a1");
        assert_eq!(event["agent"][0]["who"]["display"], "test-clinician");
        let searches = search("subtype=search");
        assert_eq!(searches["entry"].as_array().unwrap().len(), 1);
        let refused = search("outcome=4");
        assert!(
            !refused["entry"].as_array().unwrap().is_empty(),
            "{refused}"
        );
        // Paging.
        let first = search("_count=1");
        assert_eq!(first["entry"].as_array().unwrap().len(), 1);
        let next = first["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .expect("a next link")["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let second: Value = http.get(next).send().unwrap().json().unwrap();
        assert_ne!(
            second["entry"][0]["resource"]["id"],
            first["entry"][0]["resource"]["id"]
        );
        // One entry by id.
        let id = event["id"].as_str().unwrap();
        let one: Value = http
            .get(server.url(&format!("/fhir/AuditEvent/{id}")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(one, *event);
    }
}

#[test]
fn strict_audit_mode_commits_before_answering_and_limits_hold() {
    let db = salus_store::testing::sqlite();
    let dir = scratch_dir();
    let config = dir.path().join("salus.toml");
    std::fs::write(
        &config,
        "[audit]\nwait_for_commit = true\n[server]\nmax_header_bytes = 2048\n",
    )
    .unwrap();
    let token = make_token(&db, "clinician");
    let server = Server::start_with_args(&db, &["--config", config.to_str().unwrap()]);
    let http = client_with_token(&token);
    let store = Store::open(&db.url).unwrap();
    let before = store.audit_page(0, 1000).unwrap().len();
    let resp = http.get(server.url("/fhir/Patient/w1")).send().unwrap();
    assert_eq!(resp.status(), 404);
    // Committed before the answer: no waiting, no stopping the server.
    let after = store.audit_page(0, 1000).unwrap();
    assert_eq!(after.len(), before + 1);
    assert!(after.last().unwrap().line.contains("Patient/w1"));

    // Headers over server.max_header_bytes: 431 with an OperationOutcome naming the setting.
    let resp = http
        .get(server.url("/fhir/Patient/w1"))
        .header("X-Padding", "x".repeat(4096))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 431);
    let outcome: Value = resp.json().unwrap();
    assert!(outcome["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("server.max_header_bytes"));
    // Every response names its request.
    let resp = http.get(server.url("/fhir/metadata")).send().unwrap();
    assert_eq!(resp.headers()["x-request-id"].len(), 32);
}
