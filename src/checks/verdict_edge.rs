//! Verdicts on what answers: Odoo's own ports, the edge through nginx, the database.

use super::model::{Evidence, Fix, Outcome};
use super::obs::{HttpProbe, Observations};

pub fn evaluate(id: &str, obs: &Observations) -> Option<Outcome> {
    Some(match id {
        "health.http" => health(obs.internal.http_health.as_ref(), "HTTP"),
        "health.gevent" => {
            if obs.odoo.workers() == Some(0) {
                health_no_gevent(obs.internal.gevent_health.as_ref())
            } else {
                health(obs.internal.gevent_health.as_ref(), "gevent")
            }
        }
        "health.websocket" => {
            handshake(obs.internal.gevent_websocket.as_ref(), "Odoo's gevent port")
        }
        "edge.health" => edge_health(obs),
        "edge.login" => edge_login(obs),
        "edge.websocket" => match (&obs.edge.websocket, &obs.edge.url) {
            (_, None) => Outcome::skip("no edge URL"),
            (p, Some(_)) => handshake(p.as_ref(), "nginx"),
        },
        "edge.tls" => tls(obs),
        "db.pg_isready" => pg_isready(obs),
        "db.odoo_health" => odoo_db(obs),
        _ => return None,
    })
}

/// An answer's status as an operator reads it: `502`, or `no status` when none came.
pub(super) fn status_text(s: Option<u16>) -> String {
    s.map_or_else(|| "no status".into(), |s| s.to_string())
}

fn probe_ev(p: &HttpProbe) -> Evidence {
    let mut ev = Evidence::default().ran(&p.request).line(p.status_line());
    let body = p.body.trim();
    if !body.is_empty() {
        ev = ev.line(body.chars().take(200).collect::<String>());
    }
    ev
}

fn health(p: Option<&HttpProbe>, port: &str) -> Outcome {
    let Some(p) = p else {
        return Outcome::skip(format!("Odoo's {port} port is unknown"));
    };
    let ev = probe_ev(p);
    if let Some(e) = &p.error {
        return Outcome::fail(
            format!("no answer: {e}"),
            ev,
            format!("Odoo's {port} port does not answer ({e})"),
        );
    }
    match (p.status, p.db_status()) {
        (Some(200), _) => Outcome::pass("200 {\"status\": \"pass\"}", ev),
        (Some(500), Some(false)) => Outcome::fail(
            "500: db_server_status false",
            ev,
            format!("Odoo answers on its {port} port but cannot reach its database"),
        ),
        (s, _) => Outcome::fail(
            format!("answered {}", status_text(s)),
            ev,
            format!(
                "Odoo's {port} port answers /web/health with {}",
                status_text(s)
            ),
        ),
    }
}

fn health_no_gevent(p: Option<&HttpProbe>) -> Outcome {
    let ev = p.map(probe_ev).unwrap_or_default();
    Outcome::fail(
        "workers = 0: there is no gevent port",
        ev,
        "Odoo runs without workers, so no gevent port serves websockets",
    )
}

fn handshake(p: Option<&HttpProbe>, through: &str) -> Outcome {
    let Some(p) = p else {
        return Outcome::skip(format!("no handshake attempted on {through}"));
    };
    let ev = probe_ev(p);
    if let Some(e) = &p.error {
        return Outcome::fail(
            format!("no answer: {e}"),
            ev,
            format!("the websocket handshake through {through} got no answer ({e})"),
        );
    }
    match p.status {
        Some(101) => Outcome::pass("101 Switching Protocols", ev),
        Some(500) => Outcome::fail(
            "500 instead of 101",
            ev,
            format!(
                "the websocket handshake through {through} answers 500: it reached Odoo's HTTP port, not the gevent port (\"Couldn't bind the websocket\")"
            ),
        ),
        Some(502) => Outcome::fail(
            "502 instead of 101",
            ev,
            format!(
                "the websocket handshake through {through} answers 502: nothing answers where it is routed"
            ),
        ),
        s => Outcome::fail(
            format!("{} instead of 101", status_text(s)),
            ev,
            format!(
                "the websocket handshake through {through} is not upgraded ({} instead of 101)",
                status_text(s)
            ),
        ),
    }
}

fn edge_health(obs: &Observations) -> Outcome {
    let Some(p) = &obs.edge.health else {
        return Outcome::skip("no edge URL");
    };
    let ev = probe_ev(p).line(format!(
        "{} {}",
        if p.error.is_some() {
            "tried"
        } else {
            "connected to"
        },
        obs.edge.connect_to.as_deref().unwrap_or("DNS")
    ));
    if let Some(e) = &p.error {
        return Outcome::fail(
            format!("no answer: {e}"),
            ev,
            format!("the edge does not answer ({e})"),
        );
    }
    match p.status {
        Some(200) => Outcome::pass("200 through nginx", ev),
        Some(s @ (502 | 504)) => Outcome::fail(
            format!("{s} from nginx"),
            ev,
            format!("users get {s} from nginx for /web/health"),
        ),
        s => Outcome::fail(
            format!("{} from nginx", status_text(s)),
            ev,
            format!("the edge answers /web/health with {}", status_text(s)),
        ),
    }
}

fn edge_login(obs: &Observations) -> Outcome {
    let Some(p) = &obs.edge.login else {
        return Outcome::skip("no edge URL");
    };
    let ev = Evidence::default().ran(&p.request).line(p.status_line());
    if let Some(e) = &p.error {
        return Outcome::fail(
            format!("no answer: {e}"),
            ev,
            format!("the login page does not load ({e})"),
        );
    }
    let form = p.body.contains("name=\"login\"");
    match p.status {
        Some(200) if form => Outcome::pass("200 with a login form", ev),
        Some(200) => Outcome::warn(
            "200 without a login form",
            ev,
            "the login page has no login field",
        ),
        Some(303) if p.redirects_to_selector() => Outcome::fail(
            "303 to the database selector",
            ev,
            "the login page sends users to Odoo's database selector (/web/database/selector) instead of a login form",
        ),
        s => Outcome::fail(
            status_text(s),
            ev,
            format!("the login page answers {}", status_text(s)),
        ),
    }
}

fn tls(obs: &Observations) -> Outcome {
    let e = &obs.edge;
    if e.url.is_none() {
        return Outcome::skip("no edge URL");
    }
    if !e.tls {
        return Outcome::skip("the Odoo site has no TLS listen");
    }
    let ev = Evidence::default().ran(format!(
        "TLS handshake with {} (system trust store)",
        e.url.as_deref().unwrap_or_default()
    ));
    if let Some(err) = &e.cert_error {
        return Outcome::fail(
            "the certificate does not verify",
            ev.line(err.clone()),
            format!("the edge's TLS certificate is not trusted or does not match the name: {err}"),
        )
        .with_fix(Fix::command(
            "Renew or reissue the certificate for the site's server_name",
            "certbot renew && nginx -s reload",
        ));
    }
    let Some(c) = &e.cert else {
        return Outcome::skip("no certificate was seen");
    };
    let ev = ev
        .line(format!("names: {}", c.subject_names.join(", ")))
        .line(format!(
            "not after {} ({} days left)",
            c.not_after, c.days_left
        ));
    if c.days_left < 0 {
        Outcome::fail("expired", ev, "the TLS certificate has expired")
    } else if c.days_left < e.cert_warn_days {
        Outcome::warn(
            format!("expires in {} days", c.days_left),
            ev,
            format!(
                "the TLS certificate expires within {} days",
                e.cert_warn_days
            ),
        )
        .with_fix(Fix::command("Renew it", "certbot renew && nginx -s reload"))
    } else {
        Outcome::pass(format!("valid, {} days left", c.days_left), ev)
    }
}

fn pg_isready(obs: &Observations) -> Outcome {
    let db = &obs.db;
    if let Some(reason) = &db.skipped {
        return Outcome::skip(reason.clone());
    }
    let Some(r) = &db.pg_isready else {
        return Outcome::skip("pg_isready was not run");
    };
    let ev = Evidence::default().ran(&r.command).lines(r.lines());
    if let Some(e) = &r.error {
        return Outcome::skip(format!("pg_isready is not available here: {e}"));
    }
    match r.status {
        Some(0) => Outcome::pass(format!("{}:{} accepting connections", db.host, db.port), ev),
        Some(1) => Outcome::fail(
            "rejecting connections",
            ev,
            format!("PostgreSQL at {}:{} rejects connections (starting up or shutting down)", db.host, db.port),
        ),
        _ => Outcome::fail(
            "no response",
            ev,
            format!("the database is down: PostgreSQL at {}:{} does not answer, so Odoo cannot serve any database", db.host, db.port),
        )
        .with_fix(Fix::command("Start PostgreSQL", "systemctl start postgresql  # or: docker compose up -d db")),
    }
}

fn odoo_db(obs: &Observations) -> Outcome {
    let Some(p) = &obs.internal.http_health else {
        return Outcome::skip("Odoo's HTTP port is unknown");
    };
    if p.error.is_some() {
        return Outcome::skip("Odoo's HTTP port does not answer (see health.http)");
    }
    let ev = probe_ev(p);
    match p.db_status() {
        Some(true) => Outcome::pass("db_server_status true", ev),
        Some(false) => db_unreachable(obs, ev),
        None => Outcome::skip("the health answer has no db_server_status"),
    }
}

/// Odoo says it cannot reach its database: refused credentials (its log since the start
/// says so, or PostgreSQL itself accepts connections), else the database is down.
fn db_unreachable(obs: &Observations, ev: Evidence) -> Outcome {
    let db = &obs.db;
    let refused = obs
        .odoo
        .log_lines
        .iter()
        .rev()
        .find(|l| l.contains("password authentication failed"));
    let accepting = db.pg_isready.as_ref().is_some_and(|r| r.ok());
    let conf = obs.odoo.conf_source.as_deref().unwrap_or("odoo.conf");
    let user = obs
        .odoo
        .conf
        .as_ref()
        .and_then(|c| c.get("db_user"))
        .filter(|u| !u.is_empty() && *u != "False")
        .unwrap_or("odoo");
    let fix = || {
        let summary = format!(
            "Put the database role's password in {conf} (db_user = {user}, db_password = ...), or set the role's password to odoo.conf's: sudo -u postgres psql -c \"ALTER ROLE {user} PASSWORD '...'\"; then restart Odoo"
        );
        super::verdict_odoo::restart_fix(obs, summary)
    };
    if let Some(line) = refused {
        return Outcome::fail(
            "PostgreSQL refuses Odoo's credentials",
            ev.line(format!("Odoo's log: {}", line.trim())),
            format!(
                "PostgreSQL refuses Odoo's login (password authentication failed for user {user}): db_user/db_password in {conf} do not match the database role, so Odoo reports db_server_status false"
            ),
        )
        .with_fix(fix());
    }
    if accepting {
        return Outcome::fail(
            "db_server_status false while PostgreSQL accepts connections",
            ev.line(format!(
                "pg_isready: {}:{} accepting connections",
                db.host, db.port
            )),
            format!(
                "PostgreSQL at {}:{} accepts connections but Odoo cannot use it: its credentials (db_user/db_password in {conf}) or pg_hba.conf refuse Odoo",
                db.host, db.port
            ),
        )
        .with_fix(fix());
    }
    Outcome::fail(
        "db_server_status false",
        ev,
        "the database is down: Odoo reports db_server_status false (/web/health?db_server_status=1 answers 500)",
    )
}
