//! The SQL that reads Odoo's module tables, and the parsing of its answer. Both ways to
//! the tables ([`super::access`]) give [`Rows`] of text: a connection gets them from the
//! server as they are, psql's output is split here. psql runs unaligned (`-At`) with ASCII's unit and record separators (0x1F, 0x1E) as field and
//! record separators: a title may hold commas, `|`, quotes or newlines, never those two
//! (the query replaces them anyway, so a hostile title cannot shift a column).

use super::inventory::Module;

pub const FIELD_SEP: char = '\u{1f}';
pub const RECORD_SEP: char = '\u{1e}';

/// psql's options that make its output parseable by [`records`]: unaligned, tuples
/// only, no psqlrc, stop on the first error.
pub fn psql_args<'a>(user: &'a str, database: &'a str, sql: &'a str) -> Vec<&'a str> {
    vec![
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        user,
        "-d",
        database,
        "-At",
        "-F",
        "\u{1f}",
        "-R",
        "\u{1e}",
        "-c",
        sql,
    ]
}

/// A text column made safe for the separators.
fn col(expr: &str) -> String {
    format!("translate(coalesce({expr}, ''), E'\\x1e\\x1f', '  ')")
}

/// Both tables in one round trip: module rows tagged `m`, dependency rows tagged `d`.
pub fn inventory_sql() -> String {
    format!(
        "SELECT 'm', {}, {}, {}, {}, {}, CASE WHEN application THEN 't' ELSE 'f' END, \
         CASE WHEN auto_install THEN 't' ELSE 'f' END FROM ir_module_module \
         UNION ALL \
         SELECT 'd', {}, {}, '', '', '', '', '' FROM ir_module_module_dependency d \
         JOIN ir_module_module m ON m.id = d.module_id",
        col("name"),
        col("state"),
        col("latest_version"),
        col("shortdesc->>'en_US'"),
        col("author"),
        col("m.name"),
        col("d.name"),
    )
}

/// The databases a droplet's PostgreSQL serves to Odoo (not the maintenance ones).
pub const DATABASES_SQL: &str = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY datname";

/// An answer's rows, each a row's columns as text (NULL as the empty string).
pub type Rows = Vec<Vec<String>>;

/// psql's unaligned output as rows of fields.
pub fn records(out: &str) -> Rows {
    out.split(RECORD_SEP)
        .map(|r| r.trim_end_matches('\n'))
        .filter(|r| !r.is_empty())
        .map(|r| r.split(FIELD_SEP).map(str::to_string).collect())
        .collect()
}

/// A row's fields as `&str`, to match on with slice patterns.
pub fn fields(row: &[String]) -> Vec<&str> {
    row.iter().map(String::as_str).collect()
}

/// (module, the module it depends on): one row of `ir_module_module_dependency`.
pub type Edge = (String, String);

/// The answer of [`inventory_sql`]: modules and dependency edges.
pub fn parse_inventory(rows: &Rows) -> Result<(Vec<Module>, Vec<Edge>), String> {
    let mut modules = Vec::new();
    let mut edges = Vec::new();
    for r in rows {
        match fields(r).as_slice() {
            ["m", name, state, version, title, author, app, auto] => modules.push(Module {
                name: name.to_string(),
                state: state.to_string(),
                latest_version: version.to_string(),
                shortdesc: title.to_string(),
                author: author.to_string(),
                application: *app == "t",
                auto_install: *auto == "t",
            }),
            ["d", module, dependency, ..] => {
                edges.push((module.to_string(), dependency.to_string()))
            }
            other => return Err(format!("unexpected row: {:?}", other.join("|"))),
        }
    }
    Ok((modules, edges))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_in_titles_do_not_shift_columns() {
        let out = "m\u{1f}sale\u{1f}installed\u{1f}18.0.1.2\u{1f}Sales, \"CRM\" | quotes\nsecond line\u{1f}Odoo S.A.\u{1f}t\u{1f}f\u{1e}\
                   d\u{1f}sale\u{1f}mail\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\n";
        let (modules, edges) = parse_inventory(&records(out)).unwrap();
        assert_eq!(modules.len(), 1);
        assert_eq!(modules[0].shortdesc, "Sales, \"CRM\" | quotes\nsecond line");
        assert!(modules[0].application && !modules[0].auto_install);
        assert_eq!(edges, [("sale".to_string(), "mail".to_string())]);
    }
}
