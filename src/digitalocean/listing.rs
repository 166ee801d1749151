//! A droplet as the operator's list shows it (the CLI's table and JSON, the Droplets
//! pane): one rule for the columns, the filter and the age, used by both faces.

use serde::Serialize;

use super::model::Droplet;

/// Which droplets to show: a tag (exact) and a part of the name (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub tag: Option<String>,
    pub name: Option<String>,
}

impl ListFilter {
    pub fn matches(&self, droplet: &Droplet) -> bool {
        let tag_ok = self
            .tag
            .as_deref()
            .filter(|t| !t.is_empty())
            .is_none_or(|t| droplet.tags.iter().any(|have| have == t));
        let name_ok = self
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .is_none_or(|n| droplet.name.to_lowercase().contains(&n.to_lowercase()));
        tag_ok && name_ok
    }
}

/// One droplet's row: name, status, region, size, public IPv4, tags, age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropletRow {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub region: String,
    pub size: String,
    /// Empty while the droplet is `new`.
    pub public_ipv4: Option<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    /// Seconds since it was created.
    pub age_secs: Option<u64>,
}

impl DropletRow {
    pub fn of(droplet: &Droplet, now_ms: i64) -> DropletRow {
        DropletRow {
            id: droplet.id,
            name: droplet.name.clone(),
            status: droplet.status.clone(),
            region: droplet.region.slug.clone(),
            size: droplet.size_slug.clone(),
            public_ipv4: droplet.public_ipv4().map(str::to_string),
            tags: droplet.tags.clone(),
            created_at: droplet.created_at.clone(),
            age_secs: droplet.age_secs(now_ms),
        }
    }

    /// The cells, in column order, as text.
    pub fn cells(&self) -> [String; 7] {
        [
            self.name.clone(),
            self.status.clone(),
            self.region.clone(),
            self.size.clone(),
            self.public_ipv4.clone().unwrap_or_else(|| "-".into()),
            if self.tags.is_empty() {
                "-".into()
            } else {
                self.tags.join(",")
            },
            self.age_secs
                .map(crate::tui::format::duration)
                .unwrap_or_else(|| "?".into()),
        ]
    }
}

pub const HEADERS: [&str; 7] = [
    "NAME",
    "STATUS",
    "REGION",
    "SIZE",
    "PUBLIC IPV4",
    "TAGS",
    "AGE",
];

/// The rows of the droplets a filter lets through, sorted by name.
pub fn rows(droplets: &[Droplet], filter: &ListFilter, now_ms: i64) -> Vec<DropletRow> {
    let mut rows: Vec<DropletRow> = droplets
        .iter()
        .filter(|d| filter.matches(d))
        .map(|d| DropletRow::of(d, now_ms))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    rows
}

/// A plain-text table, columns as wide as their widest cell.
pub fn table(rows: &[DropletRow]) -> String {
    let cells: Vec<[String; 7]> = rows.iter().map(DropletRow::cells).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut out = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADERS.map(str::to_string));
    for row in &cells {
        out += &line(row);
    }
    out
}
