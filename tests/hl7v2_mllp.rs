//! HL7 v2 over MLLP and HTTP through a real server, on every backend: ACK after commit,
//! idempotent re-sends, errors answered AR/AE with an ERR segment, framing faults, patient
//! merges, and a real MLLP client that nobody here wrote (`mllp_send` of the PyPI `hl7`
//! package).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../fixtures/hl7v2/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("read an HL7 v2 fixture")
}

fn connect(server: &Server) -> TcpStream {
    let addr = server
        .mllp
        .as_deref()
        .expect("the server has an MLLP listener");
    let stream = TcpStream::connect(addr).expect("connect to the MLLP listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Send raw bytes (framing included) and read one framed reply.
fn exchange(stream: &mut TcpStream, bytes: &[u8]) -> String {
    stream.write_all(bytes).unwrap();
    read_frame(stream)
}

fn read_frame(stream: &mut TcpStream) -> String {
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = stream.read(&mut byte).expect("read the ACK");
        assert_eq!(n, 1, "the connection closed before an ACK: {reply:?}");
        reply.push(byte[0]);
        if reply.ends_with(&[0x1c, b'\r']) {
            break;
        }
    }
    assert_eq!(reply[0], 0x0b, "an ACK frame starts with VT");
    String::from_utf8(reply[1..reply.len() - 2].to_vec()).unwrap()
}

fn framed(message: &str) -> Vec<u8> {
    let mut v = vec![0x0b];
    v.extend_from_slice(message.as_bytes());
    v.extend_from_slice(&[0x1c, b'\r']);
    v
}

/// MSA-1, MSA-2 and the ERR segment (if any) of an ACK.
fn msa(ack: &str) -> (String, String, Option<String>) {
    let segments: Vec<&str> = ack.split('\r').filter(|s| !s.is_empty()).collect();
    assert!(segments[0].starts_with("MSH|"), "{ack:?}");
    let msa: Vec<&str> = segments
        .iter()
        .find(|s| s.starts_with("MSA|"))
        .unwrap_or_else(|| panic!("no MSA in {ack:?}"))
        .split('|')
        .collect();
    let err = segments
        .iter()
        .find(|s| s.starts_with("ERR|"))
        .map(|s| s.to_string());
    (
        msa[1].to_owned(),
        msa.get(2).unwrap_or(&"").to_string(),
        err,
    )
}

fn search(http: &reqwest::blocking::Client, server: &Server, query: &str) -> Value {
    let r = http
        .get(server.url(&format!("/fhir/{query}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    r.json().unwrap()
}

fn total(bundle: &Value) -> usize {
    bundle["entry"].as_array().map_or(0, Vec::len)
}

#[test]
fn mllp_acks_after_commit_and_resends_change_nothing() {
    for db in all_databases() {
        let server = Server::start_with_args(&db, &["--mllp", "127.0.0.1:0"]);
        let http = client_with_token(&make_token(&db, "admin"));
        let mut stream = connect(&server);

        let (code, control, err) = msa(&exchange(&mut stream, &framed(&fixture("adt_a01.hl7"))));
        assert_eq!(
            (code.as_str(), control.as_str(), err),
            ("AA", "ADT0001", None)
        );
        // The ACK came after the commit: the Patient is there at once.
        let patients = search(&http, &server, "Patient?identifier=HL7-PAT-1");
        assert_eq!(total(&patients), 1, "{patients}");
        let patient = &patients["entry"][0]["resource"];
        assert_eq!(patient["name"][0]["family"], "TESTPERSON");
        assert_eq!(patient["birthDate"], "1980-02-14");
        let pid = patient["id"].as_str().unwrap().to_owned();
        let version = patient["meta"]["versionId"].clone();

        // Results for the same patient, on the same connection.
        let (code, control, _) = msa(&exchange(&mut stream, &framed(&fixture("oru_r01.hl7"))));
        assert_eq!((code.as_str(), control.as_str()), ("AA", "LAB0001"));
        let obs = search(&http, &server, &format!("Observation?patient={pid}"));
        assert_eq!(total(&obs), 2, "{obs}");

        // The same message again (a sender that missed the ACK re-sends it): AA, and nothing
        // changes, not even the Patient's version.
        let (code, _, _) = msa(&exchange(&mut stream, &framed(&fixture("adt_a01.hl7"))));
        assert_eq!(code, "AA");
        let same = search(&http, &server, "Patient?identifier=HL7-PAT-1");
        assert_eq!(same["entry"][0]["resource"]["meta"]["versionId"], version);

        // Sent again under a new MSH-10: still the one Patient and the one Encounter.
        let resent = fixture("adt_a01.hl7").replace("|ADT0001|", "|ADT0001R|");
        let (code, control, _) = msa(&exchange(&mut stream, &framed(&resent)));
        assert_eq!((code.as_str(), control.as_str()), ("AA", "ADT0001R"));
        let again = search(&http, &server, "Patient?identifier=HL7-PAT-1");
        assert_eq!(total(&again), 1);
        assert_eq!(again["entry"][0]["resource"]["id"], pid.as_str());
        let encounters = search(&http, &server, &format!("Encounter?patient={pid}"));
        assert_eq!(total(&encounters), 1, "{encounters}");

        // Every message left an audit entry naming its Patient, written before its ACK.
        let audit = search(&http, &server, &format!("AuditEvent?patient={pid}"));
        let mllp: Vec<&Value> = audit["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|e| {
                e["outcomeDesc"]
                    .as_str()
                    .is_some_and(|d| d.contains("HL7 v2 message"))
            })
            .collect();
        assert_eq!(mllp.len(), 4, "{audit}");
        assert!(mllp
            .iter()
            .any(|e| e["outcomeDesc"] == "MLLP 200; HL7 v2 message LAB0001: stored, AA"));
    }
}

#[test]
fn mllp_answers_faults_with_ar_and_ae() {
    for db in all_databases() {
        let server = Server::start_with_args(&db, &["--mllp", "127.0.0.1:0"]);
        let http = client_with_token(&make_token(&db, "admin"));
        let mut stream = connect(&server);

        // Not a message at all: AR with an ERR segment.
        let (code, _, err) = msa(&exchange(&mut stream, &framed("PID|1||X^^^A^MR")));
        assert_eq!(code, "AR");
        assert!(err.is_some());

        // Noise between frames is skipped, and the frame after it is answered.
        let mut bytes = b"some noise\r\n".to_vec();
        bytes.extend(framed(&fixture("adt_a01.hl7")));
        let (code, control, _) = msa(&exchange(&mut stream, &bytes));
        assert_eq!((code.as_str(), control.as_str()), ("AA", "ADT0001"));

        // A frame split across writes.
        let whole = framed(&fixture("oru_r01.hl7"));
        stream.write_all(&whole[..40]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let (code, _, _) = msa(&exchange(&mut stream, &whole[40..]));
        assert_eq!(code, "AA");

        // An ADT without PID: AE naming what is missing, and nothing kept.
        let no_pid = "MSH|^~\\&|SALUSTEST|GOODHEALTH|SALUS|SALUS|20261130083000||ADT^A01|BAD0001|P|2.5.1\rEVN|A01|20261130083000\r";
        let (code, control, err) = msa(&exchange(&mut stream, &framed(no_pid)));
        assert_eq!((code.as_str(), control.as_str()), ("AE", "BAD0001"));
        assert!(err.unwrap().contains("PID"), "the ERR segment names PID");

        // A type Salus does not map is kept (as a Binary) and acknowledged.
        let (code, control, _) = msa(&exchange(
            &mut stream,
            &framed(&fixture("unsupported_qry.hl7")),
        ));
        assert_eq!((code.as_str(), control.as_str()), ("AA", "QRY0001"));
        let binaries = search(&http, &server, "Binary");
        assert_eq!(total(&binaries), 1, "{binaries}");

        // An oversized frame (the default limit is 4 MiB): AR, and the connection still works.
        let big = format!(
            "MSH|^~\\&|SALUSTEST|GOODHEALTH|SALUS|SALUS|20261130083000||MDM^T02|BIG0001|P|2.5.1\rOBX|1|TX|||{}\r",
            "x".repeat(5 << 20)
        );
        let (code, control, err) = msa(&exchange(&mut stream, &framed(&big)));
        assert_eq!((code.as_str(), control.as_str()), ("AR", "BIG0001"));
        assert!(err.unwrap().contains("limit"));
        let (code, _, _) = msa(&exchange(&mut stream, &framed(&fixture("adt_a01.hl7"))));
        assert_eq!(code, "AA");

        // A connection dropped mid-frame keeps nothing of that message.
        let mut dropped = connect(&server);
        let half = framed(&fixture("adt_a01_duplicate_patient.hl7"));
        dropped.write_all(&half[..half.len() / 2]).unwrap();
        drop(dropped);
        std::thread::sleep(Duration::from_millis(200));
        let none = search(&http, &server, "Patient?identifier=HL7-PAT-2");
        assert_eq!(total(&none), 0, "{none}");
    }
}

#[test]
fn a40_moves_the_retired_patients_resources_to_the_survivor() {
    for db in all_databases() {
        let server = Server::start_with_args(&db, &["--mllp", "127.0.0.1:0"]);
        let http = client_with_token(&make_token(&db, "admin"));
        let mut stream = connect(&server);
        for name in [
            "adt_a01.hl7",
            "adt_a01_duplicate_patient.hl7",
            "adt_a40_merge.hl7",
        ] {
            let (code, _, err) = msa(&exchange(&mut stream, &framed(&fixture(name))));
            assert_eq!(code, "AA", "{name}: {err:?}");
        }
        let survivor = search(&http, &server, "Patient?identifier=HL7-PAT-1");
        let survivor = &survivor["entry"][0]["resource"];
        let retired = search(&http, &server, "Patient?identifier=HL7-PAT-2");
        let retired = &retired["entry"][0]["resource"];
        let (sid, rid) = (
            survivor["id"].as_str().unwrap(),
            retired["id"].as_str().unwrap(),
        );
        assert_eq!(survivor["link"][0]["type"], "replaces");
        assert_eq!(
            survivor["link"][0]["other"]["reference"],
            format!("Patient/{rid}")
        );
        assert_eq!(retired["link"][0]["type"], "replaced-by");
        assert_eq!(retired["active"], false);
        // Both visits are the survivor's now; none is left with the retired patient.
        let encounters = search(&http, &server, &format!("Encounter?patient={sid}"));
        assert_eq!(total(&encounters), 2, "{encounters}");
        let left = search(&http, &server, &format!("Encounter?patient={rid}"));
        assert_eq!(total(&left), 0, "{left}");
    }
}

#[test]
fn http_ingest_takes_hl7v2_and_reports_each_message() {
    for db in all_databases() {
        let server = Server::start(&db);
        let http = client_with_token(&make_token(&db, "admin"));
        // Message 3 has no type (MSH-9) and no control id (MSH-10).
        let body = format!(
            "{}{}MSH|^~\\&|SALUSTEST|GOODHEALTH|||20261130||||P|2.5.1\rPID|1\r{}",
            fixture("adt_a01.hl7"),
            fixture("oru_r01.hl7"),
            fixture("unsupported_qry.hl7")
        );
        let r = http
            .post(server.url("/ingest?format=hl7v2"))
            .body(body.clone())
            .send()
            .unwrap();
        let report: Value = r.json().unwrap();
        assert_eq!(report["resources"]["Patient"]["created"], 1, "{report}");
        assert_eq!(report["resources"]["Observation"]["created"], 2, "{report}");
        assert_eq!(report["resources"]["Binary"]["created"], 1, "{report}");
        // The ORU's PID (less than the ADT's) left the Patient as the admission made it.
        assert_eq!(report["resources"]["Patient"]["updated"], 0, "{report}");
        // The message without a type is reported with its position; the others are kept.
        let rejected = report["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 1, "{report}");
        assert_eq!(rejected[0]["position"], "message 3");
        let why = rejected[0]["outcome"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap();
        assert!(why.contains("MSH") && why.contains("9"), "{why}");
        // Again: every resource unchanged.
        let again: Value = http
            .post(server.url("/ingest?format=hl7v2"))
            .body(body)
            .send()
            .unwrap()
            .json()
            .unwrap();
        // (the Patient is counted once per message that names it)
        assert_eq!(again["resources"]["Patient"]["unchanged"], 2, "{again}");
        assert_eq!(again["resources"]["Observation"]["unchanged"], 2, "{again}");
        assert!(
            again["resources"]["Observation"]["created"]
                .as_u64()
                .unwrap_or(0)
                == 0
        );
    }
}

/// The PyPI `hl7` package's `mllp_send`, installed by `make test` (tests/requirements.txt)
/// into `target/pydeps`.
fn mllp_send() -> Option<std::path::PathBuf> {
    let deps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pydeps");
    deps.join("hl7").is_dir().then_some(deps)
}

#[test]
fn a_real_mllp_client_gets_its_acks() {
    let Some(deps) = mllp_send() else {
        eprintln!("skipped: python hl7 (mllp_send) is not installed in target/pydeps; `make test` installs it");
        return;
    };
    for db in all_databases() {
        let server = Server::start_with_args(&db, &["--mllp", "127.0.0.1:0"]);
        let addr = server.mllp.clone().unwrap();
        let (host, port) = addr.rsplit_once(':').unwrap();
        let dir = scratch_dir();
        // `mllp_send --loose --file F` cuts F into messages at each `MSH|^~\&|`, sends each
        // framed, waits for its ACK and prints it.
        let file = dir.path().join("messages.hl7");
        let messages: String = [
            "adt_a01.hl7",
            "oru_r01.hl7",
            "adt_a01_duplicate_patient.hl7",
        ]
        .iter()
        .map(|name| fixture(name))
        .collect();
        std::fs::write(&file, messages).unwrap();
        let out = std::process::Command::new("python3")
            .env("PYTHONPATH", &deps)
            .args(["-c", "import sys; from hl7.client import mllp_send; sys.argv[0]='mllp_send'; mllp_send()"])
            .args(["--port", port, "--loose", "--file"])
            .arg(&file)
            .arg(host)
            .output()
            .expect("run mllp_send");
        assert!(
            out.status.success(),
            "mllp_send failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let acks = String::from_utf8_lossy(&out.stdout);
        let msas: Vec<&str> = acks
            .split(['\r', '\n'])
            .filter(|s| s.starts_with("MSA|"))
            .collect();
        assert_eq!(
            msas,
            vec!["MSA|AA|ADT0001", "MSA|AA|LAB0001", "MSA|AA|ADT0002"],
            "{acks}"
        );
    }
}

/// With a certificate, the MLLP listener speaks TLS only: a TLS client (Python's `ssl`, not
/// ours) gets its ACK; a plain connection gets no MLLP reply.
#[test]
fn mllp_over_tls_when_the_server_has_a_certificate() {
    let dir = scratch_dir();
    let out = salus()
        .arg("dev-cert")
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("run salus dev-cert");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = dir.path().join("salus-dev-cert.pem");
    let key = dir.path().join("salus-dev-key.pem");
    let db = salus_store::testing::sqlite();
    let server = Server::start_with_args(
        &db,
        &[
            "--mllp",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let addr = server.mllp.clone().unwrap();
    let (_, port) = addr.rsplit_once(':').unwrap();

    // Plain bytes to a TLS listener: no ACK comes back.
    let mut plain = connect(&server);
    plain
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    plain
        .write_all(&framed(&fixture("adt_a01_duplicate_patient.hl7")))
        .unwrap();
    let mut buf = [0u8; 64];
    let got = plain.read(&mut buf).unwrap_or(0);
    assert!(
        got == 0 || buf[0] != 0x0b,
        "a plain connection got an MLLP reply"
    );

    let script = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"\x0b" + open(sys.argv[3], "rb").read() + b"\x1c\r")
        reply = b""
        while not reply.endswith(b"\x1c\r"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        sys.stdout.write(reply.decode())
"#;
    let fixture_path = format!(
        "{}/../../fixtures/hl7v2/adt_a01.hl7",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&cert)
        .arg(port)
        .arg(&fixture_path)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply = String::from_utf8_lossy(&out.stdout);
    let ack = reply
        .trim_start_matches('\u{b}')
        .trim_end_matches(['\u{1c}', '\r']);
    assert_eq!(msa(ack).0, "AA", "{reply:?}");
    assert_eq!(msa(ack).1, "ADT0001");
}

/// `[mllp]` settings: a silent connection is closed after `idle_timeout_secs`, and a frame over
/// `max_frame_bytes` is answered `AR`.
#[test]
fn mllp_idle_timeout_and_frame_limit_come_from_the_configuration() {
    let dir = scratch_dir();
    let config = dir.path().join("salus.toml");
    std::fs::write(
        &config,
        "[mllp]\nidle_timeout_secs = 1\nmax_frame_bytes = 2048\n",
    )
    .unwrap();
    let db = salus_store::testing::sqlite();
    let server = Server::start_with_args(
        &db,
        &[
            "--mllp",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let mut stream = connect(&server);
    let big = format!("{}ZZZ|{}\r", fixture("adt_a01.hl7"), "y".repeat(3000));
    let (code, control, _) = msa(&exchange(&mut stream, &framed(&big)));
    assert_eq!((code.as_str(), control.as_str()), ("AR", "ADT0001"));
    // Silent for longer than a second: the listener closes the connection.
    std::thread::sleep(Duration::from_millis(1800));
    let mut buf = [0u8; 16];
    assert_eq!(
        stream.read(&mut buf).unwrap_or(0),
        0,
        "the idle connection was not closed"
    );
}
