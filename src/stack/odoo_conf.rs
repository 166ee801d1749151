//! `odoo.conf` for Odoo 18 in the compose stack. The DB password is not in it: compose
//! passes it as `PASSWORD` from `.env` (the official image's entrypoint turns it into
//! `--db_password`), so this file holds no clear-text secret and can stay readable by the
//! container's `odoo` user. The master password is stored as a passlib hash.

use super::options::StackOptions;

/// The values written, in file order; `parse back` tests compare against these.
pub fn options(o: &StackOptions, admin_hash: &str) -> Vec<(&'static str, String)> {
    let z = o.size.sizing();
    vec![
        ("addons_path", "/mnt/extra-addons,/mnt/oca-addons".into()),
        ("data_dir", "/var/lib/odoo".into()),
        ("admin_passwd", admin_hash.to_string()),
        ("db_host", "db".into()),
        ("db_port", "5432".into()),
        ("db_user", "odoo".into()),
        ("db_name", o.db_name.clone()),
        // A '.' in a database name is a literal dot, not "any character".
        ("dbfilter", format!("^{}$", o.db_name.replace('.', "\\."))),
        ("list_db", "False".into()),
        ("db_maxconn", z.db_maxconn.to_string()),
        ("proxy_mode", "True".into()),
        ("http_port", "8069".into()),
        ("gevent_port", "8072".into()),
        ("workers", z.workers.to_string()),
        ("max_cron_threads", z.max_cron_threads.to_string()),
        ("limit_memory_soft", z.limit_memory_soft.to_string()),
        ("limit_memory_hard", z.limit_memory_hard.to_string()),
        ("limit_time_cpu", z.limit_time_cpu.to_string()),
        ("limit_time_real", z.limit_time_real.to_string()),
        ("limit_request", "65536".into()),
        ("server_wide_modules", "base,web".into()),
        ("log_level", "info".into()),
    ]
}

pub fn render(o: &StackOptions, admin_hash: &str) -> String {
    let s = &o.size;
    let z = s.sizing();
    let mut out = format!(
        "; Rendered by odoo-ops for {domain} on {slug} ({cpus} vCPU, {mem} MB).
; Re-render with `odoo-ops render`; hand edits are shown as a diff before being replaced.
;
; workers = {workers}: Odoo's 2 x CPU + 1, as many as fit the memory rule the diagnosis also
; applies: {processes} processes (HTTP, cron, gevent) at limit_memory_soft plus one request
; up to limit_memory_hard fit the {budget} MiB left after PostgreSQL and the OS.
; limit_time_real = 720 s matches nginx's proxy_read_timeout.
; db_password is not here: compose passes PASSWORD from .env.
[options]
",
        domain = o.domain,
        slug = s.slug,
        cpus = s.vcpus,
        mem = s.memory_mb,
        workers = z.workers,
        processes = z.memory().processes(),
        budget = s.odoo_budget() >> 20,
    );
    for (key, value) in options(o, admin_hash) {
        out += &format!("{key} = {value}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{Domain, DropletSize};

    #[test]
    fn dbfilter_matches_the_database_name_only() {
        let mut o = StackOptions::new(
            Domain::parse("erp.example.com").unwrap(),
            *DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        o.db_name = "prod.main".into();
        let opts = options(&o, "hash");
        let get = |k: &str| opts.iter().find(|(key, _)| *key == k).unwrap().1.clone();
        assert_eq!(get("db_name"), "prod.main");
        // Not `^prod.main$`, which would also serve `prodXmain`.
        assert_eq!(get("dbfilter"), "^prod\\.main$");
    }
}
