//! The routes of the contract table (`odoo18/README.md`), the same on both ports except for
//! the websocket, which only the evented server (or the threaded server, `workers = 0`) can
//! bind.

use crate::clock::Utc;
use crate::conf::Conf;
use crate::db;
use crate::http::{Request, Response};
use crate::websocket::{self, Handshake};

/// Which listener received the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The HTTP port served by prefork workers (`workers > 0`): no websocket.
    HttpWorkers,
    /// The HTTP port in threaded mode (`workers = 0`): websockets work here.
    HttpThreaded,
    /// The gevent port.
    Gevent,
}

/// What the connection handler must do with the answer.
pub enum Outcome {
    Respond(Response),
    /// 101: write it, then run the websocket frame loop.
    Upgrade(Response),
    /// The websocket misroute: a 500 and, in the log, the RuntimeError traceback.
    Misroute(Response),
}

pub fn handle(req: &Request, port: Port, conf: &Conf) -> Outcome {
    let path = req.path();
    match path {
        "/web/health" => Outcome::Respond(health(req, conf)),
        "/websocket/health" => Outcome::Respond(json(200, r#"{"status": "pass"}"#)),
        "/web/login" => Outcome::Respond(match choose_db(conf) {
            Choice::One => login_page(req, conf),
            Choice::Down | Choice::Several => redirect(req, conf, "/web/database/selector"),
        }),
        "/" | "/web" | "/odoo" => Outcome::Respond(match choose_db(conf) {
            Choice::One => redirect(req, conf, "/web/login"),
            Choice::Down | Choice::Several => redirect(req, conf, "/web/database/selector"),
        }),
        // A db route: with no database chosen werkzeug's routing has no such path.
        "/websocket" if choose_db(conf) == Choice::Several => Outcome::Respond(not_found()),
        "/websocket" => websocket_route(req, port, conf),
        "/web/webclient/version_info" => Outcome::Respond(version_info(req)),
        _ if path.starts_with("/web/static/") => Outcome::Respond(static_file(path)),
        _ => Outcome::Respond(not_found()),
    }
}

fn db_up(conf: &Conf) -> bool {
    db::reach(conf).is_ok()
}

/// Which database a request gets, as Odoo's `http.db_filter` and monodb decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// PostgreSQL does not answer or refuses the login.
    Down,
    /// One database (or an unknown list: without `db_password` the stand-in does not
    /// log in, and with none at all it serves as before).
    One,
    /// Several and nothing chooses: `/web/login` goes to the selector, `/websocket` is 404
    /// (shared/odoo18/multi-db-without-dbfilter.txt).
    Several,
}

fn choose_db(conf: &Conf) -> Choice {
    match db::reach(conf) {
        Err(_) => Choice::Down,
        Ok(None) => Choice::One,
        Ok(Some(dbs)) => {
            let kept = dbs.iter().filter(|d| db_filter(conf, d)).count();
            if kept > 1 {
                Choice::Several
            } else {
                Choice::One
            }
        }
    }
}

/// `db_name` (a comma-separated list) restricts, else `dbfilter`: `^NAME$` exactly, any
/// other value as a substring (the stand-in has no regex engine).
fn db_filter(conf: &Conf, db: &str) -> bool {
    if !conf.db_name.is_empty() {
        return conf.db_name.split(',').any(|n| n.trim() == db);
    }
    if conf.dbfilter.is_empty() {
        return true;
    }
    match conf
        .dbfilter
        .strip_prefix('^')
        .and_then(|f| f.strip_suffix('$'))
    {
        Some(exact) => exact == db,
        None => db.contains(conf.dbfilter.as_str()),
    }
}

fn health(req: &Request, conf: &Conf) -> Response {
    // Odoo tests the parameter for truthiness: any non-empty value asks for the DB check.
    let wants_db = req
        .query_param("db_server_status")
        .is_some_and(|v| !v.is_empty());
    if !wants_db {
        return json(200, r#"{"status": "pass"}"#);
    }
    if db_up(conf) {
        json(200, r#"{"status": "pass", "db_server_status": true}"#)
    } else {
        json(500, r#"{"status": "fail", "db_server_status": false}"#)
    }
}

/// `/web/health` of a release that never gets healthy (`STANDIN_MODE=unhealthy`): the
/// failing answer Odoo gives, whatever the parameters.
pub fn failing_health() -> Response {
    json(500, r#"{"status": "fail", "db_server_status": false}"#)
}

fn json(status: u16, body: &str) -> Response {
    Response::new(status)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-store")
        .header("X-Content-Type-Options", "nosniff")
        .body(body)
}

fn websocket_route(req: &Request, port: Port, conf: &Conf) -> Outcome {
    match websocket::check(req) {
        Handshake::BadRequest => Outcome::Respond(bad_request()),
        Handshake::UpgradeRequired => Outcome::Respond(
            html(
                426,
                "426 Upgrade Required",
                "Upgrade Required",
                "The server requires an upgraded connection.",
            )
            .header("Sec-WebSocket-Version", "13"),
        ),
        Handshake::Valid(_) if port == Port::HttpWorkers => {
            let _ = conf;
            Outcome::Misroute(html(
                500,
                "500 Internal Server Error",
                "Internal Server Error",
                "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
            ))
        }
        Handshake::Valid(accept) => Outcome::Upgrade(
            Response::new(101)
                .header("Upgrade", "websocket")
                .header("Connection", "Upgrade")
                .header("Sec-WebSocket-Accept", accept)
                .header("Content-Type", "text/html; charset=utf-8")
                .header("Access-Control-Allow-Origin", "*")
                .header("Access-Control-Allow-Methods", "GET, POST")
                .header("Set-Cookie", session_cookie())
                .header("X-Content-Type-Options", "nosniff"),
        ),
    }
}

fn version_info(req: &Request) -> Response {
    if req.method != "POST" {
        return bad_request();
    }
    let id = json_rpc_id(&req.body);
    Response::new(200)
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"jsonrpc": "2.0", "id": {id}, "result": {{"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0, ""], "server_serie": "18.0", "protocol_version": 1}}}}"#
        ))
}

/// The request's `"id"` value copied verbatim (a number, a string or null).
fn json_rpc_id(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let Some(at) = text.find("\"id\"") else {
        return "null".into();
    };
    let rest = text[at + 4..].trim_start();
    let Some(rest) = rest.strip_prefix(':') else {
        return "null".into();
    };
    let rest = rest.trim_start();
    let value = if let Some(s) = rest.strip_prefix('"') {
        match s.find('"') {
            Some(end) => format!("\"{}\"", &s[..end]),
            None => return "null".into(),
        }
    } else {
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .collect()
    };
    if value.is_empty() {
        "null".into()
    } else {
        value
    }
}

/// A redirect with an absolute `Location`. Behind a proxy (`proxy_mode`) the scheme and host
/// come from `X-Forwarded-Proto`/`X-Forwarded-Host`, as werkzeug's ProxyFix does in Odoo;
/// otherwise from the request itself, so TLS terminated by nginx without
/// `X-Forwarded-Proto` gives an `http://` URL.
fn redirect(req: &Request, conf: &Conf, to: &str) -> Response {
    let header = |name: &str| {
        req.header(name)
            .map(|v| v.split(',').next().unwrap_or("").trim())
    };
    let (scheme, host) = if conf.proxy_mode {
        (
            header("x-forwarded-proto")
                .filter(|s| !s.is_empty())
                .unwrap_or("http"),
            header("x-forwarded-host")
                .filter(|s| !s.is_empty())
                .or(req.header("host"))
                .unwrap_or("localhost"),
        )
    } else {
        ("http", req.header("host").unwrap_or("localhost"))
    };
    let location = format!("{scheme}://{host}{to}");
    Response::new(303)
        .header("Content-Type", "text/html; charset=utf-8")
        .header("Location", location.clone())
        .header("X-Content-Type-Options", "nosniff")
        .body(format!(
            "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href=\"{to}\">{to}</a>. If not, click the link.\n"
        ))
}

fn login_page(req: &Request, conf: &Conf) -> Response {
    let error = if req.method == "POST" {
        "<p class=\"alert alert-danger\" role=\"alert\">Wrong login/password</p>"
    } else {
        ""
    };
    let db = if conf.db_name.is_empty() {
        "odoo"
    } else {
        &conf.db_name
    };
    let body = format!(
        r#"<!DOCTYPE html>
<html lang="en-US" data-website-id="" data-oe-company-name="My Company">
    <head>
        <meta charset="utf-8"/>
        <meta http-equiv="X-UA-Compatible" content="IE=edge"/>
        <meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no"/>
        <title>Odoo</title>
        <link type="image/x-icon" rel="shortcut icon" href="/web/static/img/favicon.ico"/>
        <script id="web.layout.odooscript" type="text/javascript">
            var odoo = {{
                csrf_token: "{csrf}",
                debug: "",
            }};
        </script>
        <link type="text/css" rel="stylesheet" href="/web/assets/1/web.assets_frontend.min.css"/>
        <script type="text/javascript" src="/web/assets/1/web.assets_frontend_minimal.min.js" onerror="__odooAssetError=1"></script>
        <script type="text/javascript" src="/web/assets/1/web.assets_frontend_lazy.min.js" onerror="__odooAssetError=1" defer="defer"></script>
    </head>
    <body class="bg-100">
        <div class="container py-5">
            <div class="card border-0 mx-auto bg-100 o_database_list" style="max-width: 300px;">
                <div class="card-body">
                    <div class="text-center pb-3 border-bottom mb-4">
                        <img src="/web/binary/company_logo" alt="Logo" style="max-height:120px; max-width: 100%; width:auto"/>
                    </div>
                    <form class="oe_login_form" role="form" method="post" onsubmit="this.action = '/web/login' + location.hash" action="/web/login">
                        <input type="hidden" name="csrf_token" value="{csrf}"/>
                        <div class="mb-3 field-db">
                            <label for="db" class="col-form-label">Database</label>
                            <div class="input-group">
                                <input type="text" name="db" value="{db}" id="db" class="form-control" required="required" readonly="readonly"/>
                            </div>
                        </div>
                        <div class="mb-3 field-login">
                            <label for="login" class="form-label">Email</label>
                            <input type="text" placeholder="Email" name="login" id="login" required="required" autocomplete="username" autofocus="autofocus" autocapitalize="off" class="form-control "/>
                        </div>
                        <div class="mb-3">
                            <label for="password" class="form-label">Password</label>
                            <input type="password" placeholder="Password" name="password" id="password" required="required" autocomplete="current-password" maxlength="4096" class="form-control "/>
                        </div>
                        {error}
                        <div class="clearfix oe_login_buttons text-center gap-1 d-grid mb-1 pt-3">
                            <button type="submit" class="btn btn-primary">Log in</button>
                            <div class="o_login_auth"></div>
                        </div>
                        <input type="hidden" name="redirect"/>
                    </form>
                    <div class="text-center small mt-4 pt-3 border-top">
                        <a class="border-end pe-2 me-1" href="/web/database/manager">Manage Databases</a>
                        <a href="https://www.odoo.com?utm_source=db&amp;utm_medium=auth" target="_blank">Powered by <span>Odoo</span></a>
                    </div>
                </div>
            </div>
        </div>
    </body>
</html>
"#,
        csrf = random_hex(20),
    );
    Response::new(200)
        .header("Content-Type", "text/html; charset=utf-8")
        .header("Cache-Control", "no-cache")
        .header("X-Frame-Options", "SAMEORIGIN")
        .header("Content-Security-Policy", "frame-ancestors 'self'")
        .header("Set-Cookie", session_cookie())
        .header("X-Content-Type-Options", "nosniff")
        .body(body)
}

fn static_file(path: &str) -> Response {
    let content_type = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("png") => "image/png",
        Some("ico") => "image/vnd.microsoft.icon",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    Response::new(200)
        .header("Content-Type", content_type)
        .header("Cache-Control", "public, max-age=604800")
        .header("X-Content-Type-Options", "nosniff")
        .body(format!("/* stand-in static file {path} */\n").repeat(40))
}

fn session_cookie() -> String {
    let expires = Utc::now().plus_seconds(365 * 86_400).http_date();
    format!(
        "session_id={}; Expires={expires}; Max-Age=604800; HttpOnly; Path=/",
        random_hex(35)
    )
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut buf);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn html(status: u16, title: &str, h1: &str, p: &str) -> Response {
    Response::new(status)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(format!(
            "<!doctype html>\n<html lang=en>\n<title>{title}</title>\n<h1>{h1}</h1>\n<p>{p}</p>\n"
        ))
}

pub fn bad_request() -> Response {
    html(
        400,
        "400 Bad Request",
        "Bad Request",
        "The browser (or proxy) sent a request that this server could not understand.",
    )
}

fn not_found() -> Response {
    html(
        404,
        "404 Not Found",
        "Not Found",
        "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn werkzeug_bodies_have_the_recorded_lengths() {
        assert_eq!(bad_request().body.len(), 167);
        assert_eq!(not_found().body.len(), 207);
        let Outcome::Misroute(r) = websocket_route(
            &Request {
                method: "GET".into(),
                target: "/websocket".into(),
                version: "HTTP/1.1".into(),
                headers: [
                    ("Host", "h"),
                    ("Connection", "Upgrade"),
                    ("Upgrade", "websocket"),
                    ("Sec-WebSocket-Version", "13"),
                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                    ("Origin", "http://h"),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                body: vec![],
            },
            Port::HttpWorkers,
            &Conf::default(),
        ) else {
            panic!("expected the misroute")
        };
        assert_eq!(r.body.len(), 265);
    }

    #[test]
    fn json_rpc_ids() {
        assert_eq!(
            json_rpc_id(br#"{"jsonrpc":"2.0","method":"call","params":{}}"#),
            "null"
        );
        assert_eq!(
            json_rpc_id(br#"{"jsonrpc":"2.0","id": 7,"params":{}}"#),
            "7"
        );
        assert_eq!(json_rpc_id(br#"{"id":"abc"}"#), "\"abc\"");
    }
}
