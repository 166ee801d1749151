//! Where a backup reads from and a restore writes to: the compose project's `db` container
//! (PostgreSQL and its tools, reached by `docker exec`) and its Odoo container (whose
//! `data_dir` holds the filestore), both through the target's Docker API, locally and
//! over SSH alike.

use std::time::Duration;

use bollard::Docker;
use color_eyre::eyre::{Result, eyre};

use crate::docker::{compose, exec};

/// How to find the stack; the defaults are what the seeds' compose file and the official
/// images use.
#[derive(Debug, Clone)]
pub struct StackSpec {
    pub project: String,
    pub db_service: String,
    pub odoo_service: String,
    /// The PostgreSQL role Odoo connects as (`POSTGRES_USER`).
    pub db_user: String,
    /// Odoo's `data_dir` inside its container; the filestore is `data_dir/filestore/DB`.
    pub data_dir: String,
}

impl StackSpec {
    pub fn new(project: &str) -> StackSpec {
        StackSpec {
            project: project.to_string(),
            db_service: "db".into(),
            odoo_service: "odoo".into(),
            db_user: "odoo".into(),
            data_dir: "/var/lib/odoo".into(),
        }
    }
}

/// The stack, found.
#[derive(Debug, Clone)]
pub struct Stack {
    pub docker: Docker,
    pub db_container: String,
    pub odoo_container: String,
    pub db_user: String,
    pub data_dir: String,
}

/// Small SQL runs quickly or something is wrong; a dump or a load has no such limit.
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

impl Stack {
    /// Both containers of the project; the db one must be running (its tools are used).
    pub async fn find(docker: Docker, spec: &StackSpec) -> Result<Stack> {
        let (db_container, state) =
            compose::service_container(&docker, &spec.project, &spec.db_service)
                .await
                .ok_or_else(|| {
                    eyre!(
                        "no container of service `{}` in compose project `{}`",
                        spec.db_service,
                        spec.project
                    )
                })?;
        if state != "running" {
            return Err(eyre!(
                "the database container {db_container} is {state}, not running"
            ));
        }
        let (odoo_container, _) =
            compose::service_container(&docker, &spec.project, &spec.odoo_service)
                .await
                .ok_or_else(|| {
                    eyre!(
                        "no container of service `{}` in compose project `{}`",
                        spec.odoo_service,
                        spec.project
                    )
                })?;
        Ok(Stack {
            docker,
            db_container,
            odoo_container,
            db_user: spec.db_user.clone(),
            data_dir: spec.data_dir.trim_end_matches('/').to_string(),
        })
    }

    /// `data_dir/filestore`.
    pub fn filestore_root(&self) -> String {
        format!("{}/filestore", self.data_dir)
    }

    /// Run `sql` with `psql` in the db container, connected to `database`; its rows as
    /// psql's unaligned output (`a|b` per line). Any error stops it and is returned.
    pub async fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let argv = [
            "psql",
            "-U",
            &self.db_user,
            "-d",
            database,
            "-AtXq",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ];
        let out = exec::run(&self.docker, &self.db_container, None, &argv, QUERY_TIMEOUT).await?;
        if !out.success() {
            return Err(eyre!(
                "psql in {} (database {database}) failed ({}): {}",
                self.db_container,
                out.exit_code
                    .map_or("no exit code".into(), |c| format!("exit {c}")),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub async fn database_exists(&self, db: &str) -> Result<bool> {
        let rows = self
            .psql(
                "postgres",
                &format!(
                    "SELECT 1 FROM pg_database WHERE datname = {}",
                    quote_literal(db)
                ),
            )
            .await?;
        Ok(rows.trim() == "1")
    }
}

/// Odoo's rule for database names (`odoo.service.db.DBNAME_PATTERN`); anything else is
/// refused before it reaches SQL or a path.
pub fn check_db_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = name.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(eyre!(
            "{name:?} is not a database name Odoo accepts (letters, digits, `_`, `.`, `-`)"
        ))
    }
}

/// `"name"`, for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, for SQL.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_and_quoting() {
        assert!(check_db_name("odoo").is_ok());
        assert!(check_db_name("shop-prod.2").is_ok());
        assert!(check_db_name("_x").is_err());
        assert!(check_db_name("a").is_err());
        assert!(check_db_name("a b").is_err());
        assert!(check_db_name("a\";drop").is_err());
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
