//! Giving memory back to the system once a burst of work is over.

/// Return the heap's free pages to the system. A job (a diagnosis, a container list, a
/// deploy) allocates in bursts; glibc's malloc keeps what it freed mapped for the next
/// burst, and a console left open for days would hold its largest burst's pages for good
/// (~0.4 MB after a diagnosis). `malloc_trim` releases the free pages of every arena,
/// not only the top of the heap. It costs a walk of the free lists (microseconds on
/// the console's heap), so it is called when a job ends, not per allocation.
pub fn return_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only rearranges malloc's own free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
