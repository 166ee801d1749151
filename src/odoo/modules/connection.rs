//! The module tables through a PostgreSQL connection, for a database the host reaches
//! that is no container of Odoo's compose project (Odoo as a host process, a host
//! PostgreSQL, a managed database on a private address). The parameters are odoo.conf's
//! (`db_host`, `db_port`, `db_user`, `db_password`), so nothing is typed; the byte stream
//! goes through the [`Target`] (plain TCP or a Unix socket locally, a direct-tcpip or
//! direct-streamlocal channel over SSH), so the same code reads a laptop's database and a
//! droplet's. tokio-postgres speaks the protocol; no TLS: the way is loopback or the SSH
//! tunnel, and a server that demands SSL is said to.

use std::fmt;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::query::Rows;
use crate::odoo::conf::OdooConf;
use crate::target::{Target, host_port};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where libpq (and so Odoo's psycopg2) looks for the server's socket when `db_host` is
/// empty, on Debian and Ubuntu.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// One place a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket: `DIR/.s.PGSQL.PORT`.
    Socket(String),
    /// `host:port` as the target resolves it.
    Tcp(String),
}

/// A value never shown: its `Debug` is [`crate::redact::REDACTED`].
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::redact::REDACTED)
    }
}

/// odoo.conf's connection parameters and the target they are used from.
#[derive(Clone)]
pub struct Connection {
    target: Target,
    /// Tried in order: the socket libpq would use, then TCP (an empty `db_host`).
    endpoints: Vec<Endpoint>,
    port: u16,
    pub user: String,
    password: Option<Secret>,
    /// odoo.conf's `db_host` as written (`None` when empty), for messages.
    db_host: Option<String>,
    /// odoo.conf's `db_sslmode` when it asks for SSL.
    sslmode: Option<String>,
    /// Which endpoint answered last (for [`Connection::describe`]).
    used: std::sync::Arc<std::sync::Mutex<Option<Endpoint>>>,
}

impl Connection {
    /// The parameters of `conf`, defaulted as Odoo and libpq default them.
    pub fn from_conf(target: &Target, conf: &OdooConf, user: &str) -> Result<Connection> {
        let port = match conf.get_set("db_port") {
            None => 5432,
            Some(p) => p
                .parse()
                .map_err(|_| eyre!("odoo.conf's db_port `{p}` is not a port number"))?,
        };
        let db_host = conf.get_set("db_host").map(str::to_string);
        let endpoints = match db_host.as_deref() {
            // libpq: no host = the default socket directory, then Odoo's docs' localhost.
            None => vec![
                Endpoint::Socket(DEFAULT_SOCKET_DIR.into()),
                Endpoint::Tcp("127.0.0.1".into()),
            ],
            Some(dir) if dir.starts_with('/') => vec![Endpoint::Socket(dir.into())],
            // Inside a container this name is the Docker host; seen from the host it is
            // its own loopback.
            Some("host.docker.internal") => vec![Endpoint::Tcp("127.0.0.1".into())],
            Some(host) => vec![Endpoint::Tcp(host.into())],
        };
        Ok(Connection {
            target: target.clone(),
            endpoints,
            port,
            user: user.to_string(),
            password: conf.get_set("db_password").map(|p| Secret(p.to_string())),
            db_host,
            sslmode: conf
                .get_set("db_sslmode")
                .filter(|m| m.starts_with("require") || m.starts_with("verify"))
                .map(str::to_string),
            used: Default::default(),
        })
    }

    fn endpoint_text(&self, e: &Endpoint) -> String {
        match e {
            Endpoint::Socket(dir) => format!("{dir}/.s.PGSQL.{}", self.port),
            Endpoint::Tcp(host) => host_port(host, self.port),
        }
    }

    /// `PostgreSQL connection to 127.0.0.1:5432 -U odoo -d DB through local (host)`.
    pub fn describe(&self, database: Option<&str>) -> String {
        let used = self.used.lock().ok().and_then(|u| u.clone());
        let to = used
            .as_ref()
            .or(self.endpoints.first())
            .map(|e| self.endpoint_text(e))
            .unwrap_or_default();
        format!(
            "PostgreSQL connection to {to} -U {}{} through {}",
            self.user,
            database.map(|d| format!(" -d {d}")).unwrap_or_default(),
            self.target.describe()
        )
    }

    /// odoo.conf's names for what was used, for an error an operator can act on.
    fn whose(&self) -> String {
        format!(
            "odoo.conf's db_user `{}` (db_host `{}`, db_port {})",
            self.user,
            self.db_host.as_deref().unwrap_or(""),
            self.port
        )
    }

    async fn client(&self, database: &str) -> Result<tokio_postgres::Client> {
        let mut errors = Vec::new();
        for endpoint in &self.endpoints {
            match self.client_at(endpoint, database).await {
                Ok(client) => {
                    if let Ok(mut used) = self.used.lock() {
                        *used = Some(endpoint.clone());
                    }
                    return Ok(client);
                }
                Err(e) => errors.push(format!("{}: {e}", self.endpoint_text(endpoint))),
            }
        }
        Err(eyre!(
            "PostgreSQL could not be reached with {} through {}: {}",
            self.whose(),
            self.target.describe(),
            errors.join("; ")
        ))
    }

    async fn client_at(
        &self,
        endpoint: &Endpoint,
        database: &str,
    ) -> Result<tokio_postgres::Client, String> {
        let stream = match endpoint {
            Endpoint::Socket(dir) => {
                self.target
                    .connect_unix(&format!("{dir}/.s.PGSQL.{}", self.port))
                    .await
            }
            Endpoint::Tcp(host) => self.target.connect_tcp(host, self.port).await,
        }
        .map_err(|e| format!("{e:#}"))?;
        let mut config = tokio_postgres::Config::new();
        config
            .user(&self.user)
            .dbname(database)
            .application_name("odoo-ops")
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        if let Some(Secret(p)) = &self.password {
            config.password(p);
        }
        let (client, connection) =
            tokio::time::timeout(CONNECT_TIMEOUT, config.connect_raw(stream, NoTls))
                .await
                .map_err(|_| format!("no answer in {}s", CONNECT_TIMEOUT.as_secs()))?
                .map_err(|e| self.explain(&e))?;
        // The connection object does the I/O; it ends when the client is dropped.
        tokio::spawn(connection);
        Ok(client)
    }

    /// A refusal in words that name odoo.conf's settings, never the password.
    fn explain(&self, e: &tokio_postgres::Error) -> String {
        let Some(db) = e.as_db_error() else {
            return e.to_string();
        };
        let message = db.message();
        let no_ssl = message.contains("no encryption") || message.contains("SSL off");
        if no_ssl {
            return format!(
                "the server demands SSL ({message}){}: odoo-ops connects without TLS (through loopback or the SSH tunnel), so it cannot read this database this way",
                self.sslmode
                    .as_ref()
                    .map(|m| format!("; odoo.conf's db_sslmode is `{m}`"))
                    .unwrap_or_default()
            );
        }
        if db.code() == &tokio_postgres::error::SqlState::INVALID_PASSWORD {
            return format!("{message}: check odoo.conf's db_password");
        }
        format!("{} {}: {message}", db.severity(), db.code().code())
    }

    /// Run `sql` (one or more statements) in `database`; the rows of text, NULL as "".
    pub async fn rows(&self, database: &str, sql: &str) -> Result<Rows> {
        let client = self.client(database).await?;
        let messages = tokio::time::timeout(QUERY_TIMEOUT, client.simple_query(sql))
            .await
            .map_err(|_| eyre!("no answer in {}s to a query", QUERY_TIMEOUT.as_secs()))?
            .map_err(|e| {
                eyre!(
                    "the query in database {database} failed: {}",
                    e.as_db_error()
                        .map(|d| d.message().to_string())
                        .unwrap_or_else(|| e.to_string())
                )
            })?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or_default().to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Result<Connection> {
        Connection::from_conf(&Target::local(), &OdooConf::parse(text), "odoo")
    }

    #[test]
    fn endpoints_as_libpq_and_odoo_default_them() {
        let c = of("[options]\ndb_host = False\ndb_password = hunter2-x\n").unwrap();
        assert_eq!(
            c.endpoints,
            [
                Endpoint::Socket("/var/run/postgresql".into()),
                Endpoint::Tcp("127.0.0.1".into())
            ]
        );
        assert_eq!(c.port, 5432);
        assert!(!format!("{:?}", c.password).contains("hunter2"));
        assert!(!c.describe(None).contains("hunter2"));
        let c = of("[options]\ndb_host = /run/pg\ndb_port = 5433\n").unwrap();
        assert_eq!(c.endpoints, [Endpoint::Socket("/run/pg".into())]);
        assert_eq!(c.endpoint_text(&c.endpoints[0]), "/run/pg/.s.PGSQL.5433");
        let c = of("[options]\ndb_host = host.docker.internal\n").unwrap();
        assert_eq!(c.endpoints, [Endpoint::Tcp("127.0.0.1".into())]);
        let e = of("[options]\ndb_port = fivefour\n").err().unwrap();
        assert!(e.to_string().contains("db_port `fivefour`"), "{e}");
    }
}
