//! The audit writer, and the audit trail over FHIR (`GET /fhir/AuditEvent`).
//!
//! Requests hand their audit record to one writer thread, which appends everything queued at
//! once in one transaction. By default a request does not wait for the commit: the queue is
//! written continuously (a group per transaction, as large as what arrived meanwhile), it is
//! bounded (when full, requests wait: no request outruns its trace by more than the queue), it is
//! flushed on shutdown, and a failed write is retried, never dropped. What a process crash can
//! lose is the queue of the last moments. `audit.wait_for_commit = true` makes every response
//! wait until its entry is committed, at the cost measured by `make bench`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use salus_auth::audit::{ledger_line, line_hash, parse_ledger_line, render, AuditRecord, GENESIS};
use salus_fhir::IssueCode;
use salus_store::{AuditRow, Store};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::fhir::query_pairs;
use crate::{AppState, FHIR_JSON};

/// The most entries appended in one transaction (one ledger block).
const MAX_GROUP: usize = salus_store::MAX_BLOCK_ENTRIES as usize;
/// Entries queued before requests wait for the writer.
const QUEUE: usize = 65_536;

enum Job {
    Record(
        Box<AuditRecord>,
        Option<oneshot::Sender<Result<(), String>>>,
    ),
    /// Write what is queued, answer, and stop. (A std channel: the answer is awaited by a
    /// blocking receive at shutdown, which tokio's channels refuse inside a runtime.)
    Stop(std::sync::mpsc::SyncSender<()>),
}

/// What a handler adds to its request's audit entry, as a response extension: the resources
/// it disclosed beyond those the route names, the purpose it served, and what it decided.
#[derive(Debug, Clone, Default)]
pub struct AuditAddendum {
    pub entities: Vec<String>,
    pub purpose: Option<String>,
    pub detail: Option<String>,
}

/// A handle to the writer thread; `None` inside when audit writes are off (benchmarks only).
#[derive(Clone)]
pub struct AuditWriter {
    jobs: Option<SyncSender<Job>>,
    wait_for_commit: bool,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Set at shutdown: a writer still failing then gives up after [`SHUTDOWN_GRACE`] rather
    /// than hold the process forever.
    stopping: Arc<AtomicBool>,
}

/// How long a stopping server keeps retrying a failing audit write.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl AuditWriter {
    /// Start the writer thread over `store`.
    pub fn start(store: Store, wait_for_commit: bool) -> AuditWriter {
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("salus-audit-writer".into())
            .spawn(move || write_loop(&store, &queue, tick(wait_for_commit), &flag))
            .expect("spawn the audit writer thread");
        AuditWriter {
            jobs: Some(jobs),
            wait_for_commit,
            thread: Arc::new(Mutex::new(Some(thread))),
            stopping,
        }
    }

    /// A writer that stores nothing: for measuring what auditing costs, never for service.
    pub fn disabled() -> AuditWriter {
        AuditWriter {
            jobs: None,
            wait_for_commit: false,
            thread: Arc::new(Mutex::new(None)),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Hand over one record: queued (or, with `wait_for_commit`, committed) when this returns.
    pub async fn record(&self, record: AuditRecord) -> Result<(), String> {
        let Some(jobs) = &self.jobs else {
            return Ok(());
        };
        let stopped = || "the audit writer has stopped".to_owned();
        let (done, wait) = if self.wait_for_commit {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        match jobs.try_send(Job::Record(Box::new(record), done)) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                // The queue is full: wait for room off the async worker.
                let jobs = jobs.clone();
                web::block(move || jobs.send(job).map_err(|_| ()))
                    .await
                    .map_err(|_| stopped())?
                    .map_err(|_| stopped())?;
            }
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        match wait {
            Some(wait) => wait.await.map_err(|_| stopped())?,
            None => Ok(()),
        }
    }

    /// Write everything queued and stop the writer (on shutdown).
    pub fn shutdown(&self) {
        let Some(jobs) = &self.jobs else { return };
        self.stopping.store(true, Ordering::SeqCst);
        let (tx, rx) = sync_channel(1);
        if jobs.send(Job::Stop(tx)).is_ok() {
            let _ = rx.recv();
        }
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

/// How often the writer takes what is queued. Why a tick and not a blocking receive: a
/// receive wakes the writer for every entry sent, and those wake-ups (a futex call and a
/// context switch per request) cost more than writing the entries; on a tick, senders never
/// make a system call and each transaction carries every entry of the interval. Each commit
/// writes whole pages to SQLite's log and costs PostgreSQL a transaction, a lock and a flush,
/// so fewer, larger commits cost less: when responses wait for the commit the tick is short;
/// otherwise 50 ms, where what auditing cost PostgreSQL reads fell from 14% (20 ms) to under
/// 10%, while what a crash can lose stays a twentieth of a second.
fn tick(wait_for_commit: bool) -> Duration {
    if wait_for_commit {
        Duration::from_millis(2)
    } else {
        Duration::from_millis(50)
    }
}

fn write_loop(store: &Store, queue: &Receiver<Job>, tick: Duration, stopping: &AtomicBool) {
    let mut stop = None;
    let mut open = true;
    while stop.is_none() && open {
        let started = std::time::Instant::now();
        let mut group = Vec::new();
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(Job::Record(record, done)) => group.push((*record, done)),
                Ok(Job::Stop(done)) => {
                    stop = Some(done);
                    break;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let behind = group.len() == MAX_GROUP;
        if !group.is_empty() && commit(store, group, stopping).is_err() {
            // Stopping, and the database refuses: drain nothing more.
            break;
        }
        // At most one commit per tick, unless a full group says the queue is behind. Why:
        // a commit costs the database a transaction, a lock and whole pages of log whatever
        // it holds; writing again as soon as a commit returns made groups of a few entries
        // under load, and the audit trail then cost PostgreSQL more than the reads did.
        let spent = started.elapsed();
        if !behind && spent < tick && stop.is_none() && open {
            std::thread::sleep(tick - spent);
        }
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

type Group = Vec<(AuditRecord, Option<oneshot::Sender<Result<(), String>>>)>;

/// Append a group and tell whoever waits for it. A failed append is retried until it succeeds:
/// an entry is never dropped, and requests waiting for it (or for room in the queue) wait
/// meanwhile. Only a stopping server gives up, after [`SHUTDOWN_GRACE`].
fn commit(store: &Store, group: Group, stopping: &AtomicBool) -> Result<(), String> {
    let mut delay = Duration::from_millis(50);
    let mut stop_seen: Option<std::time::Instant> = None;
    let result = loop {
        match append(store, group.iter().map(|(record, _)| record)) {
            Ok(_) => break Ok(()),
            Err(e) => {
                tracing::error!(error = %e, entries = group.len(), "the audit trail could not be written; retrying");
                if stopping.load(Ordering::SeqCst) {
                    let since = *stop_seen.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= SHUTDOWN_GRACE {
                        tracing::error!(
                            entries = group.len(),
                            "shutting down with audit entries that could not be written"
                        );
                        break Err(e.to_string());
                    }
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    for (_, done) in group {
        if let Some(done) = done {
            let _ = done.send(result.clone());
        }
    }
    result
}

/// Append records at the end of the chain, in order.
pub fn append<'a>(
    store: &Store,
    records: impl Iterator<Item = &'a AuditRecord>,
) -> salus_store::Result<usize> {
    let records: Vec<&AuditRecord> = records.collect();
    store.append_audit(GENESIS, |last_seq, last_hash| {
        let mut previous = last_hash.to_owned();
        records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                let seq = last_seq + 1 + i as i64;
                let line = ledger_line(record, seq);
                let hash = line_hash(&previous, &line);
                previous.clone_from(&hash);
                let mut references = record.entities.clone();
                references.sort();
                references.dedup();
                (AuditRow { seq, line, hash }, references)
            })
            .collect()
    })
}

/// What an auditor's search asks for.
#[derive(Debug, Default)]
struct AuditQuery {
    who: Option<String>,
    action: Option<String>,
    status: Option<(u16, u16)>,
    entity: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    after: i64,
    count: usize,
}

impl AuditQuery {
    fn matches(&self, r: &AuditRecord) -> bool {
        self.who.as_ref().is_none_or(|w| *w == r.who)
            && self.action.as_ref().is_none_or(|a| *a == r.action)
            && self
                .status
                .is_none_or(|(lo, hi)| (lo..=hi).contains(&r.status))
            && self.entity.as_ref().is_none_or(|e| r.entities.contains(e))
            && self.from.is_none_or(|t| r.recorded >= t)
            && self.to.is_none_or(|t| r.recorded < t)
    }
}

/// Entries read per search request at most: a search with a rare filter over a long trail
/// answers with what it found so far and a `next` link that continues the scan.
const SCAN_BUDGET: usize = 200_000;
const SCAN_PAGE: i64 = 2_000;

/// A matching entry: its sequence number, record and hash.
type Match = (i64, AuditRecord, String);

/// The matching entries and where the next page starts.
fn run_query(store: &Store, query: &AuditQuery) -> salus_store::Result<(Vec<Match>, Option<i64>)> {
    let mut found = Vec::new();
    let mut after = query.after;
    let mut scanned = 0;
    loop {
        let rows = match &query.entity {
            Some(entity) => store.audit_page_naming(entity, after, SCAN_PAGE)?,
            None => store.audit_page(after, SCAN_PAGE)?,
        };
        let exhausted = match &query.entity {
            // A page of whole blocks: only an empty one says the end was reached.
            Some(_) => rows.is_empty(),
            None => (rows.len() as i64) < SCAN_PAGE,
        };
        for row in rows {
            scanned += 1;
            after = row.seq;
            if let Some((_, record)) = parse_ledger_line(&row.line) {
                if query.matches(&record) {
                    if found.len() == query.count {
                        // One more match exists: the page is full and has a next one.
                        let last = found.last().map(|m: &Match| m.0);
                        return Ok((found, last));
                    }
                    found.push((row.seq, record, row.hash));
                }
            }
        }
        if exhausted {
            return Ok((found, None));
        }
        if scanned >= SCAN_BUDGET {
            return Ok((found, Some(after)));
        }
    }
}

/// `GET /fhir/AuditEvent?…`: parameters `agent` (token/ID or client/ID), `subtype` (the
/// action: read, search, ingest, …), `outcome` (0, 4, 8), `entity` or `patient` (a reference or
/// a patient id), `date` with `ge`/`gt`/`le`/`lt` prefixes, `_count`, `_cursor`.
pub async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = query_pairs(&req);
    let mut filter = AuditQuery {
        count: 50,
        ..AuditQuery::default()
    };
    for (key, value) in &pairs {
        match key.as_str() {
            "agent" => filter.who = Some(value.clone()),
            "subtype" => filter.action = Some(value.clone()),
            "outcome" => {
                filter.status = Some(match value.as_str() {
                    "0" => (0, 399),
                    "4" => (400, 499),
                    "8" | "12" => (500, 599),
                    _ => {
                        return Err(ApiError::bad_request(
                            IssueCode::Value,
                            "outcome is 0 (success), 4 (refused or not found), 8 or 12 (server failure)",
                        ))
                    }
                })
            }
            "entity" => filter.entity = Some(value.clone()),
            "patient" => {
                filter.entity = Some(if value.contains('/') {
                    value.clone()
                } else {
                    format!("Patient/{value}")
                })
            }
            "date" => {
                let (prefix, instant) = split_prefix(value);
                let range = salus_fhir::date::parse_range(instant).ok_or_else(|| {
                    ApiError::bad_request(
                        IssueCode::Value,
                        "date: expected a FHIR date or dateTime after an optional prefix (ge, le, gt, lt)",
                    )
                })?;
                match prefix {
                    "ge" | "sa" | "gt" => filter.from = Some(if prefix == "ge" { range.lo } else { range.hi }),
                    "le" | "eb" | "lt" => filter.to = Some(if prefix == "le" { range.hi } else { range.lo }),
                    _ => {
                        filter.from = Some(range.lo);
                        filter.to = Some(range.hi);
                    }
                }
            }
            "_count" => {
                filter.count = value.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    ApiError::bad_request(IssueCode::Value, "_count is a whole number from 1 to 1000")
                })?
            }
            "_cursor" => {
                filter.after = value.parse().map_err(|_| {
                    ApiError::bad_request(IssueCode::Value, "_cursor comes from a next link")
                })?
            }
            "_format" | "_pretty" | "_total" => {}
            other => {
                return Err(ApiError::bad_request(
                    IssueCode::NotSupported,
                    format!("AuditEvent search parameter '{other}' is not supported (agent, subtype, outcome, entity, patient, date, _count)"),
                ))
            }
        }
    }
    let store = state.store.clone();
    let (rows, next) = web::block(move || run_query(&store, &filter)).await??;
    let base = {
        let info = req.connection_info();
        format!("{}://{}/fhir", info.scheme(), info.host())
    };
    let self_query: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "_cursor")
        .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
        .collect();
    let self_url = format!("{base}/AuditEvent?{}", self_query.join("&"));
    let mut out = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","link":[{{"relation":"self","url":{}}}"#,
        serde_json::Value::String(self_url.clone())
    );
    if let Some(cursor) = next {
        let url = format!("{self_url}&_cursor={cursor}");
        out.push_str(&format!(
            r#",{{"relation":"next","url":{}}}"#,
            serde_json::Value::String(url)
        ));
    }
    out.push_str(r#"],"entry":["#);
    for (i, (seq, record, hash)) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"fullUrl":"{base}/AuditEvent/{seq}","resource":{},"search":{{"mode":"match"}}}}"#,
            render(record, *seq, hash)
        ));
    }
    out.push_str("]}");
    Ok(HttpResponse::Ok().content_type(FHIR_JSON).body(out))
}

fn split_prefix(value: &str) -> (&str, &str) {
    for prefix in ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"] {
        if let Some(rest) = value.strip_prefix(prefix) {
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                return (prefix, rest);
            }
        }
    }
    ("eq", value)
}

/// `GET /fhir/AuditEvent/{id}`: the id is the entry's sequence number.
pub async fn read(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let not_found = || ApiError::not_found(format!("AuditEvent/{id} is not in the audit trail"));
    let Ok(seq) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let store = state.store.clone();
    let row = web::block(move || store.audit_entry(seq)).await??;
    match row.and_then(|row| parse_ledger_line(&row.line).map(|(_, r)| (row, r))) {
        Some((row, record)) => Ok(HttpResponse::Ok()
            .content_type(FHIR_JSON)
            .body(render(&record, row.seq, &row.hash))),
        None => Err(not_found()),
    }
}
