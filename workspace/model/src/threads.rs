//! Running a program's work on a thread of rayon's global pool.
//!
//! The CPU kernels split each matrix product, attention and element-wise pass over rayon's
//! global pool. Started from a thread outside the pool, every such loop hands its work to the
//! pool's threads and puts the caller to sleep until they finish, and between loops the
//! caller's serial work competes for the cores with the pool's threads, which spin before they
//! sleep. Started from a pool thread, the caller takes part in the loop and nothing is handed
//! over: on two cores SmolLM2's 8 × 64 prefill took about 13 % less time (`benches/README.md`).

/// Stack of each pool thread: the 8 MiB a Linux main thread has, since the work moved onto
/// the pool was written for the main thread.
const STACK_BYTES: usize = 8 << 20;

/// Runs `work` on a thread of rayon's global pool and returns its result. Sets the pool up
/// (threads from `RAYON_NUM_THREADS`, else one per core) unless something already has.
pub fn in_thread_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    // An error only says the pool already exists, which is as good.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_BYTES)
        .build_global();
    rayon::scope(|_| work())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn the_work_runs_on_a_pool_thread_and_returns_its_result() {
        assert_eq!(rayon::current_thread_index(), None);
        let (index, sum) = in_thread_pool(|| {
            let sum: u64 = (1..=100u64).into_par_iter().sum();
            (rayon::current_thread_index(), sum)
        });
        assert!(index.is_some(), "ran outside the pool");
        assert_eq!(sum, 5050);
    }
}
