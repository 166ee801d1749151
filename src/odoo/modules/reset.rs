//! Cleaning the pending states a crashed module run leaves, the way Odoo's own buttons do
//! (`ir.module.module`'s `button_install_cancel`, `button_upgrade_cancel`,
//! `button_uninstall_cancel`): `to install` -> `uninstalled`, `to upgrade` -> `installed`,
//! `to remove` -> `installed`. One statement, so every row moves or none does.

use color_eyre::eyre::Result;
use serde::Serialize;

use super::access::DbAccess;
use super::inventory::PENDING_STATES;
use super::query;

/// The state Odoo's cancel button puts a pending module back in.
pub fn state_after_cancel(pending: &str) -> Option<&'static str> {
    match pending {
        "to install" => Some("uninstalled"),
        "to upgrade" | "to remove" => Some("installed"),
        _ => None,
    }
}

/// One module moved back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reset {
    pub name: String,
    pub from: String,
    pub to: String,
}

fn reset_sql() -> String {
    let cases: String = PENDING_STATES
        .iter()
        .filter_map(|s| state_after_cancel(s).map(|to| format!(" WHEN '{s}' THEN '{to}'")))
        .collect();
    let list = PENDING_STATES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    // The old state comes from a self-join: RETURNING sees only the new row.
    format!(
        "UPDATE ir_module_module m SET state = CASE old.state{cases} END, \
         write_date = now() at time zone 'UTC' \
         FROM ir_module_module old WHERE old.id = m.id AND old.state IN ({list}) \
         RETURNING m.name, old.state, m.state"
    )
}

/// Move every pending module back; what moved, by name.
pub async fn reset_pending(access: &DbAccess) -> Result<Vec<Reset>> {
    let rows = access.rows(&access.database, &reset_sql()).await?;
    let mut moved: Vec<Reset> = rows
        .iter()
        .filter_map(|r| match query::fields(r).as_slice() {
            [name, from, to] => Some(Reset {
                name: name.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            }),
            _ => None,
        })
        .collect();
    moved.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_odoos_cancel_buttons() {
        assert_eq!(state_after_cancel("to install"), Some("uninstalled"));
        assert_eq!(state_after_cancel("to upgrade"), Some("installed"));
        assert_eq!(state_after_cancel("to remove"), Some("installed"));
        assert_eq!(state_after_cancel("installed"), None);
        let sql = reset_sql();
        assert!(sql.contains("WHEN 'to remove' THEN 'installed'"), "{sql}");
    }
}
