//! A small fan-out for batches: rendering a page of notices is CPU work,
//! and creating, overwriting and unlinking many small files is bound by
//! file-system latency, so a few scoped threads finish a batch well before
//! one does, even on two cores.

/// Threads for file work: two per core, at least 4, at most 16; they
/// mostly wait on the file system, not the CPU.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (n.get() * 2).clamp(4, 16))
}

/// `f` over every item on a few scoped threads; results in input order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 32 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(workers());
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                s.spawn(move || part.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}
