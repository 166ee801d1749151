//! Logging in to PostgreSQL the way Odoo's psycopg2 does, when odoo.conf sets
//! `db_password`: a StartupMessage as `db_user` to the `postgres` database, the password
//! when the server asks for it in clear text (`password` in pg_hba.conf), then Odoo's
//! `list_dbs` query. So a wrong password is refused by a real server with its real
//! message, and "several databases" is what the real server holds.
//!
//! Only the clear-text and trust methods are spoken; a server asking for MD5 or SCRAM
//! gets no answer from the stand-in, which then takes the database as up with an unknown
//! list (the same as without `db_password`).

use std::io::{Read, Write};

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
    let io = |e: std::io::Error| e.to_string();
    let mut startup = Vec::new();
    startup.extend_from_slice(&196_608u32.to_be_bytes());
    for (k, v) in [("user", user), ("database", "postgres")] {
        startup.extend_from_slice(k.as_bytes());
        startup.push(0);
        startup.extend_from_slice(v.as_bytes());
        startup.push(0);
    }
    startup.push(0);
    let mut msg = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&startup);
    s.write_all(&msg).map_err(io)?;
    let mut queried = false;
    let mut databases = Vec::new();
    loop {
        let (kind, body) = read_message(s).map_err(io)?;
        match kind {
            b'R' => {
                let code = u32::from_be_bytes(
                    body.get(..4)
                        .ok_or("short message")?
                        .try_into()
                        .map_err(|_| "short")?,
                );
                match code {
                    0 => {}
                    3 => {
                        let mut p = vec![b'p'];
                        p.extend_from_slice(&((password.len() + 5) as u32).to_be_bytes());
                        p.extend_from_slice(password.as_bytes());
                        p.push(0);
                        s.write_all(&p).map_err(io)?;
                    }
                    _ => return Ok(Login::Unverified),
                }
            }
            b'E' => return Err(error_text(&body)),
            b'Z' if !queried => {
                queried = true;
                let mut q = vec![b'Q'];
                q.extend_from_slice(&((LIST_DBS.len() + 5) as u32).to_be_bytes());
                q.extend_from_slice(LIST_DBS.as_bytes());
                q.push(0);
                s.write_all(&q).map_err(io)?;
            }
            b'D' => {
                // int16 column count, then int32 length and the value.
                if let Some(len) = body.get(2..6) {
                    let len = i32::from_be_bytes(len.try_into().unwrap_or_default());
                    if len > 0
                        && let Some(v) = body.get(6..6 + len as usize)
                    {
                        databases.push(String::from_utf8_lossy(v).into_owned());
                    }
                }
            }
            b'Z' => {
                let _ = s.write_all(&[b'X', 0, 0, 0, 4]);
                return Ok(Login::Databases(databases));
            }
            _ => {}
        }
    }
}

fn read_message(s: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    s.read_exact(&mut head)?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut body = vec![0u8; len.saturating_sub(4).min(1 << 20)];
    s.read_exact(&mut body)?;
    Ok((head[0], body))
}

/// `FATAL:  password authentication failed for user "odoo"` from an ErrorResponse.
fn error_text(body: &[u8]) -> String {
    let mut severity = "FATAL".to_string();
    let mut message = String::new();
    for field in body.split(|b| *b == 0) {
        let Some((&code, value)) = field.split_first() else {
            continue;
        };
        let value = String::from_utf8_lossy(value).into_owned();
        match code {
            b'S' => severity = value,
            b'M' => message = value,
            _ => {}
        }
    }
    format!("{severity}:  {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_reads_like_psycopg2() {
        let body = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"odoo\"\0\0";
        assert_eq!(
            error_text(body),
            "FATAL:  password authentication failed for user \"odoo\""
        );
    }
}
