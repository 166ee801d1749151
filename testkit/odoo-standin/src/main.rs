//! odoo-standin: a stand-in for an Odoo 18.0 Community server, for tests.
//!
//! It reads an `odoo.conf` like Odoo (`-c FILE`, then flags such as `--http-port`), listens
//! where Odoo would (the HTTP port; with `workers > 0` also the gevent port), answers the
//! contract of `odoo18/README.md` byte for byte where it matters, writes Odoo-format log
//! lines to stdout or `logfile`, checks PostgreSQL for real on every DB-dependent request,
//! and misbehaves on demand through `STANDIN_MODE` (see `modes.rs`). SIGTERM or SIGINT:
//! log Odoo's shutdown lines and exit 0 at once.

mod addons;
mod app;
mod base64;
mod clock;
mod conf;
mod curl;
mod db;
mod http;
mod log;
mod modes;
mod modules;
mod pg_login;
mod pg_wire;
mod server;
mod sha1;
mod sha256;
mod websocket;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use app::Port;
use conf::Conf;
use modes::Modes;
use server::Shared;

static STOP: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

extern "C" fn on_signal(_: i32) {
    // Only an atomic store: the one thing safe to do in a signal handler.
    STOP.store(true, Ordering::SeqCst);
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let called_as = std::env::args().next().unwrap_or_default();
    if called_as.rsplit('/').next() == Some("curl") {
        std::process::exit(curl::main(&args));
    }
    let modes = match Modes::parse(&std::env::var("STANDIN_MODE").unwrap_or_default()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("odoo-standin: {e}");
            std::process::exit(2);
        }
    };
    let conf = match Conf::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("odoo: error: {}", e.0);
            std::process::exit(1);
        }
    };
    if modes.refuse_start {
        refuse_start();
    }
    // Signals first, so a SIGTERM during start-up is honoured too.
    unsafe {
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
    }
    if let Err(e) = log::init(&conf.logfile) {
        eprintln!("odoo: cannot open logfile {}: {e}", conf.logfile);
        std::process::exit(1);
    }
    let started = Instant::now();
    start_up_lines(&conf);
    if conf.stop_after_init {
        std::process::exit(init_and_stop(&conf, started));
    }

    let threaded = conf.workers == 0;
    let http = bind(&conf, conf.http_port);
    log::info(
        "?",
        "odoo.service.server",
        &format!(
            "HTTP service (werkzeug) running on {}:{}",
            conf.shown_interface(),
            conf.http_port
        ),
    );
    let gevent = (!threaded).then(|| bind(&conf, conf.gevent_port));

    let shared = Arc::new(Shared {
        conf: conf.clone(),
        modes: modes.clone(),
    });
    let http_port = if threaded {
        Port::HttpThreaded
    } else {
        Port::HttpWorkers
    };
    {
        let shared = shared.clone();
        std::thread::spawn(move || server::accept_loop(http, http_port, shared));
    }
    load_registry(&conf, started);
    if let Some(gevent) = gevent {
        for _ in 0..conf.workers {
            log::info(
                conf.log_db(),
                "odoo.service.server",
                &format!("Worker WorkerHTTP ({}) alive", std::process::id()),
            );
        }
        log::info(
            "?",
            "odoo.service.server",
            &format!(
                "Evented Service (longpolling) running on {}:{}",
                conf.shown_interface(),
                conf.gevent_port
            ),
        );
        let shared = shared.clone();
        std::thread::spawn(move || server::accept_loop(gevent, Port::Gevent, shared));
    }
    misbehave_later(&modes, &conf);

    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    log::info("?", "odoo.service.server", "Initiating shutdown");
    log::info(
        "?",
        "odoo.service.server",
        "Hit CTRL-C again or send a second signal to force the shutdown.",
    );
    std::process::exit(0);
}

fn start_up_lines(conf: &Conf) {
    log::info("?", "odoo", "Odoo version 18.0 ");
    if let Some(file) = &conf.file {
        log::info(
            "?",
            "odoo",
            &format!("Using configuration file at {} ", file.display()),
        );
    }
    let addons: Vec<String> =
        std::iter::once("/usr/lib/python3/dist-packages/odoo/addons".to_string())
            .chain(
                conf.addons_path
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            )
            .map(|p| format!("'{p}'"))
            .collect();
    log::info(
        "?",
        "odoo",
        &format!("addons paths: [{}] ", addons.join(", ")),
    );
    let host = if conf.db_host.is_empty() {
        "default"
    } else {
        &conf.db_host
    };
    log::info(
        "?",
        "odoo",
        &format!("database: {}@{host}:{} ", conf.db_user, conf.db_port),
    );
}

/// With a database named, Odoo loads its registry at start; the stand-in really asks
/// PostgreSQL whether it is there.
fn load_registry(conf: &Conf, started: Instant) {
    if conf.db_name.is_empty() {
        return;
    }
    let db = conf.log_db();
    match db::reach(conf).err() {
        None => {
            log::info(db, "odoo.modules.loading", "loading 1 modules... ");
            log::info(
                db,
                "odoo.modules.loading",
                "1 modules loaded in 0.01s, 0 queries (+0 extra) ",
            );
            log::info(db, "odoo.modules.loading", "loading 12 modules... ");
            log::info(
                db,
                "odoo.modules.loading",
                "12 modules loaded in 0.02s, 0 queries (+0 extra) ",
            );
            log::info(db, "odoo.modules.loading", "Modules loaded. ");
            log::info(
                db,
                "odoo.modules.registry",
                &format!(
                    "Registry loaded in {:.3}s ",
                    started.elapsed().as_secs_f64()
                ),
            );
        }
        Some(why) => connection_failed(db, &why),
    }
}

/// psycopg2's refusal, as Odoo's `sql_db` logs it.
fn connection_failed(db: &str, why: &str) {
    log::line(
        "ERROR",
        db,
        "odoo.sql_db",
        &format!(
            "Connection to the database failed\nTraceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/sql_db.py\", line 688, in borrow\n    result = psycopg2.connect(\npsycopg2.OperationalError: {why}\n"
        ),
    );
}

/// `odoo -d DB -i MODULES [-u MODULES] --stop-after-init`, as a module-install phase runs
/// it: on an Odoo database the rows of `ir_module_module` change as Odoo changes them
/// (`modules.rs`; exit 0, or 255 when a module fails); on a database without Odoo's tables
/// only the loading lines are logged. Exit 1 when there is no database name or the
/// database cannot be reached.
fn init_and_stop(conf: &Conf, started: Instant) -> i32 {
    if conf.db_name.is_empty() {
        log::line(
            "ERROR",
            "?",
            "odoo.service.server",
            "--stop-after-init needs a database (-d or db_name)",
        );
        return 1;
    }
    let db = conf.log_db();
    if !db::server_up(&conf.db_host, conf.db_port) {
        load_registry(conf, started);
        return 1;
    }
    let mut session = match db::connect(conf, &conf.db_name) {
        Ok(s) => s,
        Err(why) if why.contains("does not exist") => return log_only_init(conf, started),
        Err(why) => {
            connection_failed(db, &why);
            return 1;
        }
    };
    let outcome = modules::run(&mut session, conf, &addons::Addons::from_env(), started);
    pg_wire::terminate(&mut session);
    match outcome {
        Ok(Some(code)) => code,
        Ok(None) => log_only_init(conf, started),
        Err(why) => {
            log::line("ERROR", db, "odoo.sql_db", &format!("bad query: {why}"));
            1
        }
    }
}

/// A database without Odoo's tables (a real Odoo would initialise it): the loading lines
/// of the named modules, nothing changed.
fn log_only_init(conf: &Conf, started: Instant) -> i32 {
    let db = conf.log_db();
    log::info(db, "odoo.modules.loading", "loading 1 modules... ");
    for module in conf.init.iter().chain(&conf.update) {
        log::info(
            db,
            "odoo.modules.loading",
            &format!("Loading module {module} (1/1) "),
        );
        log::info(
            db,
            "odoo.modules.registry",
            &format!("module {module}: creating or updating database tables "),
        );
        log::info(
            db,
            "odoo.modules.loading",
            &format!("Module {module} loaded in 0.05s, 12 queries (+12 other) "),
        );
    }
    log::info(db, "odoo.modules.loading", "Modules loaded. ");
    log::info(
        db,
        "odoo.modules.registry",
        &format!(
            "Registry loaded in {:.3}s ",
            started.elapsed().as_secs_f64()
        ),
    );
    log::info("?", "odoo.service.server", "Stopping gracefully ");
    0
}

fn bind(conf: &Conf, port: u16) -> TcpListener {
    let interface = conf.shown_interface();
    match TcpListener::bind((interface, port)) {
        Ok(l) => l,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(0);
            log::line(
                "ERROR",
                "?",
                "odoo.service.server",
                &format!(
                    "Failed to bind {interface}:{port}\nTraceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/service/server.py\", line 927, in start\n    self.socket.bind((self.interface, self.port))\nOSError: [Errno {errno}] {}",
                    if errno == 98 {
                        "Address already in use".to_string()
                    } else {
                        e.to_string()
                    }
                ),
            );
            std::process::exit(1);
        }
    }
}

/// An image missing a Python dependency dies at import, before logging is set up.
fn refuse_start() -> ! {
    eprint!(
        "Traceback (most recent call last):
  File \"/usr/bin/odoo\", line 5, in <module>
    import odoo
  File \"/usr/lib/python3/dist-packages/odoo/__init__.py\", line 125, in <module>
    from . import modules
  File \"/usr/lib/python3/dist-packages/odoo/modules/__init__.py\", line 8, in <module>
    from . import db, graph, loading, migration, module, registry, neutralize
  File \"/usr/lib/python3/dist-packages/odoo/modules/db.py\", line 4, in <module>
    import psycopg2
ModuleNotFoundError: No module named 'psycopg2'
"
    );
    std::process::exit(1);
}

fn misbehave_later(modes: &Modes, conf: &Conf) {
    if let Some(after) = modes.crash_after {
        let db = conf.log_db().to_string();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            log::line(
                "CRITICAL",
                &db,
                "odoo.service.server",
                "Unhandled exception in the server loop\nTraceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/service/server.py\", line 1022, in run\n    self.process_signals()\n  File \"/usr/lib/python3/dist-packages/odoo/service/server.py\", line 858, in process_signals\n    raise SystemError(\"stand-in crash requested by STANDIN_MODE\")\nSystemError: stand-in crash requested by STANDIN_MODE",
            );
            std::process::exit(1);
        });
    }
    if let Some(after) = modes.exit_137_after {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            std::process::exit(137);
        });
    }
    if modes.oom {
        std::thread::spawn(|| {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every page so the memory is really resident, not just reserved.
                let mut chunk = vec![0u8; 16 << 20];
                for i in (0..chunk.len()).step_by(4096) {
                    chunk[i] = 1;
                }
                hoard.push(chunk);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
    }
}
