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
///
/// The batch blocks its caller. Called from a task on a multi-threaded
/// Tokio runtime, the worker first hands its other tasks to another
/// thread, so timers (a paced send's turn) and I/O keep going while it
/// works; elsewhere (a current-thread runtime, a plain thread) it simply
/// runs.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    blocking(|| fan_out(items, f))
}

/// Runs work that blocks (a SQLite call waiting on the connection or the
/// disk, file-system calls) from async code. On a multi-threaded Tokio
/// runtime the worker first hands its other tasks to another thread, so
/// `sunset serve` keeps answering while a purge holds the database; on a
/// current-thread runtime or a plain thread it simply runs.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn fan_out<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// One worker, busy in a batch: a timer due meanwhile still fires
    /// before the batch ends, because the worker handed its tasks away.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_batch_does_not_stall_the_runtime() {
        let fired = Arc::new(AtomicBool::new(false));
        let timer = tokio::spawn({
            let fired = fired.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                fired.store(true, Ordering::SeqCst);
            }
        });
        // The batch runs in a task, so on the one worker (a test's own
        // body runs beside the workers, not on one).
        let batch = tokio::spawn({
            let fired = fired.clone();
            async move {
                tokio::task::yield_now().await;
                super::map(&[()], |_| {
                    std::thread::sleep(Duration::from_millis(400));
                    fired.load(Ordering::SeqCst)
                })
            }
        });
        let seen = batch.await.unwrap();
        assert_eq!(seen, vec![true], "the timer waited for the batch");
        timer.await.unwrap();
    }

    #[tokio::test]
    async fn a_batch_runs_on_a_current_thread_runtime() {
        let items: Vec<u32> = (0..100).collect();
        let doubled = super::map(&items, |i| i * 2);
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }
}
