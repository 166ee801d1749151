//! Logging in to PostgreSQL the way Odoo's psycopg2 does, when odoo.conf sets
//! `db_password`: as `db_user` to the `postgres` database, with whatever the server asks
//! for among trust, clear-text `password` and `scram-sha-256` (see `pg_wire`), then Odoo's
//! `list_dbs` query. So a wrong password is refused by a real server with its real
//! message, and "several databases" is what the real server holds.
//!
//! A server asking for MD5 (or GSS, ...) is not answered; the stand-in then takes the
//! database as up with an unknown list (the same as without `db_password`).

use std::io::{Read, Write};

use crate::pg_wire::{self, Auth};

/// What a login found: the databases Odoo would list, when the server let us ask.
pub enum Login {
    Databases(Vec<String>),
    /// The server wants an authentication method the stand-in does not speak.
    Unverified,
}

/// Odoo 18's `odoo.service.db.list_dbs` (without `list_db` restrictions): the databases
/// the user owns, minus templates and `postgres`.
const LIST_DBS: &str = "SELECT datname FROM pg_database WHERE datdba = (SELECT usesysid FROM pg_user WHERE usename = current_user) AND NOT datistemplate AND datallowconn AND datname <> 'postgres' ORDER BY datname";

/// Log in over an open connection; the error is worded as psycopg2 words it after
/// `connection to server at ... failed: ` (`FATAL:  password authentication failed ...`).
pub fn login(s: &mut (impl Read + Write), user: &str, password: &str) -> Result<Login, String> {
    match pg_wire::startup(s, user, "postgres", password)? {
        Auth::Unsupported(_) => Ok(Login::Unverified),
        Auth::Ready => {
            let rows = pg_wire::query(s, LIST_DBS)?;
            pg_wire::terminate(s);
            Ok(Login::Databases(
                rows.into_iter()
                    .filter_map(|mut r| r.pop().flatten())
                    .collect(),
            ))
        }
    }
}
