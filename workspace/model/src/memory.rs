//! Keeping freed activation memory in the process between forward passes.
//!
//! A forward pass allocates and frees the same large activation buffers again and again. glibc's
//! `malloc` hands blocks above its adaptive mmap threshold (128 KiB to 32 MiB) back to the kernel
//! on `free` and trims the top of the heap, so every pass faults each page in anew: on MiniLM at
//! 64 × 128 tokens, 3.7 million page faults in six passes and a third of the time in the kernel
//! (`benches/README.md`). [`retain_freed_memory`] makes `malloc` keep freed blocks for reuse; the
//! peak resident memory hardly changes (it is reached anyway), but it is not returned to the
//! system before the process ends.

/// The mmap threshold and trim threshold set by [`retain_freed_memory`]: the largest `mallopt`
/// takes, so no activation buffer is mapped or unmapped per pass.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const NEVER: libc::c_int = libc::c_int::MAX;

/// How far glibc grows the heap beyond each request (256 MiB of address space; pages are only
/// backed when touched), so growing passes do not call `brk` for every buffer.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TOP_PAD: libc::c_int = 256 << 20;

/// Makes the allocator keep freed memory for the next forward pass instead of returning it to the
/// kernel. Call once at the start of a program, before any threads allocate. A no-op where the C
/// library is not glibc (other allocators keep freed memory by default), and where the user has
/// tuned glibc's allocator through `MALLOC_*` or `GLIBC_TUNABLES` variables.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !user_tuned_malloc() {
        // SAFETY: `mallopt` only sets allocator parameters; it is called before other threads run.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, NEVER);
            libc::mallopt(libc::M_TRIM_THRESHOLD, NEVER);
            libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
        }
    }
}

/// Whether the environment already sets glibc's allocator parameters, which then stand.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn user_tuned_malloc() -> bool {
    std::env::vars_os().any(|(name, _)| {
        let name = name.to_string_lossy();
        name == "GLIBC_TUNABLES" || name.starts_with("MALLOC_")
    })
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// Page faults this thread has taken so far.
    fn minor_faults() -> libc::c_long {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `getrusage` fills the struct it is given.
        unsafe {
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()), 0);
            usage.assume_init().ru_minflt
        }
    }

    /// Allocates `bytes`, writes one byte per page and frees it again.
    fn touch_and_free(bytes: usize) {
        let mut buffer = Vec::<u8>::with_capacity(bytes);
        // SAFETY: the capacity is `bytes`; every byte is written before the length covers it.
        unsafe {
            std::ptr::write_bytes(buffer.as_mut_ptr(), 1, bytes);
            buffer.set_len(bytes);
        }
        black_box(&buffer);
    }

    #[test]
    fn a_freed_activation_sized_buffer_is_reused_without_faulting_its_pages_in_again() {
        retain_freed_memory();
        let bytes = 16 << 20;
        let pages = (bytes / 4096) as libc::c_long;
        let before = minor_faults();
        touch_and_free(bytes);
        let first = minor_faults() - before;
        touch_and_free(bytes);
        let second = minor_faults() - before - first;
        assert!(
            first >= pages / 2,
            "the first use faults its pages in: {first} of {pages}"
        );
        assert!(
            second < pages / 20,
            "the second use faulted {second} of {pages} pages again"
        );
    }
}
