//! A stand-in DigitalOcean API: a small hyper server on a free loopback port, on its own
//! thread and runtime (so tests can drive it from async code or run the CLI against it).
//!
//! It keeps honest by checking itself: every request it receives and every answer it
//! sends is validated against the spec ([`super::do_spec`]); a violation is recorded and
//! fails the test ([`DoApi::assert_valid`], also on drop). It answers like DigitalOcean:
//! pages with `links.pages` and `meta.total`, rate-limit headers on every answer, errors as
//! `{id, message, request_id}`, 401 for a token it was not given. Faults (a 429 with
//! `retry-after`, a 500) are queued by tests; every request is recorded with its time, and
//! the number of list pages served at once is measured.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::do_spec::spec;

/// The token the stand-in accepts.
pub const TOKEN: &str = "dop_v1_5f0c2a9d8e7b6a5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c";

/// An answer forced on the next `times` requests of a method to a path.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    pub retry_after: Option<u64>,
    pub request_id: Option<String>,
    pub times: u32,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub status: u16,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    droplets: Mutex<Vec<Value>>,
    records: Mutex<Vec<Value>>,
    firewalls: Mutex<Vec<Value>>,
    /// Zones the account holds (`GET /v2/domains/{name}` finds them).
    domains: Mutex<Vec<String>>,
    /// The public IPv4 a created droplet gets once its create action is done (a test's
    /// loopback sshd, so the bootstrap reaches a real host).
    new_droplet_ipv4: Mutex<Option<String>>,
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<Recorded>>,
    /// The bodies of `POST /v2/droplets`, as sent (what a form's answers became).
    create_bodies: Mutex<Vec<Value>>,
    violations: Mutex<Vec<String>>,
    next_id: AtomicU64,
    remaining: AtomicU32,
    in_flight: AtomicU32,
    max_in_flight: AtomicU32,
    /// How long a list page after the first takes to answer (to see them overlap).
    page_delay_ms: AtomicU64,
    base: Mutex<String>,
}

pub struct DoApi {
    pub url: String,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DoApi {
    /// A stand-in holding `droplets` droplets (`web-0000`, ...; every third tagged `prod`).
    pub fn start(droplets: usize) -> DoApi {
        let state = Arc::new(State::default());
        state.next_id.store(500_000, Ordering::SeqCst);
        state.remaining.store(5000, Ordering::SeqCst);
        *state.droplets.lock().unwrap() = (0..droplets).map(droplet).collect();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *state.base.lock().unwrap() = url.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let state = serving.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let state = state.clone();
                                async move { Ok::<_, Infallible>(handle(&state, req).await) }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        DoApi {
            url,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Give the `index`th droplet this public IPv4 (a test sshd's loopback address, for
    /// the console to connect to).
    pub fn set_public_ipv4(&self, index: usize, address: &str) {
        let mut droplets = self.state.droplets.lock().unwrap();
        droplets[index]["networks"]["v4"][1]["ip_address"] = json!(address);
    }

    pub fn fault(&self, fault: Fault) {
        self.state.faults.lock().unwrap().push_back(fault);
    }

    /// Hold `zone` in the account: the bootstrap writes its A record here.
    pub fn add_domain(&self, zone: &str) {
        self.state.domains.lock().unwrap().push(zone.to_string());
    }

    /// Droplets created from now on become active with this public IPv4.
    pub fn set_new_droplet_ipv4(&self, ip: &str) {
        *self.state.new_droplet_ipv4.lock().unwrap() = Some(ip.to_string());
    }

    /// The droplets the account holds, by id.
    pub fn droplet_ids(&self) -> Vec<u64> {
        self.state
            .droplets
            .lock()
            .unwrap()
            .iter()
            .filter_map(|d| d["id"].as_u64())
            .collect()
    }

    /// The A/AAAA/... records written, as the API serves them.
    pub fn records(&self) -> Vec<Value> {
        self.state.records.lock().unwrap().clone()
    }

    pub fn set_page_delay(&self, delay: Duration) {
        self.state
            .page_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests of `method` to exactly `path`.
    /// Every droplet create request's body, in order.
    pub fn create_bodies(&self) -> Vec<Value> {
        self.state.create_bodies.lock().unwrap().clone()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// The most list pages (after the first) that were being answered at one time.
    pub fn max_pages_at_once(&self) -> u32 {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.violations.lock().unwrap().clone()
    }

    pub fn assert_valid(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the spec was not followed:\n{}",
            violations.join("\n")
        );
    }
}

impl Drop for DoApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if !std::thread::panicking() {
            self.assert_valid();
        }
    }
}

/// The spec's own example droplet, made the `i`th of the account.
fn droplet(i: usize) -> Value {
    let mut d = spec().raw["components"]["examples"]["droplet_single"]["value"]["droplet"].clone();
    d["id"] = json!(3_000_000 + i as u64);
    d["name"] = json!(format!("web-{i:04}"));
    d["status"] = json!(if i % 7 == 3 { "off" } else { "active" });
    d["created_at"] = json!("2026-11-01T08:00:00Z");
    // Documentation addresses (RFC 5737): data only, never contacted.
    d["networks"]["v4"][1]["ip_address"] = json!(format!("203.0.113.{}", i % 250 + 1));
    d["tags"] = if i.is_multiple_of(3) {
        json!(["odoo", "prod"])
    } else {
        json!(["odoo"])
    };
    d
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn json_answer(status: u16, body: Value) -> Answer {
    (status, Vec::new(), serde_json::to_vec(&body).unwrap())
}

fn error(status: u16, id: &str, message: &str, request_id: Option<&str>) -> Answer {
    let mut body = json!({"id": id, "message": message});
    if let Some(r) = request_id {
        body["request_id"] = json!(r);
    }
    json_answer(status, body)
}

async fn handle(state: &State, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query: Vec<(String, String)> = req.uri().query().map(url_pairs).unwrap_or_default();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut violations =
        spec().check_request(&method, &path, &query, authorization.as_deref(), &body);

    let (status, mut headers, out) =
        if authorization.as_deref() != Some(format!("Bearer {TOKEN}").as_str()) {
            error(
                401,
                "unauthorized",
                "Unable to authenticate you.",
                Some("4d9d8375-3c56-4925-a3e7-eceba2f4c1de"),
            )
        } else if let Some(fault) = take_fault(state, &method, &path) {
            let (id, message) = match fault.status {
                429 => ("too_many_requests", "API Rate limit exceeded."),
                500 => ("server_error", "Unexpected server-side error"),
                _ => ("unprocessable_entity", "Request could not be processed."),
            };
            let mut answer = error(fault.status, id, message, fault.request_id.as_deref());
            if let Some(secs) = fault.retry_after {
                answer.1.push(("retry-after".into(), secs.to_string()));
            }
            answer
        } else {
            route(state, &method, &path, &query, &body).await
        };
    let remaining = state
        .remaining
        .fetch_sub(1, Ordering::SeqCst)
        .saturating_sub(1);
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    headers.push(("ratelimit-limit".into(), "5000".into()));
    headers.push(("ratelimit-remaining".into(), remaining.to_string()));
    headers.push(("ratelimit-reset".into(), reset.to_string()));
    headers.push((
        "content-type".into(),
        "application/json; charset=utf-8".into(),
    ));
    violations.extend(spec().check_response(&method, &path, status, &headers, &out));
    state.violations.lock().unwrap().extend(violations);
    state.requests.lock().unwrap().push(Recorded {
        method,
        path,
        query,
        status,
        at: Instant::now(),
    });
    let mut response = Response::builder().status(status);
    for (k, v) in headers {
        response = response.header(k, v);
    }
    response.body(Full::new(Bytes::from(out))).unwrap()
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn take_fault(state: &State, method: &str, path: &str) -> Option<Fault> {
    let mut faults = state.faults.lock().unwrap();
    let i = faults
        .iter()
        .position(|f| f.method == method && f.path == path && f.times > 0)?;
    faults[i].times -= 1;
    let fault = faults[i].clone();
    if faults[i].times == 0 {
        faults.remove(i);
    }
    Some(fault)
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A page of `items` as DigitalOcean lays one out.
fn page(
    state: &State,
    key: &str,
    path: &str,
    items: &[Value],
    query: &[(String, String)],
) -> Value {
    let per_page: usize = query_value(query, "per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let page: usize = query_value(query, "page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page.max(1)).max(1);
    let start = ((page - 1) * per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let base = state.base.lock().unwrap().clone();
    let extra: String = query
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .map(|(k, v)| format!("&{k}={v}"))
        .collect();
    let link = |p: usize| format!("{base}{path}?page={p}&per_page={per_page}{extra}");
    let mut pages = serde_json::Map::new();
    if page > 1 {
        pages.insert("first".into(), json!(link(1)));
        pages.insert("prev".into(), json!(link(page - 1)));
    }
    if page < last {
        pages.insert("next".into(), json!(link(page + 1)));
        pages.insert("last".into(), json!(link(last)));
    }
    json!({
        key: items[start..end],
        "links": {"pages": pages},
        "meta": {"total": items.len()},
    })
}

fn action(state: &State, kind: &str, resource_id: u64, status: &str) -> Value {
    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
    json!({
        "id": id,
        "status": status,
        "type": kind,
        "started_at": "2026-11-30T10:00:00Z",
        "completed_at": if status == "completed" { json!("2026-11-30T10:00:30Z") } else { Value::Null },
        "resource_id": resource_id,
        "resource_type": "droplet",
        "region_slug": "sgp1",
    })
}

async fn route(
    state: &State,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Answer {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = || {
        error(
            404,
            "not_found",
            "The resource you were accessing could not be found.",
            Some("a1b2c3d4-0000-4000-8000-000000000404"),
        )
    };
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (method, parts.as_slice()) {
        ("GET", ["v2", "account"]) => json_answer(
            200,
            json!({"account": {
                "droplet_limit": 25, "floating_ip_limit": 5, "email": "ops@example.com",
                "name": "Ops", "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
                "email_verified": true, "status": "active", "status_message": "",
            }}),
        ),
        ("GET", ["v2", "account", "keys"]) => {
            let keys = vec![
                json!({"id": 512189, "fingerprint": "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa",
                "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop", "name": "ops laptop"}),
            ];
            json_answer(200, page(state, "ssh_keys", path, &keys, query))
        }
        ("GET", ["v2", "sizes"]) => {
            let sizes = vec![
                json!({"slug": "s-2vcpu-4gb", "memory": 4096, "vcpus": 2, "disk": 80,
                "transfer": 4.0, "price_monthly": 24.0, "price_hourly": 0.0357, "regions": ["sgp1", "fra1"],
                "available": true, "description": "Basic"}),
            ];
            json_answer(200, page(state, "sizes", path, &sizes, query))
        }
        ("GET", ["v2", "regions"]) => {
            let regions = vec![
                json!({"name": "Singapore 1", "slug": "sgp1", "features": ["backups", "ipv6"],
                "available": true, "sizes": ["s-2vcpu-4gb"]}),
            ];
            json_answer(200, page(state, "regions", path, &regions, query))
        }
        ("GET", ["v2", "droplets"]) => {
            let later_page = query_value(query, "page").is_some_and(|p| p != "1");
            if later_page {
                let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                state.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let delay = state.page_delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                state.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            let all = state.droplets.lock().unwrap().clone();
            let chosen: Vec<Value> = match query_value(query, "tag_name") {
                Some(tag) => all
                    .into_iter()
                    .filter(|d| {
                        d["tags"]
                            .as_array()
                            .is_some_and(|t| t.iter().any(|x| x == tag))
                    })
                    .collect(),
                None => all,
            };
            json_answer(200, page(state, "droplets", path, &chosen, query))
        }
        ("POST", ["v2", "droplets"]) => {
            state.create_bodies.lock().unwrap().push(body.clone());
            let id = state.next_id.fetch_add(1, Ordering::SeqCst);
            let mut d = droplet(0);
            d["id"] = json!(id);
            d["name"] = body["name"].clone();
            d["status"] = json!("new");
            d["networks"] = json!({"v4": [], "v6": []});
            d["tags"] = body.get("tags").cloned().unwrap_or(json!([]));
            state.droplets.lock().unwrap().push(d.clone());
            let create = action(state, "create", id, "in-progress");
            let base = state.base.lock().unwrap().clone();
            json_answer(
                202,
                json!({"droplet": d, "links": {"actions": [{
                    "id": create["id"], "rel": "create", "href": format!("{base}/v2/actions/{}", create["id"]),
                }]}}),
            )
        }
        ("GET", ["v2", "droplets", id]) => {
            let ipv4 = state.new_droplet_ipv4.lock().unwrap().clone();
            let found = state
                .droplets
                .lock()
                .unwrap()
                .iter_mut()
                .find(|d| same_id(&d["id"], id))
                .map(|d| {
                    // A new droplet is active by the time anyone looks (its create action
                    // answers completed), with its public address.
                    if d["status"] == "new" {
                        d["status"] = json!("active");
                        if let Some(ip) = &ipv4 {
                            let mut public = droplet(0)["networks"]["v4"][1].clone();
                            public["ip_address"] = json!(ip);
                            d["networks"] = json!({"v4": [public], "v6": []});
                        }
                    }
                    d.clone()
                });
            match found {
                Some(d) => json_answer(200, json!({"droplet": d})),
                None => not_found(),
            }
        }
        ("DELETE", ["v2", "droplets", id]) => {
            let mut droplets = state.droplets.lock().unwrap();
            let before = droplets.len();
            droplets.retain(|d| !same_id(&d["id"], id));
            if droplets.len() < before {
                (204, Vec::new(), Vec::new())
            } else {
                drop(droplets);
                not_found()
            }
        }
        ("POST", ["v2", "droplets", id, "actions"]) => {
            let exists = state
                .droplets
                .lock()
                .unwrap()
                .iter()
                .any(|d| same_id(&d["id"], id));
            if !exists {
                return not_found();
            }
            let kind = body["type"].as_str().unwrap_or("reboot").to_string();
            json_answer(
                201,
                json!({"action": action(state, &kind, id.parse().unwrap_or(0), "in-progress")}),
            )
        }
        ("GET", ["v2", "actions", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let mut a = action(state, "create", 0, "completed");
            a["id"] = json!(id);
            json_answer(200, json!({"action": a}))
        }
        ("GET", ["v2", "domains", name]) => {
            if state.domains.lock().unwrap().iter().any(|z| z == name) {
                json_answer(
                    200,
                    json!({"domain": {"name": name, "ttl": 1800,
                        "zone_file": format!("$ORIGIN {name}.\n$TTL 1800\n")}}),
                )
            } else {
                not_found()
            }
        }
        ("GET", ["v2", "domains", _, "records"]) => {
            let records = state.records.lock().unwrap().clone();
            json_answer(200, page(state, "domain_records", path, &records, query))
        }
        ("POST", ["v2", "domains", _, "records"]) => {
            let mut record = body.clone();
            record["id"] = json!(state.next_id.fetch_add(1, Ordering::SeqCst));
            for k in ["priority", "port", "weight", "flags", "tag"] {
                record[k] = Value::Null;
            }
            state.records.lock().unwrap().push(record.clone());
            json_answer(201, json!({"domain_record": record}))
        }
        ("DELETE", ["v2", "domains", _, "records", id]) => {
            let mut records = state.records.lock().unwrap();
            let before = records.len();
            records.retain(|r| !same_id(&r["id"], id));
            if records.len() < before {
                (204, Vec::new(), Vec::new())
            } else {
                drop(records);
                not_found()
            }
        }
        ("GET", ["v2", "firewalls"]) => {
            let firewalls = state.firewalls.lock().unwrap().clone();
            json_answer(200, page(state, "firewalls", path, &firewalls, query))
        }
        ("POST", ["v2", "firewalls"]) => {
            let mut firewall = body.clone();
            firewall["id"] = json!("bb4b2611-3d72-467b-8602-280330ecd65c");
            firewall["status"] = json!("succeeded");
            firewall["created_at"] = json!("2026-11-30T10:00:00Z");
            firewall["pending_changes"] = json!([]);
            firewall["tags"] = json!([]);
            state.firewalls.lock().unwrap().push(firewall.clone());
            json_answer(202, json!({"firewall": firewall}))
        }
        ("DELETE", ["v2", "firewalls", id]) => {
            let mut firewalls = state.firewalls.lock().unwrap();
            let before = firewalls.len();
            firewalls.retain(|f| f["id"].as_str() != Some(id));
            if firewalls.len() < before {
                (204, Vec::new(), Vec::new())
            } else {
                drop(firewalls);
                not_found()
            }
        }
        _ => not_found(),
    }
}

/// Whether a JSON id is the one a path names.
fn same_id(value: &Value, id: &str) -> bool {
    value.as_u64().is_some() && value.as_u64() == id.parse::<u64>().ok()
}
