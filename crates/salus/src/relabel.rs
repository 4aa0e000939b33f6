//! Re-labelling: when the sensitivity value sets change (a new `salus-labels` data version),
//! every stored resource whose codes now imply a label it lacks gets a new version with it.
//! Runs on its own at `migrate`, `ingest` and `serve` when the stored version differs, so a
//! consent that denies `PSY` never misses a resource labelled under older value sets.
//!
//! Labels are only ever added: a label restricts disclosure, and one a source sent cannot be
//! told apart from one Salus added, so removing any could disclose what a source protected.

use anyhow::{Context, Result};
use salus_labels::Labeller;
use salus_store::{Store, WriteRequest};

/// The setting that records which value-set version the store was labelled with.
const SETTING: &str = "labels_version";
const BATCH: usize = 500;

/// Re-label when the stored version is not the built-in one; the number of resources changed.
pub fn ensure_current(store: &Store) -> Result<u64> {
    let labeller = Labeller::builtin();
    let stored = store
        .setting(SETTING)
        .context("reading the labels version")?;
    if stored.as_deref() == Some(labeller.version()) {
        return Ok(0);
    }
    let changed = relabel(store, labeller)?;
    store
        .set_setting(SETTING, labeller.version())
        .context("recording the labels version")?;
    if changed > 0 {
        tracing::info!(
            resources = changed,
            version = labeller.version(),
            "re-labelled stored resources under new sensitivity value sets"
        );
    }
    Ok(changed)
}

fn relabel(store: &Store, labeller: &Labeller) -> Result<u64> {
    let source = format!("relabel {}", labeller.version());
    let mut pending: Vec<WriteRequest> = Vec::new();
    let mut changed = 0u64;
    let flush = |pending: &mut Vec<WriteRequest>| -> Result<()> {
        if !pending.is_empty() {
            store
                .write_batch(std::mem::take(pending), crate::now_micros(), false)
                .context("writing re-labelled resources")?;
        }
        Ok(())
    };
    let mut failure: Option<anyhow::Error> = None;
    let scanned = store.scan(&salus_store::ScanFilter::default(), &mut |_, body| {
        let Ok(mut resource) = serde_json::from_str::<serde_json::Value>(body) else {
            return Ok(());
        };
        if labeller.apply(&mut resource) == 0 {
            return Ok(());
        }
        // The stored versionId and lastUpdated are the store's to set anew.
        if let Some(meta) = resource.get_mut("meta").and_then(|m| m.as_object_mut()) {
            meta.remove("versionId");
            meta.remove("lastUpdated");
        }
        match salus_fhir::prepare(resource) {
            Ok(prepared) => {
                changed += 1;
                pending.push(WriteRequest {
                    resource: prepared,
                    source: Some(source.clone()),
                    if_match: None,
                    create_only: false,
                });
            }
            // Stored resources passed validation once; one that no longer does is left
            // as it is (and counted in the log), never half-changed.
            Err(_) => tracing::warn!(
                "a stored resource failed validation while re-labelling; left unchanged"
            ),
        }
        if pending.len() >= BATCH {
            if let Err(e) = flush(&mut pending) {
                failure = Some(e);
                return Err(std::io::Error::other("re-labelling stopped"));
            }
        }
        Ok(())
    });
    if let Err(e) = scanned {
        return Err(failure.unwrap_or_else(|| anyhow::anyhow!(e)));
    }
    flush(&mut pending)?;
    Ok(changed)
}
