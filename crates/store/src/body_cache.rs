//! A cache of stored resource bodies by version key (`pk`), for PostgreSQL.
//!
//! Why: PostgreSQL keeps bodies as JSONB, and turning JSONB back into text is most of what a
//! read or search costs there (a 50-entry Observation page spent ~80% of its time on it). Why
//! it is always right: a version row is never rewritten (a new version gets a new `pk`; only
//! `is_current` changes on the old row), so a `pk` names the same bytes forever and the cache
//! needs no invalidation. Bounded by bytes; the least recently used bodies leave first.

use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

/// Bodies weigh their length (plus a little for the entry itself).
#[derive(Clone)]
struct BodyWeight;

impl Weighter<i64, Arc<str>> for BodyWeight {
    fn weight(&self, _pk: &i64, body: &Arc<str>) -> u64 {
        body.len() as u64 + 64
    }
}

/// A byte-bounded cache `pk → body text`.
pub struct BodyCache {
    bodies: Cache<i64, Arc<str>, BodyWeight>,
}

/// The default budget: 64 MiB holds ~50,000 typical resources.
pub const DEFAULT_BODY_CACHE_BYTES: u64 = 64 << 20;

/// A typical resource body, to size the cache's table.
const TYPICAL_BODY_BYTES: u64 = 1_500;

impl BodyCache {
    /// A cache of at most `bytes` of bodies.
    pub fn new(bytes: u64) -> Self {
        let items = (bytes / TYPICAL_BODY_BYTES).max(16) as usize;
        BodyCache {
            bodies: Cache::with_weighter(items, bytes.max(1), BodyWeight),
        }
    }

    pub fn get(&self, pk: i64) -> Option<Arc<str>> {
        self.bodies.get(&pk)
    }

    pub fn insert(&self, pk: i64, body: Arc<str>) {
        self.bodies.insert(pk, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_bodies_within_its_byte_budget() {
        let cache = BodyCache::new(10_000);
        let body: Arc<str> = Arc::from("x".repeat(1_000));
        for pk in 0..100 {
            cache.insert(pk, body.clone());
        }
        let kept = (0..100).filter(|pk| cache.get(*pk).is_some()).count();
        assert!(
            kept > 0 && kept <= 10,
            "kept {kept} bodies of 1,064 bytes in 10,000"
        );
    }
}
