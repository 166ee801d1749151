//! Entering and leaving the terminal's console mode, and making sure we always leave it:
//! on quit, on error, on SIGTERM/SIGHUP/SIGINT, on panic (of any thread or task), before
//! anything is printed; and around a stop (SIGTSTP) and continue (`fg`).

use std::io::{Stdout, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use color_eyre::Result;
use crossterm::{cursor, event, execute, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::{Frame, Terminal};

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Whether we changed the terminal, so restoring twice (hook and normal exit) is harmless.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Held while a frame is written, and by a panic's report: a frame never lands on the
/// terminal a report was restored for (hiding its cursor, drawing over the shell).
static SCREEN: Mutex<()> = Mutex::new(());

/// Draw a frame, unless the terminal has been handed back.
pub fn draw(tui: &mut Tui, render: impl FnOnce(&mut Frame)) -> Result<()> {
    let _screen = SCREEN.lock().unwrap_or_else(PoisonError::into_inner);
    if ACTIVE.load(Ordering::SeqCst) {
        tui.draw(render)?;
    }
    Ok(())
}

/// The screen for a panic's report: after the frame being written, if any. A panic in
/// the middle of a frame holds the lock on its own thread, hence the bound.
fn screen_for_report() -> Option<MutexGuard<'static, ()>> {
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        match SCREEN.try_lock() {
            Ok(screen) => return Some(screen),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

/// Raw mode, alternate screen, mouse reporting, hidden cursor.
pub fn enter() -> Result<Tui> {
    take()?;
    let mut tui = Terminal::new(CrosstermBackend::new(stdout()))?;
    tui.clear()?;
    Ok(tui)
}

fn take() -> Result<()> {
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(
        stdout(),
        terminal::EnterAlternateScreen,
        event::EnableMouseCapture,
        cursor::Hide
    )?;
    Ok(())
}

/// Undo [`enter`]. Safe to call any number of times, from any thread.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(
            stdout(),
            event::DisableMouseCapture,
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// SIGTSTP: give the shell its terminal back, stop until continued (`fg`), then take the
/// terminal again. The caller redraws the whole screen.
pub fn suspend(tui: &mut Tui) -> Result<()> {
    restore();
    // SIGTSTP is caught (to get here), so stop with the signal that cannot be.
    // SAFETY: raise has no memory-safety preconditions.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
    resume(tui)
}

/// After a continue: the terminal mode the console needs (again) and a full redraw.
pub fn resume(tui: &mut Tui) -> Result<()> {
    if !ACTIVE.load(Ordering::SeqCst) {
        take()?;
    }
    // Clears the screen and forgets what was drawn, so the next frame is drawn whole (at
    // the size the terminal has now). Not `clear()`: that asks the terminal for the cursor
    // position, and the input reader would swallow the answer.
    let size = tui.size()?;
    tui.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))?;
    Ok(())
}

/// color-eyre's reports for errors and panics, with the terminal restored first so the
/// report is readable and the shell is usable afterwards. A panic ends the process after
/// its report with Rust's own status, 101, whichever thread or task panicked: the runtime
/// would otherwise catch a task's panic and keep the loop drawing on a restored terminal,
/// or a headless command going on without the task. Exiting here also makes the build's
/// panic strategy invisible: the packaged build (`panic = "abort"`, see Cargo.toml)
/// never reaches the abort, so no core dump (with the process' secrets) is written.
/// Called first thing in `main`: an error created before it would fix eyre's handler to
/// the plain default.
pub fn install_hooks() -> Result<()> {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    eyre_hook.install()?;
    let panic_hook = panic_hook.into_panic_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _screen = screen_for_report();
        restore();
        panic_hook(info);
        std::process::exit(101);
    }));
    Ok(())
}
