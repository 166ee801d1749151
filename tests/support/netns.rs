//! A network namespace of a test's own, for a test that needs a fixed port (Odoo's 8069):
//! whatever this machine runs on that port stays in the machine's namespace.

/// Run `f` on a thread moved into a new, empty network namespace (only a loopback, down).
/// Sockets it opens, the runtimes and child processes it starts (and their view of
/// `/proc/net`) are all in that namespace; the rest of the test binary is not. Needs root
/// (CAP_SYS_ADMIN), as the test machines have.
pub fn in_own_network_namespace<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // The namespace is the calling thread's: threads and processes started
                // from it inherit it.
                // SAFETY: unshare has no memory-safety preconditions.
                let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                assert_eq!(
                    rc,
                    0,
                    "unshare(CLONE_NEWNET) needs root: {}",
                    std::io::Error::last_os_error()
                );
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
