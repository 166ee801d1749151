//! Entering and leaving the terminal's console mode, and making sure we always leave it:
//! on quit, on error, on SIGTERM/SIGHUP and on panic, before anything is printed.

use std::io::{Stdout, stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use color_eyre::Result;
use crossterm::{cursor, event, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Whether we changed the terminal, so restoring twice (hook and normal exit) is harmless.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode, alternate screen, mouse reporting, hidden cursor.
pub fn enter() -> Result<Tui> {
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(
        stdout(),
        terminal::EnterAlternateScreen,
        event::EnableMouseCapture,
        cursor::Hide
    )?;
    let mut tui = Terminal::new(CrosstermBackend::new(stdout()))?;
    tui.clear()?;
    Ok(tui)
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

/// color-eyre's reports for errors and panics, with the terminal restored first so the
/// report is readable and the shell is usable afterwards. Called first thing in `main`:
/// an error created before it would fix eyre's handler to the plain default.
pub fn install_hooks() -> Result<()> {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    eyre_hook.install()?;
    let panic_hook = panic_hook.into_panic_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        panic_hook(info);
    }));
    Ok(())
}
