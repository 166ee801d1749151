//! Listeners and connections: one thread per connection, the framing of the server that
//! owns the port, access lines in werkzeug's or gevent's shape, and the misroute traceback.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::{self, Outcome, Port};
use crate::clock::Utc;
use crate::conf::Conf;
use crate::http::{self, Flavour, Request};
use crate::log;
use crate::modes::Modes;
use crate::websocket;

pub struct Shared {
    pub conf: Conf,
    pub modes: Modes,
}

pub fn accept_loop(listener: TcpListener, port: Port, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let shared = shared.clone();
        std::thread::spawn(move || {
            if shared.modes.hang {
                hang(stream);
            } else {
                connection(stream, port, &shared);
            }
        });
    }
}

/// Accept, read whatever comes, never answer: what a wedged worker looks like from outside.
fn hang(mut stream: TcpStream) {
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    // The peer gave up; keep our end open a while longer, like a stuck process would.
    std::thread::sleep(Duration::from_secs(3600));
}

fn connection(stream: TcpStream, port: Port, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let peer = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "-".into());
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let flavour = if port == Port::Gevent {
        Flavour::Gevent
    } else {
        Flavour::Werkzeug
    };
    loop {
        let request = match http::read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                let mut out = Vec::new();
                let _ = app::bad_request().write(&mut out, flavour, flavour == Flavour::Gevent);
                let _ = writer.write_all(&out);
                return;
            }
        };
        let started = Instant::now();
        if let Some(delay) = shared.modes.delay_for(request.path()) {
            std::thread::sleep(delay);
        }
        let outcome = if shared.modes.unhealthy && request.path() == "/web/health" {
            Outcome::Respond(app::failing_health())
        } else {
            app::handle(&request, port, &shared.conf)
        };
        let (response, upgrade) = match outcome {
            Outcome::Respond(r) => (r, false),
            Outcome::Upgrade(r) => (r, true),
            Outcome::Misroute(r) => {
                log_misroute(&shared.conf);
                (r, false)
            }
        };
        // werkzeug answers HTTP/1.0 except on an upgrade; gevent always HTTP/1.1.
        let http11 = flavour == Flavour::Gevent || upgrade;
        let mut out = Vec::new();
        let _ = response.write(&mut out, flavour, http11);
        let sent = writer.write_all(&out).and_then(|_| writer.flush());
        access_line(
            &shared.conf,
            flavour,
            &peer,
            &request,
            response.status,
            out.len(),
            started,
        );
        if sent.is_err() {
            return;
        }
        if upgrade {
            // The handshake is done: from here on the socket carries websocket frames.
            let Ok(mut duplex) = writer.try_clone() else {
                return;
            };
            let buffered = reader.buffer().to_vec();
            websocket::serve(Prefixed {
                prefix: buffered,
                inner: &mut duplex,
            });
            return;
        }
        let keep_alive = flavour == Flavour::Gevent
            && request.version == "HTTP/1.1"
            && !request.header_has_token("connection", "close");
        if !keep_alive {
            return;
        }
    }
}

/// A stream that first yields bytes already buffered by the request reader.
struct Prefixed<'a> {
    prefix: Vec<u8>,
    inner: &'a mut TcpStream,
}

impl Read for Prefixed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.prefix.is_empty() {
            let n = buf.len().min(self.prefix.len());
            buf[..n].copy_from_slice(&self.prefix[..n]);
            self.prefix.drain(..n);
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

impl Write for Prefixed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn access_line(
    conf: &Conf,
    flavour: Flavour,
    peer: &str,
    req: &Request,
    status: u16,
    bytes: usize,
    started: Instant,
) {
    // Behind a proxy Odoo logs the client from X-Forwarded-For (werkzeug's ProxyFix).
    let client = if conf.proxy_mode {
        req.header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| peer.to_string())
    } else {
        peer.to_string()
    };
    let now = Utc::now();
    let elapsed = started.elapsed().as_secs_f64();
    let request_line = format!("{} {} {}", req.method, req.target, req.version);
    match flavour {
        Flavour::Werkzeug => log::info(
            conf.log_db(),
            "werkzeug",
            &format!(
                "{client} - - [{}] \"{request_line}\" {status} - 2 0.002 {elapsed:.3}",
                now.werkzeug_stamp()
            ),
        ),
        Flavour::Gevent => log::info(
            conf.log_db(),
            "longpolling",
            &format!(
                "{client} - - [{}] \"{request_line}\" {status} {bytes} {elapsed:.6} ",
                now.gevent_stamp()
            ),
        ),
    }
}

/// What Odoo 18 logs when a websocket handshake reaches a prefork HTTP worker.
fn log_misroute(conf: &Conf) {
    let p = "/usr/lib/python3/dist-packages/odoo";
    log::line(
        "ERROR",
        conf.log_db(),
        "odoo.http",
        &format!(
            "Exception during request handling.
Traceback (most recent call last):
  File \"{p}/addons/bus/websocket.py\", line 920, in open_connection
    socket = request.httprequest._HTTPRequest__environ['socket']
             ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~^^^^^^^^^^
KeyError: 'socket'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File \"{p}/http.py\", line 2375, in __call__
    response = request._serve_db()
               ^^^^^^^^^^^^^^^^^^^
  File \"{p}/http.py\", line 2060, in _serve_db
    return self._transactioning(
           ^^^^^^^^^^^^^^^^^^^^^
  File \"{p}/http.py\", line 2123, in _transactioning
    return service_model.retrying(func, env=self.env)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"{p}/service/model.py\", line 156, in retrying
    result = func()
             ^^^^^^
  File \"{p}/http.py\", line 2090, in _serve_ir_http
    response = self.dispatcher.dispatch(rule.endpoint, args)
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"{p}/http.py\", line 2251, in dispatch
    return self.request.registry['ir.http']._dispatch(endpoint)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"{p}/addons/base/models/ir_http.py\", line 333, in _dispatch
    result = endpoint(**request.params)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"{p}/http.py\", line 754, in route_wrapper
    result = endpoint(self, *args, **params_ok)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"{p}/addons/bus/controllers/websocket.py\", line 20, in websocket
    return WebsocketConnectionHandler.open_connection(request, version)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"{p}/addons/bus/websocket.py\", line 927, in open_connection
    raise RuntimeError(
RuntimeError: Couldn't bind the websocket. Is the connection opened on the evented port ({})?",
            conf.gevent_port
        ),
    );
}
