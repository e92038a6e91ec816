//! Work on independent documents, spread over the machine's cores when there is enough
//! of it: reading YAML is nearly all of the time planning and policing spend, and each
//! document is read on its own.

/// `f` over every item, in order, on up to 8 threads when `bytes` (the size of the work)
/// is at least `threshold`; on this thread otherwise, where starting threads would cost
/// more than it saves. Each thread takes a contiguous run of items.
pub(crate) fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    bytes: usize,
    threshold: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if bytes < threshold || items.len() < 2 {
        return vec![f(items)];
    }
    // Asked only here: on Linux it reads the cgroup's CPU quota from files.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
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
