//! The few parts of PostgreSQL's frontend/backend protocol (version 3) Odoo's psycopg2 uses
//! that the stand-in needs: the StartupMessage, authentication (trust, clear-text
//! `password` and `scram-sha-256`, the default of PostgreSQL 14+ and of the official image
//! for host connections), and the simple query protocol with text results.
//! MD5 is not spoken: a server asking for it is reported as [`Auth::Unsupported`].

use std::io::{Read, Write};

use crate::base64;
use crate::sha256::{hmac_sha256, pbkdf2_sha256, sha256};

/// How a login ended, when the server did not refuse it.
#[derive(Debug, PartialEq, Eq)]
pub enum Auth {
    /// Authenticated; the server is ready for queries.
    Ready,
    /// The server asked for a method the stand-in does not speak (MD5, GSS, ...).
    Unsupported(u32),
}

/// One result row, each column as text (`None` for SQL NULL).
pub type Row = Vec<Option<String>>;

/// Send the StartupMessage and authenticate; errors are worded as psycopg2 words them
/// after `connection to server at ... failed: ` (`FATAL:  password authentication failed
/// for user "odoo"`).
pub fn startup(
    s: &mut (impl Read + Write),
    user: &str,
    database: &str,
    password: &str,
) -> Result<Auth, String> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for (k, v) in [
        ("user", user),
        ("database", database),
        ("application_name", "odoo"),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    s.write_all(&msg).map_err(io)?;
    let mut scram: Option<Scram> = None;
    loop {
        let (kind, body) = read_message(s).map_err(io)?;
        match kind {
            b'R' => {
                let code = be_u32(&body, 0)?;
                match code {
                    0 => {}
                    3 => {
                        let mut p = password.as_bytes().to_vec();
                        p.push(0);
                        send(s, b'p', &p)?;
                    }
                    10 => {
                        let mechanisms = &body[4..];
                        let offered = mechanisms.split(|b| *b == 0).any(|m| m == b"SCRAM-SHA-256");
                        if !offered {
                            return Ok(Auth::Unsupported(code));
                        }
                        let client = Scram::new(password);
                        let first = client.client_first();
                        let mut p = b"SCRAM-SHA-256\0".to_vec();
                        p.extend_from_slice(&(first.len() as u32).to_be_bytes());
                        p.extend_from_slice(first.as_bytes());
                        send(s, b'p', &p)?;
                        scram = Some(client);
                    }
                    11 => {
                        let client = scram.as_mut().ok_or("SASLContinue without SASL")?;
                        let server_first = String::from_utf8_lossy(&body[4..]).into_owned();
                        let last = client.client_final(&server_first)?;
                        send(s, b'p', last.as_bytes())?;
                    }
                    12 => {
                        let client = scram.as_ref().ok_or("SASLFinal without SASL")?;
                        client.verify_server(&String::from_utf8_lossy(&body[4..]))?;
                    }
                    other => return Ok(Auth::Unsupported(other)),
                }
            }
            b'E' => return Err(error_text(&body)),
            b'Z' => return Ok(Auth::Ready),
            // ParameterStatus, BackendKeyData, notices: nothing to do.
            _ => {}
        }
    }
}

/// Run `sql` (one or several statements) with the simple query protocol; the rows of
/// every statement that returns some, in order. An error is PostgreSQL's message
/// (`ERROR:  relation "x" does not exist`), read after the server is ready again.
pub fn query(s: &mut (impl Read + Write), sql: &str) -> Result<Vec<Row>, String> {
    let mut q = sql.as_bytes().to_vec();
    q.push(0);
    send(s, b'Q', &q)?;
    let mut rows = Vec::new();
    let mut error = None;
    loop {
        let (kind, body) = read_message(s).map_err(io)?;
        match kind {
            b'D' => rows.push(data_row(&body)?),
            b'E' => error = Some(error_text(&body)),
            b'Z' => {
                return match error {
                    Some(e) => Err(e),
                    None => Ok(rows),
                };
            }
            _ => {}
        }
    }
}

/// Say goodbye (Terminate), as a closing psycopg2 connection does.
pub fn terminate(s: &mut impl Write) {
    let _ = s.write_all(&[b'X', 0, 0, 0, 4]);
}

/// A text literal for SQL (standard_conforming_strings, the default since 9.1).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

fn be_u32(body: &[u8], at: usize) -> Result<u32, String> {
    body.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| "short message from the server".to_string())
}

fn send(s: &mut impl Write, kind: u8, body: &[u8]) -> Result<(), String> {
    let mut msg = vec![kind];
    msg.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(body);
    s.write_all(&msg).map_err(io)
}

fn read_message(s: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    s.read_exact(&mut head)?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > 64 << 20 {
        return Err(std::io::Error::other("message too long: not PostgreSQL?"));
    }
    let mut body = vec![0u8; len.saturating_sub(4)];
    s.read_exact(&mut body)?;
    Ok((head[0], body))
}

/// DataRow: int16 column count, then per column int32 length (-1 = NULL) and the bytes.
fn data_row(body: &[u8]) -> Result<Row, String> {
    let count = u16::from_be_bytes(
        body.get(..2)
            .and_then(|b| b.try_into().ok())
            .ok_or("short DataRow")?,
    );
    let mut at = 2;
    let mut row = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = be_u32(body, at)? as i32;
        at += 4;
        if len < 0 {
            row.push(None);
            continue;
        }
        let value = body.get(at..at + len as usize).ok_or("short DataRow")?;
        row.push(Some(String::from_utf8_lossy(value).into_owned()));
        at += len as usize;
    }
    Ok(row)
}

/// `FATAL:  password authentication failed for user "odoo"` from an ErrorResponse.
pub fn error_text(body: &[u8]) -> String {
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

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs it: no
/// channel binding (`n,,`), the user name left empty (the server takes the startup's).
struct Scram {
    password: String,
    nonce: String,
    /// `client-first-message-bare`, `server-first-message` and the final message without
    /// its proof: the AuthMessage both sides sign.
    auth_message: String,
    salted: [u8; 32],
}

impl Scram {
    fn new(password: &str) -> Scram {
        Scram {
            password: password.to_string(),
            nonce: base64::encode(&random_bytes(18)),
            auth_message: String::new(),
            salted: [0; 32],
        }
    }

    fn client_first(&self) -> String {
        format!("n,,n=,r={}", self.nonce)
    }

    fn client_final(&mut self, server_first: &str) -> Result<String, String> {
        let field = |name: &str| {
            server_first
                .split(',')
                .find_map(|f| f.strip_prefix(name))
                .ok_or_else(|| format!("SCRAM: no {name} in the server's first message"))
        };
        let nonce = field("r=")?;
        if !nonce.starts_with(&self.nonce) {
            return Err("SCRAM: the server's nonce does not extend ours".into());
        }
        let salt = base64::decode(field("s=")?).ok_or("SCRAM: bad salt")?;
        let iterations: u32 = field("i=")?
            .parse()
            .map_err(|_| "SCRAM: bad iteration count")?;
        self.salted = pbkdf2_sha256(self.password.as_bytes(), &salt, iterations);
        let without_proof = format!("c=biws,r={nonce}");
        self.auth_message = format!("n=,r={},{server_first},{without_proof}", self.nonce);
        let client_key = hmac_sha256(&self.salted, b"Client Key");
        let signature = hmac_sha256(&sha256(&client_key), self.auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        Ok(format!("{without_proof},p={}", base64::encode(&proof)))
    }

    /// The server proves it knew the password too (`v=`); a mismatch is a server to
    /// distrust.
    fn verify_server(&self, server_final: &str) -> Result<(), String> {
        let server_key = hmac_sha256(&self.salted, b"Server Key");
        let expected = hmac_sha256(&server_key, self.auth_message.as_bytes());
        let got = server_final
            .split(',')
            .find_map(|f| f.strip_prefix("v="))
            .and_then(base64::decode)
            .ok_or("SCRAM: no server signature")?;
        if got == expected {
            Ok(())
        } else {
            Err("SCRAM: the server's signature is wrong".into())
        }
    }
}

/// A client nonce: the kernel's randomness (Docker gives FROM-scratch containers
/// `/dev/urandom`), else the clock and pid hashed.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok()
    {
        return buf;
    }
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    sha256(seed.as_bytes())[..n.min(32)].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677_example() {
        // RFC 7677 section 3, with the user name PostgreSQL leaves empty put back.
        let mut c = Scram::new("pencil");
        c.nonce = "rOprNGfwEbeRWgbNEkqO".into();
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let last = c.client_final(server_first).unwrap();
        // The RFC's AuthMessage has `n=user`; recompute its proof the same way to check
        // the arithmetic, then the real one against the RFC's values.
        c.auth_message = format!(
            "n=user,r=rOprNGfwEbeRWgbNEkqO,{server_first},c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        let client_key = hmac_sha256(&c.salted, b"Client Key");
        let signature = hmac_sha256(&sha256(&client_key), c.auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        assert_eq!(
            base64::encode(&proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(
            c.verify_server("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .is_ok()
        );
        assert!(last.starts_with("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="));
    }

    #[test]
    fn error_response_reads_like_psycopg2() {
        let body = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"odoo\"\0\0";
        assert_eq!(
            error_text(body),
            "FATAL:  password authentication failed for user \"odoo\""
        );
    }

    #[test]
    fn data_rows_with_nulls() {
        let body = [0, 2, 0, 0, 0, 2, b'h', b'i', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(data_row(&body).unwrap(), vec![Some("hi".to_string()), None]);
        assert_eq!(literal("it's"), "'it''s'");
    }
}
