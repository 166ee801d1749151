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

/// How far below the caller's frame the stack is left alone: the frames of this call
/// (and of `madvise`) and the red zone a leaf function may use below its stack pointer.
const STACK_MARGIN: usize = 16 * 1024;

/// Return the pages of this thread's stack below the caller's frame. A burst of deep
/// calls (startup's argument parsing and settings, a job's futures) touches stack pages
/// that stay resident for the life of the thread although nothing lives there once the
/// calls have returned: everything below the stack pointer is dead by definition. They
/// are handed back with `MADV_DONTNEED` and come back as zero pages if the stack grows
/// that deep again. Measured on the console at rest: the main thread kept ~190-250 KiB
/// of stack from its start, of which ~60 KiB is its steady depth.
#[inline(never)]
pub fn return_unused_stack() {
    #[cfg(target_os = "linux")]
    {
        let here = 0u8;
        let here = std::ptr::addr_of!(here) as usize;
        let Some(lowest) = lowest_stack_address() else {
            return;
        };
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let start = lowest.next_multiple_of(page);
        let end = here.saturating_sub(STACK_MARGIN) / page * page;
        if end > start {
            // SAFETY: [start, end) lies in this thread's stack below the live frames
            // (the caller's frame and the margin above are kept); no Rust value lives
            // there. Unmapped parts of the range (a main stack that never grew so far)
            // only make madvise return ENOMEM after it has zapped the mapped ones.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// The lowest usable address of the calling thread's stack.
#[cfg(target_os = "linux")]
fn lowest_stack_address() -> Option<usize> {
    // SAFETY: the attribute object is initialised by pthread_getattr_np before it is
    // read and destroyed once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut base: *mut libc::c_void = std::ptr::null_mut();
        let mut size = 0usize;
        let got = libc::pthread_attr_getstack(&attr, &mut base, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (got == 0 && !base.is_null()).then_some(base as usize)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    const PAGE: usize = 4096;

    /// Resident pages of this thread's stack from its lowest address to `below`.
    fn resident_stack_kib(below: usize) -> usize {
        let start = lowest_stack_address().unwrap().next_multiple_of(PAGE);
        let end = below / PAGE * PAGE;
        let mut pages = vec![0u8; (end - start) / PAGE];
        // SAFETY: the range is page-aligned and `pages` has one byte per page.
        let got =
            unsafe { libc::mincore(start as *mut libc::c_void, end - start, pages.as_mut_ptr()) };
        assert_eq!(got, 0, "mincore: {}", std::io::Error::last_os_error());
        pages.iter().filter(|p| *p & 1 == 1).count() * PAGE / 1024
    }

    /// Calls `depth` frames deep, each with 4 KiB of locals it writes.
    #[inline(never)]
    fn go_deep(depth: usize) -> u8 {
        let mut frame = [0u8; PAGE];
        frame[depth % PAGE] = depth as u8;
        let below = if depth == 0 { 0 } else { go_deep(depth - 1) };
        std::hint::black_box(&mut frame)[0].wrapping_add(below)
    }

    #[test]
    fn the_stack_a_burst_touched_goes_back_and_the_live_frames_stay() {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let marker = 0u8;
                let here = std::ptr::addr_of!(marker) as usize;
                std::hint::black_box(go_deep(128)); // ~512 KiB below this frame
                let before = resident_stack_kib(here - STACK_MARGIN * 2);
                assert!(before >= 400, "the burst left {before} KiB resident");
                return_unused_stack();
                let after = resident_stack_kib(here - STACK_MARGIN * 2);
                assert_eq!(after, 0, "{after} KiB still resident below the margin");
                // The stack still works: the same depth again.
                assert_eq!(go_deep(128), go_deep(128));
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
