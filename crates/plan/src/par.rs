//! Work on independent documents, spread over the machine's cores when there is enough
//! of it: reading YAML is nearly all of the time planning and policing spend, and each
//! document is read on its own.

/// Below this much text, starting threads costs more than it saves: a thread starts in
/// tens of microseconds, and 128 KiB of YAML takes a few milliseconds to read, for its
/// heads or converted to JSON text alike.
const PARALLEL_FROM_BYTES: usize = 128 << 10;

/// `f` over every item, in order, on up to 8 threads when `bytes` (the size of the work)
/// is at least [`PARALLEL_FROM_BYTES`]; on this thread otherwise, where starting threads
/// would cost more than it saves. Each thread takes a contiguous run of items, and this
/// one only waits: reading the first run here was measured slower (100 hooks as a
/// process, 9–10 ms instead of 7.2), as a new thread starts on the CPU of the thread that
/// made it and waits there while that one keeps busy.
pub(crate) fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    bytes: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if bytes < PARALLEL_FROM_BYTES || items.len() < 2 {
        return vec![f(items)];
    }
    let threads = threads();
    if threads < 2 {
        return vec![f(items)];
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The threads worth starting, asked once per process: on Linux the answer reads the
/// cgroup's CPU quota from three files.
fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
}
