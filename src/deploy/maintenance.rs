//! The maintenance page a deploy puts up while modules are upgraded: old and new code must
//! not share a database mid-upgrade, so Odoo is stopped, and nginx answers every request
//! of the site with `503 Service Unavailable` and `Retry-After` (a page a browser shows
//! and a client retries) instead of the `502 Bad Gateway` a stopped upstream would give.
//!
//! It is a few lines inside the site's `server` block, between two marker comments, put
//! in and taken out through the safe-change primitive ([`crate::workflow::apply`]: `nginx
//! -T`, commit and reload, or revert). A server-level `return` runs before any location
//! is chosen, so `/websocket` and every other route get the page too. The text edits are
//! pure functions, tested without nginx.

use std::path::PathBuf;
use std::time::Duration;

use color_eyre::eyre::{Result, bail, eyre};

use super::switch_drain::{nginx_workers, wait_drained};
use crate::nginx::{NginxConfig, NginxInvocation, odoo_sites, select_site};
use crate::target::Target;
use crate::workflow::{self, ChangeSet, Expect, FileEdit, StateDirs, sha256_hex};

/// What `Retry-After` says, in seconds: a module upgrade takes a minute or a few.
pub const RETRY_AFTER_SECS: u64 = 60;

const BEGIN: &str =
    "# odoo-ops maintenance: BEGIN (a deploy upgrades modules; removed when it ends)";
const END: &str = "# odoo-ops maintenance: END";

/// The page itself. No `"` (it is an nginx string) and no `$` (nginx would read a
/// variable).
const PAGE: &str = "<!DOCTYPE html><html><head><meta charset=utf-8><title>Maintenance</title></head>\
<body><h1>Down for maintenance</h1><p>This site is being upgraded and will be back in a few minutes.</p></body></html>";

/// The maintenance lines, indented for a `server` block.
fn block(retry_after: u64) -> String {
    format!(
        "    {BEGIN}\n    default_type text/html;\n    add_header Retry-After {retry_after} always;\n    \
         add_header Cache-Control no-store always;\n    return 503 \"{PAGE}\";\n    {END}\n"
    )
}

/// Whether `text` holds the maintenance lines.
pub fn is_on(text: &str) -> bool {
    text.contains(BEGIN)
}

/// `text` with the maintenance lines before the closing `}` of the server block that ends
/// on line `end_line` (1-based). Refused when that line holds more than the brace: the
/// insertion would be a guess.
pub fn with_page(text: &str, end_line: usize, retry_after: u64) -> Result<String, String> {
    if is_on(text) {
        return Ok(text.to_string());
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(closing) = end_line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return Err(format!(
            "the server block's end (line {end_line}) is not in the file"
        ));
    };
    if closing.trim() != "}" {
        return Err(format!(
            "line {end_line} holds more than the server block's closing brace ({:?}): the maintenance page was not put in",
            closing.trim()
        ));
    }
    let mut out = String::with_capacity(text.len() + 512);
    for (i, line) in lines.iter().enumerate() {
        if i + 1 == end_line {
            out.push_str(&block(retry_after));
        }
        out.push_str(line);
    }
    Ok(out)
}

/// `text` without the maintenance lines (as it was before [`with_page`]).
pub fn without_page(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t == BEGIN {
            inside = true;
            continue;
        }
        if inside {
            if t == END {
                inside = false;
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

/// The page, up: which file holds it.
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// The site file as nginx includes it (a link is edited at its target).
    pub file: PathBuf,
    pub nginx: NginxInvocation,
    pub retry_after: u64,
    /// How the drain after putting it up ended.
    pub drained: String,
}

/// The site of `domain` (or the only Odoo site) as nginx loads it now.
async fn site_file(
    target: &Target,
    nginx: &NginxInvocation,
    domain: Option<&str>,
) -> Result<(PathBuf, usize)> {
    let dump = target.run(&nginx.command(&["-T"])).await?;
    if !dump.success() {
        bail!("nginx -T fails: {}", dump.stderr_text().trim());
    }
    let config = NginxConfig::parse_dump(&dump.stdout_text())
        .map_err(|e| eyre!("nginx's configuration: {e}"))?;
    let sites = odoo_sites(&config);
    let site = select_site(&sites, domain).ok_or_else(|| match domain {
        Some(d) => eyre!("nginx has no site for {d} that proxies to Odoo"),
        None => eyre!("nginx has no site that proxies to Odoo"),
    })?;
    let end = site
        .end_line
        .ok_or_else(|| eyre!("the server block in {} has no end", site.file.display()))?;
    Ok((site.file, end))
}

async fn read_text(target: &Target, path: &std::path::Path) -> Result<String> {
    let bytes = target.read_file(path).await?;
    String::from_utf8(bytes).map_err(|_| eyre!("{} is not text", path.display()))
}

/// Apply `changes`; an error says why nothing changed (or what is left).
async fn apply(target: &Target, dirs: &StateDirs, changes: &ChangeSet) -> Result<Vec<String>> {
    let outcome = workflow::apply(target, dirs, changes).await?;
    if outcome.reverted {
        let why = outcome
            .test
            .as_ref()
            .map(|t| t.lines().join("; "))
            .unwrap_or_default();
        bail!("nginx -t refused it, and it was put back: {why}");
    }
    if outcome.reloaded == Some(false) {
        bail!("the files are in place but nginx did not reload");
    }
    Ok(outcome.steps)
}

/// Put the page up (with `extra` files changed in the same safe change), then wait (up to
/// `drain`) until nginx's workers from before the reload are gone: until then one of them
/// may still pass a request it had accepted to Odoo, and stopping Odoo would turn it into
/// a 502. Already up (an interrupted deploy left it): kept as it is.
pub async fn on(
    target: &Target,
    dirs: &StateDirs,
    nginx: &NginxInvocation,
    domain: Option<&str>,
    extra: Vec<FileEdit>,
    drain: Duration,
) -> Result<Maintenance> {
    let (file, end_line) = site_file(target, nginx, domain).await?;
    let text = read_text(target, &file).await?;
    let mut m = Maintenance {
        file: file.clone(),
        nginx: nginx.clone(),
        retry_after: RETRY_AFTER_SECS,
        drained: String::new(),
    };
    if is_on(&text) && extra.is_empty() {
        m.drained = "the page was up already".into();
        return Ok(m);
    }
    let page = with_page(&text, end_line, m.retry_after).map_err(|e| eyre!(e))?;
    let mut changes = ChangeSet::new(format!(
        "maintenance page on {} while modules are upgraded",
        file.display()
    ))
    .validated_by(nginx.clone());
    if page != text {
        changes = changes.file(FileEdit {
            path: file.clone(),
            expect: Expect::Sha256(vec![sha256_hex(text.as_bytes())]),
            contents: page.into_bytes(),
            mode: None,
        });
    }
    for e in extra {
        changes = changes.file(e);
    }
    let workers_before = nginx_workers(target, nginx).await;
    apply(target, dirs, &changes).await?;
    m.drained = wait_drained(target, workers_before.as_deref(), drain).await;
    Ok(m)
}

/// Take the page down (with `extra` files changed in the same safe change). Already down:
/// nothing to do but `extra`.
pub async fn off(
    target: &Target,
    dirs: &StateDirs,
    m: &Maintenance,
    extra: Vec<FileEdit>,
) -> Result<()> {
    let text = read_text(target, &m.file).await?;
    let mut changes = ChangeSet::new(format!("maintenance page off {}", m.file.display()))
        .validated_by(m.nginx.clone());
    if is_on(&text) {
        changes = changes.file(FileEdit {
            path: m.file.clone(),
            expect: Expect::Sha256(vec![sha256_hex(text.as_bytes())]),
            contents: without_page(&text).into_bytes(),
            mode: None,
        });
    }
    for e in extra {
        changes = changes.file(e);
    }
    if changes.files.is_empty() {
        return Ok(());
    }
    apply(target, dirs, &changes).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "upstream odoo {\n    server 127.0.0.1:8069;\n}\n\nserver {\n    listen 80;\n    location / {\n        proxy_pass http://odoo;\n    }\n}\n";

    #[test]
    fn the_page_goes_in_before_the_servers_brace_and_comes_out_leaving_the_file_as_it_was() {
        let on = with_page(SITE, 10, 60).unwrap();
        assert!(is_on(&on));
        assert!(on.contains("    return 503 \"<!DOCTYPE html>"), "{on}");
        assert!(on.contains("add_header Retry-After 60 always;"), "{on}");
        assert!(on.ends_with(&format!("    {END}\n}}\n")), "{on}");
        assert!(!PAGE.contains('"') && !PAGE.contains('$'));
        // Twice on is once on.
        assert_eq!(with_page(&on, 10, 60).unwrap(), on);
        assert_eq!(without_page(&on), SITE);
        assert_eq!(without_page(SITE), SITE);
    }

    #[test]
    fn a_closing_line_with_more_than_the_brace_is_refused() {
        let text = "server {\n    listen 80; location / { proxy_pass http://x; } }\n";
        assert!(with_page(text, 2, 60).is_err());
        assert!(with_page(SITE, 99, 60).is_err());
    }
}
