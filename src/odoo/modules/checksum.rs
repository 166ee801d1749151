//! An addon's checksum exactly as OCA's `module_auto_update` (`addon_hash.py`) and
//! acsone's `click-odoo-update` (`_addon_hash.py`) compute it, so the value compares with
//! the one they record in `ir_config_parameter` (`module_auto_update.installed_checksums`):
//!
//! - the files of the addon's directory in `os.walk` order: in each directory its files
//!   sorted by name, then its subdirectories sorted by name, depth first;
//! - a file is left out when its path relative to the addon matches one of the exclude
//!   patterns with Python's `fnmatch` (`*` also crosses `/`); the default patterns are
//!   `*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*` (so `__pycache__` and the web
//!   assets never count), overridden by `module_auto_update.exclude_patterns`;
//! - a `.po` file directly in `i18n/` or `i18n_extra/` is left out when its language
//!   (the name before the first `_`) is not one of the database's active languages (when
//!   there are any);
//! - SHA-1 over, for each file, its relative path (UTF-8) then its contents.
//!
//! The files come from a tar archive (Docker's archive API of the addon's directory), so
//! nothing runs in Odoo's container.

use std::collections::BTreeSet;
use std::io::Read;

use sha1::{Digest, Sha1};

pub const DEFAULT_EXCLUDE_PATTERNS: &str = "*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*";

/// What leaves files out of the hash.
#[derive(Debug, Clone)]
pub struct HashRules {
    exclude: Vec<regex::Regex>,
    /// Language prefixes kept for `.po` files (`fr` of `fr_BE`); empty keeps all.
    keep_langs: BTreeSet<String>,
}

impl HashRules {
    /// `patterns` as the parameter holds them (comma separated); `langs` the active
    /// languages' codes (`en_US`, `fr_BE`).
    pub fn new(patterns: &str, langs: &[String]) -> HashRules {
        HashRules {
            exclude: patterns
                .split(',')
                .map(str::trim)
                .map(fnmatch_regex)
                .collect(),
            keep_langs: langs
                .iter()
                .map(|l| l.split('_').next().unwrap_or_default().to_string())
                .collect(),
        }
    }

    /// Is this file (relative to the addon) part of the hash?
    pub fn keeps(&self, path: &str) -> bool {
        if self.exclude.iter().any(|re| re.is_match(path)) {
            return false;
        }
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
        if !self.keep_langs.is_empty()
            && (dir == "i18n" || dir == "i18n_extra")
            && let Some((base, ext)) = split_ext(file)
            && ext == ".po"
        {
            return self
                .keep_langs
                .contains(base.split('_').next().unwrap_or_default());
        }
        true
    }
}

/// Python's `os.path.splitext` for a file name: a leading dot is not an extension.
fn split_ext(file: &str) -> Option<(&str, &str)> {
    let at = file.rfind('.')?;
    if file[..at].chars().all(|c| c == '.') {
        return None;
    }
    Some((&file[..at], &file[at..]))
}

/// Python's `fnmatch.translate` (POSIX: case-sensitive, `*` matches `/` too).
fn fnmatch_regex(pattern: &str) -> regex::Regex {
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("(?s)^");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str("\\[");
                } else {
                    let mut class: String = chars[i..j].iter().collect();
                    i = j + 1;
                    class = class.replace('\\', "\\\\");
                    if let Some(rest) = class.strip_prefix('!') {
                        class = format!("^{rest}");
                    } else if class.starts_with('^') {
                        class = format!("\\{class}");
                    }
                    re.push('[');
                    re.push_str(&class.replace('[', "\\["));
                    re.push(']');
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap_or_else(|_| regex::Regex::new("^\\b$").expect("a valid regex"))
}

/// `os.walk`'s order as a sort key: at each level, files before directories, each by
/// name.
fn walk_key(path: &str) -> Vec<(bool, &str)> {
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| (i != last, *p))
        .collect()
}

/// The checksum of files given as (path relative to the addon, contents).
pub fn addon_hash(files: &[(String, Vec<u8>)], rules: &HashRules) -> String {
    let mut kept: Vec<&(String, Vec<u8>)> = files.iter().filter(|(p, _)| rules.keeps(p)).collect();
    kept.sort_by(|a, b| walk_key(&a.0).cmp(&walk_key(&b.0)));
    let mut sha = Sha1::new();
    for (path, contents) in kept {
        // The name too, so an empty file counts.
        sha.update(path.as_bytes());
        sha.update(contents);
    }
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a tar of an addon's directory holds, as `addon_hash` wants it.
#[derive(Debug, Default)]
pub struct AddonFiles {
    /// Regular files the rules keep, relative to the addon's directory.
    pub files: Vec<(String, Vec<u8>)>,
    /// Whether `__manifest__.py` is there (Odoo counts a directory as an addon only then).
    pub has_manifest: bool,
    /// Symbolic links: their targets' contents are not in the archive, so the hash
    /// cannot be the one Odoo's side computes.
    pub symlinks: Vec<String>,
}

/// Read a tar as Docker's archive API sends a directory (entries `BASENAME/...`); the
/// contents of files the rules leave out are skipped, not kept.
pub fn read_addon_tar(reader: impl Read, rules: &HashRules) -> std::io::Result<AddonFiles> {
    let mut archive = tar::Archive::new(reader);
    let mut out = AddonFiles::default();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        // Strip the directory's own name.
        let Some((_, rel)) = path.split_once('/') else {
            continue;
        };
        let rel = rel.trim_end_matches('/').to_string();
        if rel.is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            if rules.keeps(&rel) {
                out.symlinks.push(rel);
            }
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        if rel == "__manifest__.py" {
            out.has_manifest = true;
        }
        if !rules.keeps(&rel) {
            continue;
        }
        let mut contents = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut contents)?;
        out.files.push((rel, contents));
    }
    // Docker pads the archive past tar's end marker: read it all, so the sender is not
    // cut off mid-stream.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: &str, c: &str) -> (String, Vec<u8>) {
        (p.to_string(), c.as_bytes().to_vec())
    }

    #[test]
    fn exclusions_as_module_auto_update() {
        let rules = HashRules::new(DEFAULT_EXCLUDE_PATTERNS, &["en_US".into(), "fr_BE".into()]);
        assert!(!rules.keeps("models/stuff.pyc"));
        assert!(!rules.keeps("models/__pycache__/stuff.cpython-311.pyc"));
        assert!(!rules.keeps("models/stuff.pyo"));
        assert!(!rules.keeps("i18n/sample.pot"));
        assert!(!rules.keeps("static/src/some.js"));
        assert!(rules.keeps("i18n/fr.po") && rules.keeps("i18n/en_GB.po"));
        assert!(!rules.keeps("i18n/de.po"), "a language not installed");
        assert!(rules.keeps("data/i18n/de.po"), "only i18n/ at the top");
        assert!(rules.keeps("README.rst"));
        let all = HashRules::new(DEFAULT_EXCLUDE_PATTERNS, &[]);
        assert!(all.keeps("i18n/de.po"), "no language known keeps all");
        let custom = HashRules::new("*.md, tests/*", &[]);
        assert!(!custom.keeps("tests/test_x.py") && !custom.keeps("doc/a.md"));
        assert!(custom.keeps("x.pyc"));
        let class = HashRules::new("[!a]*.txt,x[ab].py", &[]);
        assert!(!class.keeps("b.txt") && class.keeps("a.txt"));
        assert!(!class.keeps("xa.py") && class.keeps("xc.py"));
    }

    #[test]
    fn walk_order_files_before_subdirectories() {
        let mut paths = vec!["data/f1.xml", "z.py", "__init__.py", "a/b/c.py", "a/z.py"];
        paths.sort_by(|a, b| walk_key(a).cmp(&walk_key(b)));
        assert_eq!(
            paths,
            ["__init__.py", "z.py", "a/z.py", "a/b/c.py", "data/f1.xml"]
        );
    }

    /// The sum both Python tools compute for this addon: SHA-1 over each kept file's path
    /// then contents, in walk order (`static/` left out).
    #[test]
    fn hash_matches_the_python_one() {
        let rules = HashRules::new(DEFAULT_EXCLUDE_PATTERNS, &[]);
        let files = vec![
            f("data/f.xml", "<odoo/>"),
            f("__manifest__.py", "{}"),
            f("__init__.py", ""),
            f("static/x.js", "ignored"),
        ];
        let mut sha = Sha1::new();
        sha.update(b"__init__.py__manifest__.py{}data/f.xml<odoo/>");
        let expected: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(addon_hash(&files, &rules), expected);
        let mut changed = files.clone();
        changed[0].1 = b"<odoo></odoo>".to_vec();
        assert_ne!(addon_hash(&changed, &rules), expected);
        changed = files.clone();
        changed[3].1 = b"static changes do not count".to_vec();
        assert_eq!(addon_hash(&changed, &rules), expected);
    }
}
