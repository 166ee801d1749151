//! An opt-in packaging step for the console binary's layout, to keep its resident memory
//! small. Off by default: the default build must start on every system an operator runs
//! it on (Ubuntu 22.04's glibc 2.35, Debian 12), whatever glibc it was built against.
//!
//! The binary carries far more code than the console runs in a session (SSH, TLS, the
//! diagnosis, the stack renderer, clap's help), and Linux maps file pages in 64 KiB
//! clusters around each page that is touched. `ODOO_OPS_PACKAGED_LINK=1` asks for two link
//! options, for the executable only:
//!
//! - `--symbol-ordering-file build/hot-code.order`: the functions the console really runs
//!   (recorded by `scripts/hot-code-order.sh`) are placed together at the start of
//!   `.text`, so the clusters the kernel maps hold code we use. Names that no longer exist
//!   are skipped, so a stale file costs memory, never correctness.
//! - `-z pack-relative-relocs` (DT_RELR): the dynamic relocation table of a PIE shrinks
//!   from ~800 KiB, all read at start and kept resident, to ~10 KiB. The binary then
//!   requires `GLIBC_ABI_DT_RELR` (glibc 2.36 or later) and does not start on older
//!   systems, which is why it is a packaging choice: asked for only when the glibc we
//!   build against has it, for a package whose systems all have it too.
//!
//! Both are given only for x86_64 Linux (GNU), where Rust links with lld by default, and
//! only when building for the machine we build on.

use std::path::Path;
use std::process::Command;

const ORDER_FILE: &str = "build/hot-code.order";
/// The packaging step's switch: `1` asks for the layout above.
const PACKAGED_LINK: &str = "ODOO_OPS_PACKAGED_LINK";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    println!("cargo:rerun-if-env-changed={PACKAGED_LINK}");

    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    let asked = std::env::var(PACKAGED_LINK).is_ok_and(|v| v == "1");
    if !asked || target != "x86_64-unknown-linux-gnu" || target != host {
        return;
    }

    let order = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(ORDER_FILE);
    if order.exists() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Generic instances come and go with the code; a missing name is expected.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_has_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// glibc 2.36 added DT_RELR; `getconf GNU_LIBC_VERSION` prints `glibc 2.36`.
fn glibc_has_relr() -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}
