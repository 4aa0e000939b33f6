//! A 100 MB field is skipped in bounded memory: the allocator is counted while it streams by.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

use salus_csv_fhir::{read_csv, CsvLimits, Mapping, RowOutcome};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A header, a row whose DESCRIPTION is `size` bytes (quoted, with line breaks in it, or
/// not), then a normal row: generated on the fly, never held.
struct Generated {
    parts: Vec<Vec<u8>>,
    filler_left: usize,
    filler: u8,
    stage: usize,
    offset: usize,
    produced: usize,
}

impl Generated {
    fn new(size: usize, quoted: bool) -> Self {
        let q = if quoted { "\"" } else { "" };
        Generated {
            parts: vec![
                format!("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2020-01-01,,p1,e1,1,{q}")
                    .into_bytes(),
                format!("{q}\n2020-01-02,,p1,e1,2,fine\n").into_bytes(),
            ],
            filler_left: size,
            filler: if quoted { b'\n' } else { b'x' },
            stage: 0,
            offset: 0,
            produced: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.stage {
                0 | 2 => {
                    let part = &self.parts[self.stage / 2];
                    if self.offset < part.len() {
                        let n = (part.len() - self.offset).min(buf.len());
                        buf[..n].copy_from_slice(&part[self.offset..self.offset + n]);
                        self.offset += n;
                        return Ok(n);
                    }
                    self.stage += 1;
                    self.offset = 0;
                }
                1 => {
                    if self.filler_left > 0 {
                        let n = self.filler_left.min(buf.len());
                        for b in buf[..n].iter_mut() {
                            // Mostly letters, a line break now and then (inside the quotes).
                            *b = if self.produced.is_multiple_of(97) {
                                self.filler
                            } else {
                                b'x'
                            };
                            self.produced += 1;
                        }
                        self.filler_left -= n;
                        return Ok(n);
                    }
                    self.stage = 2;
                }
                _ => return Ok(0),
            }
        }
    }
}

fn run(quoted: bool) {
    let mapping = Mapping::preset("synthea").unwrap();
    let limits = CsvLimits::default();
    let size = 100 * 1024 * 1024;
    let mut reader = Generated::new(size, quoted);
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    let summary = read_csv(&mut reader, "conditions.csv", &mapping, &limits, &mut |o| {
        outcomes.push(o);
        Ok(())
    })
    .unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    assert_eq!(summary.rows, 2);
    match &outcomes[0] {
        RowOutcome::Rejected {
            row,
            column,
            reason,
        } => {
            assert_eq!(*row, 2);
            assert_eq!(column.as_deref(), Some("DESCRIPTION"));
            assert!(reason.contains("larger than 1048576 bytes"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    match &outcomes[1] {
        RowOutcome::Mapped { row, resources } => {
            // Line breaks inside the quoted field still count as lines.
            let breaks = if quoted {
                (size as u64 - 1) / 97 + 1
            } else {
                0
            };
            assert_eq!(*row, 3 + breaks);
            assert_eq!(resources[0]["code"]["coding"][0]["code"], "2");
        }
        other => panic!("{other:?}"),
    }
    // The record buffer never grows past max_field_bytes (the field is cut there), plus
    // the input and scratch buffers and the mapping's own small allocations.
    eprintln!("peak allocation while reading: {peak} bytes");
    assert!(
        peak < limits.max_field_bytes * 2 + 4 * 1024 * 1024,
        "peak allocation {peak} bytes for a {size}-byte field"
    );
}

#[test]
fn a_100_mb_field_is_skipped_in_bounded_memory() {
    run(false);
    run(true);
}
