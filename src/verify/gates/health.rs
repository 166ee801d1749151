//! Gates over HTTP: Odoo's own health on its HTTP and gevent ports (with the database
//! check, `db_server_status=1`), and the edge as a browser reaches it through nginx:
//! HTTPS health, the login page with its form, the websocket handshake (Odoo 18 has no
//! `/longpolling/poll` any more: the seed's route answers 404 on a healthy server).

use std::time::Duration;

use crate::checks::gather::http;
use crate::checks::obs::{EdgeObs, HttpProbe};
use crate::target::Target;
use crate::verify::model::Finding;
use crate::verify::subject::Subject;

pub const HEALTH_PATH: &str = "/web/health?db_server_status=1";

/// `health.http` or `health.gevent`.
pub async fn internal(
    target: &Target,
    subject: &Subject,
    gevent: bool,
    timeout: Duration,
) -> Finding {
    let port = if gevent {
        subject.gevent_port
    } else {
        subject.http_port
    };
    let container = subject.container_name();
    if gevent && subject.threaded() {
        return Finding::pass("workers = 0: no gevent port (the HTTP port serves websockets)");
    }
    let Some(port) = port else {
        let which = if gevent { "gevent" } else { "HTTP" };
        return Finding::fail(format!(
            "Odoo's {which} port is not reachable from the host (not published, or Odoo not found)"
        ))
        .lines(subject.odoo.located.iter().cloned())
        .in_container(container);
    };
    let probe = http::get(target, port, HEALTH_PATH, false, timeout).await;
    judge_health(&probe).in_container(container)
}

fn judge_health(probe: &HttpProbe) -> Finding {
    let evidence = probe_lines(probe);
    let finding = match (probe.status, probe.db_status()) {
        (Some(200), Some(true)) => Finding::pass("200, database reachable"),
        (Some(200), None) => Finding::pass("200"),
        (Some(_), Some(false)) => Finding::fail("Odoo answers, but cannot reach its database"),
        (Some(s), _) => Finding::fail(format!("answered {s}, not 200")),
        (None, _) => Finding::fail(format!(
            "no answer: {}",
            probe.error.as_deref().unwrap_or("nothing")
        )),
    };
    finding.lines(evidence)
}

fn probe_lines(probe: &HttpProbe) -> Vec<String> {
    let mut lines = vec![probe.status_line()];
    let body = probe.body.trim();
    if !body.is_empty() {
        lines.push(format!(
            "body: {}",
            body.lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(160)
                .collect::<String>()
        ));
    }
    lines
}

/// `edge.health`, `edge.login`, `edge.websocket` from one round of edge requests.
pub fn edge(obs: &EdgeObs, container: Option<String>) -> [Finding; 3] {
    let connect = obs.connect_to.as_ref().map(|c| format!("connected to {c}"));
    let with_connect = |f: Finding| {
        f.lines(connect.clone())
            .lines(obs.cert_error.clone().map(|e| format!("TLS: {e}")))
            .in_container(container.clone())
    };
    let health = match &obs.health {
        Some(p) if p.status == Some(200) => {
            Finding::pass("200 through nginx").lines(probe_lines(p))
        }
        Some(p) => edge_failure(p).lines(probe_lines(p)),
        None => Finding::could_not_check("not requested"),
    };
    let login = match &obs.login {
        Some(p) if p.status == Some(200) && has_login_form(&p.body) => {
            Finding::pass("200 with the login form").lines(probe_lines(p))
        }
        Some(p) if p.status == Some(200) => {
            Finding::fail("200, but the page has no login form").lines(probe_lines(p))
        }
        Some(p) if p.redirects_to_selector() => {
            Finding::fail("redirected to the database selector: Odoo could not choose a database")
                .lines(probe_lines(p))
        }
        Some(p) => edge_failure(p).lines(probe_lines(p)),
        None => Finding::could_not_check("not requested"),
    };
    let websocket = match &obs.websocket {
        Some(p) if p.status == Some(101) => {
            Finding::pass("101 Switching Protocols").line(p.status_line())
        }
        Some(p) => edge_failure(p).line(p.status_line()),
        None => Finding::could_not_check("not requested"),
    };
    [
        with_connect(health),
        with_connect(login),
        with_connect(websocket),
    ]
}

fn edge_failure(p: &HttpProbe) -> Finding {
    match (p.status, &p.error) {
        (Some(502), _) => Finding::fail("502: nginx could not reach Odoo"),
        (Some(504), _) => Finding::fail("504: Odoo did not answer nginx in time"),
        (Some(s), _) => Finding::fail(format!("answered {s}")),
        (None, Some(e)) => Finding::fail(format!("no answer: {e}")),
        (None, None) => Finding::fail("no answer"),
    }
}

/// Odoo's login form (`<form class="oe_login_form"`, its `login` field).
pub fn has_login_form(body: &str) -> bool {
    body.contains("oe_login_form") || (body.contains("<form") && body.contains("name=\"login\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::model::GateStatus;

    fn probe(status: u16, body: &str, headers: &[(&str, &str)]) -> Option<HttpProbe> {
        Some(HttpProbe {
            request: "GET https://erp.example.com/x".into(),
            status: Some(status),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            error: None,
        })
    }

    #[test]
    fn the_edge_as_a_browser_sees_it() {
        let obs = EdgeObs {
            health: probe(200, "{\"status\": \"pass\"}", &[]),
            login: probe(
                200,
                "<form class=\"oe_login_form\"><input name=\"login\"/></form>",
                &[],
            ),
            websocket: probe(101, "", &[]),
            ..Default::default()
        };
        let [h, l, w] = edge(&obs, None);
        assert_eq!(
            [h.status, l.status, w.status],
            [GateStatus::Pass, GateStatus::Pass, GateStatus::Pass]
        );
        let obs = EdgeObs {
            health: probe(502, "<html>Bad Gateway</html>", &[]),
            login: probe(303, "", &[("location", "/web/database/selector")]),
            // Odoo 18 without a websocket route behind nginx.
            websocket: probe(404, "", &[]),
            ..Default::default()
        };
        let [h, l, w] = edge(&obs, None);
        assert!(h.summary.starts_with("502"), "{}", h.summary);
        assert!(l.summary.contains("database selector"), "{}", l.summary);
        assert_eq!(w.status, GateStatus::Fail);
        assert_eq!(w.summary, "answered 404");
        let obs = EdgeObs {
            login: probe(200, "<html>a page</html>", &[]),
            ..Default::default()
        };
        assert_eq!(
            edge(&obs, None)[1].summary,
            "200, but the page has no login form"
        );
    }

    #[test]
    fn internal_health_wants_the_database() {
        assert_eq!(
            judge_health(
                &probe(200, r#"{"status": "pass", "db_server_status": true}"#, &[]).unwrap()
            )
            .status,
            GateStatus::Pass
        );
        let f = judge_health(
            &probe(500, r#"{"status": "fail", "db_server_status": false}"#, &[]).unwrap(),
        );
        assert_eq!(f.summary, "Odoo answers, but cannot reach its database");
    }
}
