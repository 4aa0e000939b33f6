//! The HL7 v2 MLLP listener: frames in, acknowledgements out, each `AA` sent only once the
//! message's resources are committed.
//!
//! A connection task reads frames ([`salus_hl7v2::mllp::FrameDecoder`]: partial frames, noise
//! between frames and a size limit handled there), parses and maps each message on the async
//! worker (pure and fast), and hands the resources to one writer thread. The writer commits
//! what every connection has queued in one transaction (group commit: with eight senders a
//! commit serves several messages) and only then answers each; a failed group is retried one
//! message at a time, so one bad message cannot refuse another. No commit, no ACK: a crash
//! before commit leaves the sender waiting, it re-sends, and the re-send is idempotent
//! (deterministic ids; unchanged content writes nothing).
//!
//! `AR` answers what cannot be read (no MSH, bad delimiters, an oversized frame), `AE` what
//! cannot be mapped or stored, each with an `ERR` segment naming the segment and field at
//! fault. Neither the ACK nor the log holds a field value.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use salus_auth::audit::AuditRecord;
use salus_hl7v2::mllp::{frame, Frame, FrameDecoder};
use salus_hl7v2::{ack, ack_for_unparsable, AckCode, AckError, Message};
use salus_hl7v2_fhir::MapOptions;
use salus_ingest::hl7v2::{convert_parsed, MessageFault};
use salus_ingest::PatientMerge;
use salus_store::{Store, WriteRequest};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

/// Listener settings (`[mllp]` in `salus.toml`).
#[derive(Debug, Clone)]
pub struct MllpConfig {
    pub listen: String,
    /// The largest message accepted; a larger frame is answered `AR` and skipped.
    pub max_frame_bytes: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Messages committed in one transaction at most.
    pub max_group: usize,
    pub map: MapOptions,
}

impl Default for MllpConfig {
    fn default() -> Self {
        MllpConfig {
            listen: "127.0.0.1:2575".into(),
            max_frame_bytes: 4 << 20,
            idle_timeout: Duration::from_secs(300),
            max_connections: 256,
            max_group: 256,
            map: MapOptions::default(),
        }
    }
}

/// One message's writes, and where to say whether they were committed.
struct Job {
    requests: Vec<WriteRequest>,
    merges: Vec<PatientMerge>,
    /// For the audit trail: who sent it, the message's control id, the Patients it names.
    peer: SocketAddr,
    control_id: String,
    patients: Vec<String>,
    done: oneshot::Sender<Result<(), String>>,
}

/// Shared by the connection tasks.
struct Listener {
    config: MllpConfig,
    jobs: mpsc::Sender<Job>,
    acks: AtomicU64,
    started: i64,
    clock: fn() -> i64,
}

/// Bind `config.listen`, report the bound address, and serve until the process ends. With
/// `tls`, every connection is TLS (no plain listener beside it).
pub async fn serve_mllp(
    store: Store,
    config: MllpConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
    clock: fn() -> i64,
    on_listening: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let socket = TcpListener::bind(&config.listen).await?;
    on_listening(socket.local_addr()?);
    let (jobs, queue) = mpsc::channel::<Job>();
    let max_group = config.max_group.max(1);
    std::thread::Builder::new()
        .name("salus-mllp-writer".into())
        .spawn(move || write_jobs(&store, queue, max_group, clock))?;
    let listener = Arc::new(Listener {
        jobs,
        acks: AtomicU64::new(0),
        started: clock() / 1_000_000,
        clock,
        config,
    });
    let slots = Arc::new(Semaphore::new(listener.config.max_connections.max(1)));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (stream, peer) = match socket.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "MLLP accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let listener = listener.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                None => connection(stream, peer, &listener).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => connection(tls, peer, &listener).await,
                        Ok(Err(e)) => {
                            tracing::warn!(%peer, error = %e, "MLLP TLS handshake failed")
                        }
                        Err(_) => tracing::warn!(%peer, "MLLP TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Serve one connection until the peer closes it, goes idle or fails.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    listener: &Listener,
) {
    let mut decoder = FrameDecoder::new(listener.config.max_frame_bytes);
    let mut buffer = vec![0u8; 64 << 10];
    let mut frames = Vec::new();
    let mut noise_seen = 0u64;
    loop {
        let read = tokio::time::timeout(listener.config.idle_timeout, stream.read(&mut buffer));
        let n = match read.await {
            Err(_) => {
                tracing::info!(%peer, "MLLP connection idle; closed");
                return;
            }
            Ok(Err(e)) => {
                tracing::info!(%peer, error = %e, "MLLP connection failed");
                return;
            }
            Ok(Ok(0)) => {
                if decoder.mid_frame() {
                    // No ACK was sent for it, so the sender re-sends it.
                    tracing::warn!(%peer, "MLLP connection closed in the middle of a message; that message was not kept");
                }
                return;
            }
            Ok(Ok(n)) => n,
        };
        decoder.push(&buffer[..n], &mut frames);
        for f in frames.drain(..) {
            let reply = answer(f, peer, listener).await;
            if let Err(e) = stream.write_all(&frame(reply.as_bytes())).await {
                tracing::info!(%peer, error = %e, "MLLP connection closed before its ACK was sent");
                return;
            }
        }
        if decoder.noise_bytes() > noise_seen {
            noise_seen = decoder.noise_bytes();
            tracing::debug!(%peer, skipped = noise_seen, "bytes outside MLLP frames were skipped");
        }
    }
}

/// The ACK for one frame.
async fn answer(frame: Frame, peer: SocketAddr, listener: &Listener) -> String {
    let now = hl7_timestamp((listener.clock)());
    let control_id = format!(
        "S{:x}{:06x}",
        listener.started,
        listener.acks.fetch_add(1, Ordering::Relaxed) & 0xff_ffff
    );
    let bytes = match frame {
        Frame::Oversized { head, len } => {
            let text = salus_hl7v2::decode_text(&head);
            let error = AckError::new(
                207,
                format!(
                    "the message is {len} bytes, over this listener's limit of {} (mllp.max_frame_bytes); it was not kept",
                    listener.config.max_frame_bytes
                ),
            );
            return ack_for_unparsable(
                &text,
                AckCode::ApplicationReject,
                Some(&error),
                &now,
                &control_id,
            );
        }
        Frame::Message(bytes) => bytes,
    };
    let text = salus_hl7v2::decode_text(&bytes);
    let message = match Message::parse(&text) {
        Ok(m) => m,
        Err(e) => {
            let error = AckError::from_parse_error(&e, &text);
            return ack_for_unparsable(
                &text,
                AckCode::ApplicationReject,
                Some(&error),
                &now,
                &control_id,
            );
        }
    };
    let converted = match convert_parsed(&message, &listener.config.map) {
        Ok(c) => c,
        Err(fault) => {
            let error = fault_to_ack_error(&fault, &message);
            return ack(
                &message,
                AckCode::ApplicationError,
                Some(&error),
                &now,
                &control_id,
            );
        }
    };
    let source = format!("MLLP message {}", message.control_id());
    let patients = converted
        .resources
        .iter()
        .filter(|r| r.resource.resource_type == "Patient")
        .map(|r| format!("Patient/{}", r.resource.id))
        .collect();
    let requests = converted
        .resources
        .into_iter()
        .map(|r| WriteRequest {
            resource: r.resource,
            source: Some(source.clone()),
            if_match: None,
            create_only: r.create_only,
        })
        .collect();
    let (done, committed) = oneshot::channel();
    let job = Job {
        requests,
        merges: converted.merges,
        peer,
        control_id: message.control_id().into_owned(),
        patients,
        done,
    };
    let outcome = match listener.jobs.send(job) {
        Ok(()) => committed
            .await
            .unwrap_or_else(|_| Err("the writer stopped".into())),
        Err(_) => Err("the writer stopped".into()),
    };
    match outcome {
        Ok(()) => ack(
            &message,
            AckCode::ApplicationAccept,
            None,
            &now,
            &control_id,
        ),
        Err(why) => {
            tracing::error!(error = %why, "an MLLP message could not be stored; answered AE");
            let error = AckError::new(
                207,
                "the message could not be stored and was not kept; send it again later",
            );
            ack(
                &message,
                AckCode::ApplicationError,
                Some(&error),
                &now,
                &control_id,
            )
        }
    }
}

/// ERR-2 counts occurrences of the segment id, not positions in the message.
fn fault_to_ack_error(fault: &MessageFault, message: &Message<'_>) -> AckError {
    let error = AckError::new(fault.code, fault.reason.clone());
    match &fault.segment {
        Some((id, position)) => {
            let occurrence = message
                .segments()
                .iter()
                .take(*position)
                .filter(|s| s.id() == id)
                .count()
                .max(1);
            error.at(id, occurrence, fault.field)
        }
        None => error,
    }
}

/// HL7 DTM of an instant (microseconds since the epoch), in UTC.
fn hl7_timestamp(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y%m%d%H%M%S+0000")
        .to_string()
}

/// The writer thread: commit queued jobs a group at a time, then answer them.
fn write_jobs(store: &Store, queue: mpsc::Receiver<Job>, max_group: usize, clock: fn() -> i64) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // The group's writes side by side (moved, not copied); each job keeps its count so
        // that a failed group can be retried a message at a time.
        let mut requests: Vec<WriteRequest> = Vec::new();
        let mut counts = Vec::with_capacity(group.len());
        for job in &mut group {
            counts.push(job.requests.len());
            requests.append(&mut job.requests);
        }
        let merges: Vec<PatientMerge> = group.iter().flat_map(|j| j.merges.clone()).collect();
        let results: Vec<Result<(), String>> =
            match store.write_with_merges(&requests, &merges, clock(), false) {
                Ok(_) => group.iter().map(|_| Ok(())).collect(),
                // One message may be at fault: each alone, so the others still commit.
                Err(_) if group.len() > 1 => {
                    let mut at = 0;
                    group
                        .iter()
                        .zip(&counts)
                        .map(|(job, n)| {
                            let own = &requests[at..at + n];
                            at += n;
                            store
                                .write_with_merges(own, &job.merges, clock(), false)
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        })
                        .collect()
                }
                Err(e) => group.iter().map(|_| Err(e.to_string())).collect(),
            };
        // Every message leaves an entry in the audit trail (one append per group), before it
        // is acknowledged.
        let now = clock();
        let records: Vec<AuditRecord> = group
            .iter()
            .zip(&results)
            .map(|(job, result)| audit_record(job, result.is_ok(), now))
            .collect();
        if let Err(e) = crate::audit::append(store, records.iter()) {
            tracing::error!(error = %e, "the audit entries of MLLP messages could not be written");
        }
        for (job, result) in group.into_iter().zip(results) {
            let _ = job.done.send(result);
        }
    }
}

/// The audit entry of one MLLP message: the sender's address, the message control id (not
/// patient data) and the Patients it wrote.
fn audit_record(job: &Job, stored: bool, now: i64) -> AuditRecord {
    AuditRecord {
        who: format!("mllp/{}", job.peer.ip()),
        who_name: "MLLP sender".into(),
        action: "ingest".into(),
        status: if stored { 200 } else { 500 },
        entities: job.patients.clone(),
        query: None,
        route: "MLLP".into(),
        purpose: None,
        address: Some(job.peer.to_string()),
        recorded: now,
        detail: Some(format!(
            "HL7 v2 message {}: {}",
            job.control_id,
            if stored {
                "stored, AA"
            } else {
                "not stored, AE"
            }
        )),
    }
}
