//! nginx's effective configuration as `nginx -T` prints it: every file it read, each after a
//! `# configuration file PATH:` marker, parsed into directives that remember their file and
//! line, with `include`s expanded in place the way nginx reads them.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One directive: `name args...;` or `name args... { block }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub file: PathBuf,
    /// 1-based line of the directive's name.
    pub line: usize,
    /// 1-based line of the closing `}` for a block directive.
    pub end_line: Option<usize>,
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    /// The directives inside this block (empty for a simple directive).
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// `file:line`, how evidence points at a directive.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// A file as nginx -T dumped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
}

/// The whole effective configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NginxConfig {
    /// Every file in the order nginx -T printed it; the first is the main file.
    pub files: Vec<ConfigFile>,
    /// The main file's directives with `include` replaced by what it included.
    pub root: Vec<Directive>,
}

/// A syntax problem, with the file and line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

const MARKER: &str = "# configuration file ";

/// Split nginx -T's standard output into the files it dumped.
pub fn split_dump(dump: &str) -> Vec<ConfigFile> {
    let mut files: Vec<ConfigFile> = Vec::new();
    for line in dump.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if let Some(path) = bare.strip_prefix(MARKER).and_then(|p| p.strip_suffix(':')) {
            files.push(ConfigFile {
                path: PathBuf::from(path),
                text: String::new(),
            });
        } else if let Some(file) = files.last_mut() {
            file.text.push_str(line);
        }
    }
    // nginx separates files with one empty line that is not part of the file.
    for file in &mut files {
        if file.text.ends_with("\n\n") {
            file.text.pop();
        }
    }
    files
}

impl NginxConfig {
    /// Parse nginx -T's standard output. Fails on the first syntax error with its file and
    /// line, or when the dump holds no file at all.
    pub fn parse_dump(dump: &str) -> Result<NginxConfig, ParseError> {
        let files = split_dump(dump);
        let Some(main) = files.first() else {
            return Err(ParseError {
                file: PathBuf::from("<nginx -T>"),
                line: 1,
                message: "no `# configuration file` marker: this is not nginx -T output".into(),
            });
        };
        let mut parsed = Vec::with_capacity(files.len());
        for file in &files {
            // Non-config files (mime.types is config; a stray Lua file would not be) are
            // only an error when something includes them.
            parsed.push(parse_file(&file.path, &file.text));
        }
        let prefix = main
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let root = match &parsed[0] {
            Ok(d) => expand(d.clone(), &files, &parsed, &prefix, 0, 0)?,
            Err(e) => return Err(e.clone()),
        };
        Ok(NginxConfig { files, root })
    }

    pub fn file(&self, path: &Path) -> Option<&ConfigFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Top-level `http` blocks' children, concatenated.
    pub fn http(&self) -> Vec<&Directive> {
        self.root
            .iter()
            .filter(|d| d.name == "http")
            .flat_map(|d| d.children())
            .collect()
    }

    /// The main context's directive of that name (`error_log`, `pid`, ...).
    pub fn main_directive(&self, name: &str) -> Option<&Directive> {
        self.root.iter().find(|d| d.name == name)
    }
}

/// How deep blocks may nest, counting across includes. nginx's own contexts go about six
/// deep (`http > server > location > location > if`), but nginx itself sets no limit, and every
/// walk over the tree (parsing, include expansion, `collect_locations`, even `Clone` and
/// `Drop` of [`Directive`]) recurses once per level: a few thousand nested `location`s that
/// nginx accepts overflowed the console's stack. 32 leaves room for generated configurations
/// and keeps each of those walks far inside a 2 MiB tokio worker stack.
pub const MAX_NESTING: usize = 32;

/// How deep `include`s may nest (a file that includes itself would otherwise never end).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Replace each `include` with the directives of the files it names. `nesting` is how many
/// blocks enclose `directives` (across includes), `includes` how many includes led here.
fn expand(
    directives: Vec<Directive>,
    files: &[ConfigFile],
    parsed: &[Result<Vec<Directive>, ParseError>],
    prefix: &Path,
    nesting: usize,
    includes: usize,
) -> Result<Vec<Directive>, ParseError> {
    let mut out = Vec::with_capacity(directives.len());
    for mut d in directives {
        if d.name == "include" && d.block.is_none() {
            if includes >= MAX_INCLUDE_DEPTH {
                return Err(ParseError {
                    file: d.file.clone(),
                    line: d.line,
                    message: format!("includes nested deeper than {MAX_INCLUDE_DEPTH}"),
                });
            }
            let pattern = d.arg(0).unwrap_or_default();
            let pattern = if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                prefix.join(pattern)
            };
            let pattern = pattern.to_string_lossy().into_owned();
            for (i, file) in files.iter().enumerate() {
                if glob_match(&pattern, &file.path.to_string_lossy()) {
                    let included = parsed[i].clone()?;
                    out.extend(expand(
                        included,
                        files,
                        parsed,
                        prefix,
                        nesting,
                        includes + 1,
                    )?);
                }
            }
            continue;
        }
        if let Some(block) = d.block.take() {
            if nesting >= MAX_NESTING {
                return Err(too_deep(&d.file, d.line));
            }
            d.block = Some(expand(block, files, parsed, prefix, nesting + 1, includes)?);
        }
        out.push(d);
    }
    Ok(out)
}

fn too_deep(file: &Path, line: usize) -> ParseError {
    ParseError {
        file: file.to_path_buf(),
        line,
        message: format!("nesting deeper than {MAX_NESTING}"),
    }
}

/// Shell-style glob with `*`, `?` and `[...]`, where no wildcard matches `/` (as glob(3)).
///
/// Linear in practice and never exponential: since no wildcard crosses `/`, the pattern and
/// the path are compared one `/`-separated segment at a time, and each segment with the
/// two-pointer star algorithm, which on a mismatch only moves the most recent `*` one
/// character on (earlier stars never need to be revisited). The recursive matcher it
/// replaces backtracked through every star: `include /x/*a*a*a*a*a*a*b` over a long name
/// took over a minute where nginx needs milliseconds.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) => {
                let p: Vec<char> = p.chars().collect();
                let s: Vec<char> = s.chars().collect();
                if !segment_match(&p, &s) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// One path segment against one pattern segment (neither holds `/`).
fn segment_match(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // The last `*` seen (index after it in the pattern) and where its match ends in `s`.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, si));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class_match(&p[pi..], s[si]) {
                Some((len, true)) => Some(len),
                Some((_, false)) => None,
                // No closing `]`: a literal `[`.
                None => (s[si] == '[').then_some(1),
            },
            Some(&c) => (s[si] == c).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                pi += len;
                si += 1;
            }
            // Let the last star swallow one more character and retry after it.
            (None, Some((after_star, matched_to))) => {
                pi = after_star;
                si = matched_to + 1;
                star = Some((after_star, matched_to + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `[...]` at the start of `p` against `c`: the class's length in the pattern and whether
/// it matched, or `None` when the class is never closed.
fn class_match(p: &[char], c: char) -> Option<(usize, bool)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let first = i;
    let mut hit = false;
    // A `]` right after `[` or `[!` is a member, as in glob(3).
    while i < p.len() && (p[i] != ']' || i == first) {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    (i < p.len()).then_some((i + 1, hit != negate))
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String, usize),
    Open(usize),
    Close(usize),
    Semi(usize),
}

fn tokenize(file: &Path, text: &str) -> Result<Vec<Token>, ParseError> {
    let err = |line: usize, message: &str| ParseError {
        file: file.to_path_buf(),
        line,
        message: message.to_string(),
    };
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' => {
                tokens.push(Token::Open(line));
                i += 1;
            }
            '}' => {
                tokens.push(Token::Close(line));
                i += 1;
            }
            ';' => {
                tokens.push(Token::Semi(line));
                i += 1;
            }
            '"' | '\'' => {
                let quote = c;
                let start = line;
                let mut word = String::new();
                i += 1;
                loop {
                    let Some(&ch) = chars.get(i) else {
                        return Err(err(start, "unterminated quoted string"));
                    };
                    i += 1;
                    match ch {
                        '\\' if matches!(chars.get(i), Some(&q) if q == quote || q == '\\') => {
                            word.push(chars[i]);
                            i += 1;
                        }
                        '\n' => {
                            line += 1;
                            word.push('\n');
                        }
                        ch if ch == quote => break,
                        ch => word.push(ch),
                    }
                }
                tokens.push(Token::Word(word, start));
            }
            _ => {
                let mut word = String::new();
                while i < chars.len() {
                    let ch = chars[i];
                    if ch.is_whitespace() || ch == ';' || ch == '}' {
                        break;
                    }
                    if ch == '{' {
                        // `${name}` is a variable, not a block.
                        if word.ends_with('$') {
                            while i < chars.len() && chars[i] != '}' {
                                word.push(chars[i]);
                                i += 1;
                            }
                            if i < chars.len() {
                                word.push('}');
                                i += 1;
                            }
                            continue;
                        }
                        break;
                    }
                    if ch == '\\' && i + 1 < chars.len() {
                        word.push(ch);
                        word.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    word.push(ch);
                    i += 1;
                }
                tokens.push(Token::Word(word, line));
            }
        }
    }
    Ok(tokens)
}

/// Parse one file's text into its directive tree (includes not expanded).
pub fn parse_file(file: &Path, text: &str) -> Result<Vec<Directive>, ParseError> {
    let tokens = tokenize(file, text)?;
    let mut pos = 0;
    let directives = parse_block(file, &tokens, &mut pos, None, 0)?;
    Ok(directives)
}

fn parse_block(
    file: &Path,
    tokens: &[Token],
    pos: &mut usize,
    opened_at: Option<usize>,
    nesting: usize,
) -> Result<Vec<Directive>, ParseError> {
    let err = |line: usize, message: String| ParseError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut out = Vec::new();
    let mut words: Vec<(String, usize)> = Vec::new();
    while *pos < tokens.len() {
        let token = &tokens[*pos];
        *pos += 1;
        match token {
            Token::Word(w, line) => words.push((w.clone(), *line)),
            Token::Semi(line) => {
                let Some(((name, at), args)) = words.split_first() else {
                    return Err(err(*line, "unexpected \";\"".into()));
                };
                out.push(Directive {
                    name: name.clone(),
                    args: args.iter().map(|(w, _)| w.clone()).collect(),
                    file: file.to_path_buf(),
                    line: *at,
                    end_line: None,
                    block: None,
                });
                words.clear();
            }
            Token::Open(line) => {
                let Some(((name, at), args)) = words.split_first() else {
                    return Err(err(*line, "unexpected \"{\"".into()));
                };
                let (name, at) = (name.clone(), *at);
                if nesting >= MAX_NESTING {
                    return Err(too_deep(file, at));
                }
                let args = args.iter().map(|(w, _)| w.clone()).collect();
                words.clear();
                let block = parse_block(file, tokens, pos, Some(*line), nesting + 1)?;
                let end_line = match tokens.get(*pos - 1) {
                    Some(Token::Close(l)) => Some(*l),
                    _ => None,
                };
                out.push(Directive {
                    name,
                    args,
                    file: file.to_path_buf(),
                    line: at,
                    end_line,
                    block: Some(block),
                });
            }
            Token::Close(line) => {
                if opened_at.is_none() {
                    return Err(err(*line, "unexpected \"}\"".into()));
                }
                if let Some((w, l)) = words.first() {
                    return Err(err(
                        *l,
                        format!("directive \"{w}\" is not terminated by \";\""),
                    ));
                }
                return Ok(out);
            }
        }
    }
    if let Some(line) = opened_at {
        return Err(err(
            line,
            "block opened here is never closed (unexpected end of file)".into(),
        ));
    }
    if let Some((w, l)) = words.first() {
        return Err(err(
            *l,
            format!("directive \"{w}\" is not terminated by \";\""),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ODOO: &str = include_str!("testdata/odoo-site.nginx-T.txt");
    const DEBIAN: &str = include_str!("testdata/debian-default.nginx-T.txt");

    #[test]
    fn dump_is_split_into_files_in_order() {
        let files = split_dump(ODOO);
        let paths: Vec<_> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            paths,
            ["/tmp/ngfx/nginx.conf", "/tmp/ngfx/conf.d/odoo.conf"]
        );
        assert!(files[1].text.starts_with("upstream odoo {\n"));
    }

    #[test]
    fn includes_are_expanded_with_file_and_line() {
        let c = NginxConfig::parse_dump(ODOO).unwrap();
        let http = c.http();
        let upstream = http.iter().find(|d| d.name == "upstream").unwrap();
        assert_eq!(upstream.args, ["odoo"]);
        assert_eq!(upstream.file, PathBuf::from("/tmp/ngfx/conf.d/odoo.conf"));
        assert_eq!(upstream.line, 1);
        assert_eq!(upstream.end_line, Some(3));
        assert_eq!(upstream.children()[0].args, ["127.0.0.1:8069"]);
        let servers: Vec<_> = http.iter().filter(|d| d.name == "server").collect();
        assert_eq!(servers.len(), 2);
        assert_eq!(
            c.main_directive("error_log").unwrap().args,
            ["logs/error.log", "warn"]
        );
    }

    #[test]
    fn quotes_and_variables_survive() {
        let c = NginxConfig::parse_dump(ODOO).unwrap();
        let http = c.http();
        let server = http.iter().find(|d| d.name == "server").unwrap();
        let ws = server
            .children()
            .iter()
            .find(|d| d.name == "location" && d.args == ["/websocket"])
            .unwrap();
        let conn = ws
            .children()
            .iter()
            .find(|d| d.name == "proxy_set_header" && d.arg(0) == Some("Connection"))
            .unwrap();
        assert_eq!(conn.args, ["Connection", "upgrade"]);
        let map = http.iter().find(|d| d.name == "map").unwrap();
        assert_eq!(map.children()[1].args, ["close"]);
        assert_eq!(map.children()[1].name, "");
    }

    #[test]
    fn debian_default_reads_sites_enabled() {
        let c = NginxConfig::parse_dump(DEBIAN).unwrap();
        let servers: Vec<_> = c
            .http()
            .into_iter()
            .filter(|d| d.name == "server")
            .collect();
        assert_eq!(servers.len(), 1);
        assert_eq!(
            servers[0].file,
            PathBuf::from("/etc/nginx/sites-enabled/default")
        );
        // mime.types was expanded into http { types { ... } }.
        assert!(c.http().iter().any(|d| d.name == "types"));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let dump = "# configuration file /etc/nginx/nginx.conf:\nhttp {\n  server {\n    listen 80\n  }\n}\n";
        let e = NginxConfig::parse_dump(dump).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/nginx/nginx.conf:3: directive \"listen\" is not terminated by \";\""
        );
        let e = NginxConfig::parse_dump("# configuration file /a.conf:\nhttp {\n").unwrap_err();
        assert!(e.to_string().starts_with("/a.conf:1: block opened here"));
        assert!(NginxConfig::parse_dump("nothing here").is_err());
    }

    #[test]
    fn glob_matches_like_glob3() {
        assert!(glob_match(
            "/etc/nginx/conf.d/*.conf",
            "/etc/nginx/conf.d/odoo.conf"
        ));
        assert!(!glob_match(
            "/etc/nginx/conf.d/*.conf",
            "/etc/nginx/conf.d/a/b.conf"
        ));
        assert!(glob_match(
            "/etc/nginx/sites-enabled/*",
            "/etc/nginx/sites-enabled/default"
        ));
        assert!(glob_match("/x/[ab]?.conf", "/x/b1.conf"));
        assert!(!glob_match("/x/[!ab]?.conf", "/x/b1.conf"));
    }

    #[test]
    fn glob_edge_cases_match_like_glob3() {
        assert!(glob_match("/x/*", "/x/"));
        assert!(glob_match("/x/**.conf", "/x/a.conf"));
        assert!(glob_match("/x/a*b*c", "/x/aXbYbZc"));
        assert!(!glob_match("/x/a*b*c", "/x/aXbYbZ"));
        assert!(!glob_match("/x/*", "/x"));
        assert!(!glob_match("/x/?", "/x/ab"));
        assert!(glob_match("/x/[a-c]", "/x/b"));
        assert!(!glob_match("/x/[a-c]", "/x/d"));
        assert!(glob_match("/x/[]]", "/x/]"));
        assert!(glob_match("/x/[ab", "/x/[ab"));
        assert!(!glob_match("/*/b", "/x/y/b"));
    }

    /// A dump whose main file includes `pattern`, with one included file named `name`.
    fn dump_including(pattern: &str, name: &str) -> String {
        format!(
            "# configuration file /etc/nginx/nginx.conf:\nhttp {{\n    include {pattern};\n}}\n\n\
             # configuration file /etc/nginx/conf.d/{name}:\nupstream odoo {{ server 127.0.0.1:8069; }}\n"
        )
    }

    #[test]
    fn a_glob_with_many_stars_expands_in_linear_time() {
        // nginx expands this in milliseconds; the backtracking matcher took over a minute.
        let name = format!("{}.conf", "a".repeat(60));
        let pattern = format!("/etc/nginx/conf.d/{}b", "*a".repeat(14));
        let start = std::time::Instant::now();
        assert!(!glob_match(&pattern, &format!("/etc/nginx/conf.d/{name}")));
        let c = NginxConfig::parse_dump(&dump_including(&pattern, &name)).unwrap();
        assert!(c.http().is_empty(), "nothing matched, nothing included");
        let matching = format!("/etc/nginx/conf.d/{}.conf", "*a".repeat(14));
        let c = NginxConfig::parse_dump(&dump_including(&matching, &name)).unwrap();
        assert_eq!(c.http()[0].name, "upstream");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "took {:?}",
            start.elapsed()
        );
    }

    /// `depth` nested `location /a {` blocks inside `http { server {`, one per line.
    fn nested_locations(depth: usize) -> String {
        let mut dump =
            String::from("# configuration file /etc/nginx/nginx.conf:\nhttp {\nserver {\n");
        for _ in 0..depth {
            dump.push_str("location /a {\n");
        }
        dump.push_str("proxy_pass http://127.0.0.1:8069;\n");
        for _ in 0..depth + 2 {
            dump.push_str("}\n");
        }
        dump
    }

    #[test]
    fn nesting_nginx_accepts_is_refused_with_a_located_error_not_a_stack_overflow() {
        // nginx 1.22 accepts 10 000 nested locations (`nginx -t` passes).
        let e = NginxConfig::parse_dump(&nested_locations(10_000)).unwrap_err();
        // Line 1 is `http {`: the block that would be level 33 opens on line 33.
        assert_eq!(
            e.to_string(),
            format!(
                "/etc/nginx/nginx.conf:{}: nesting deeper than {MAX_NESTING}",
                MAX_NESTING + 1
            )
        );
        // As deep as allowed still parses, and the site is found down there.
        let c = NginxConfig::parse_dump(&nested_locations(MAX_NESTING - 2)).unwrap();
        let sites = crate::nginx::site::odoo_sites(&c);
        assert_eq!(sites[0].locations.len(), MAX_NESTING - 2);
    }

    #[test]
    fn nesting_is_counted_across_includes() {
        let half = MAX_NESTING / 2 + 1;
        let mut dump = String::from("# configuration file /n.conf:\n");
        dump += &"a {\n".repeat(half);
        dump += "include /inner.conf;\n";
        dump += &"}\n".repeat(half);
        dump += "\n# configuration file /inner.conf:\n";
        dump += &"b {\n".repeat(half);
        dump += &"}\n".repeat(half);
        let e = NginxConfig::parse_dump(&dump).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "/inner.conf:{}: nesting deeper than {MAX_NESTING}",
                MAX_NESTING - half + 1
            )
        );
    }

    #[test]
    fn an_include_of_itself_ends_with_a_located_error() {
        let dump = "# configuration file /n.conf:\ninclude /n.conf;\n";
        let e = NginxConfig::parse_dump(dump).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("/n.conf:1: includes nested deeper than {MAX_INCLUDE_DEPTH}")
        );
    }
}
