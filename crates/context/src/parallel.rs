//! Work over a large patient record on two threads: a summary is asked for one at a time by a
//! clinician who waits for it, and a record may hold thousands of resources.

/// Below this many items one thread is faster than starting a second.
const SPLIT_AT: usize = 512;

/// `f` over every item, in order; the second half on a thread of its own when there are many.
/// Were that thread to fail, its items get `failed` instead (callers make that the safe
/// answer: withheld, never disclosed).
pub(crate) fn map_in_two_halves<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
    failed: impl Fn(&T) -> R,
) -> Vec<R> {
    if items.len() < SPLIT_AT {
        return items.iter().map(&f).collect();
    }
    let (first, second) = items.split_at(items.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| second.iter().map(&f).collect::<Vec<R>>());
        let mut out: Vec<R> = first.iter().map(&f).collect();
        match other.join() {
            Ok(rest) => out.extend(rest),
            Err(_) => out.extend(second.iter().map(failed)),
        }
        out
    })
}

/// Stored resource bodies as JSON, in order (a body that does not parse is left out; stored
/// bodies always do).
pub fn parse_resources(bodies: &[String]) -> Vec<serde_json::Value> {
    map_in_two_halves(bodies, |b| serde_json::from_str(b).ok(), |_| None)
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_kept_on_either_side_of_the_split() {
        for n in [3, SPLIT_AT, SPLIT_AT * 3 + 1] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = map_in_two_halves(&items, |i| i * 2, |_| usize::MAX);
            assert_eq!(doubled, (0..n).map(|i| i * 2).collect::<Vec<_>>());
        }
    }
}
