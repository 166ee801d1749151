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
            Ok(d) => expand(d.clone(), &files, &parsed, &prefix, 0)?,
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

fn expand(
    directives: Vec<Directive>,
    files: &[ConfigFile],
    parsed: &[Result<Vec<Directive>, ParseError>],
    prefix: &Path,
    depth: usize,
) -> Result<Vec<Directive>, ParseError> {
    let mut out = Vec::with_capacity(directives.len());
    for mut d in directives {
        if d.name == "include" && d.block.is_none() && depth < 16 {
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
                    out.extend(expand(included, files, parsed, prefix, depth + 1)?);
                }
            }
            continue;
        }
        if let Some(block) = d.block.take() {
            d.block = Some(expand(block, files, parsed, prefix, depth)?);
        }
        out.push(d);
    }
    Ok(out)
}

/// Shell-style glob with `*`, `?` and `[...]`, where `*` does not cross `/` (as glob(3)).
pub fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != '/')
                .any(|i| go(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && s[0] != '/' && go(&p[1..], &s[1..]),
            Some('[') => {
                let Some(close) = p.iter().position(|&c| c == ']') else {
                    return !s.is_empty() && s[0] == '[' && go(&p[1..], &s[1..]);
                };
                let Some(&c) = s.first() else { return false };
                let set = &p[1..close];
                let (negate, set) = match set.first() {
                    Some('!') | Some('^') => (true, &set[1..]),
                    _ => (false, set),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &s[1..])
            }
            Some(&c) => s.first() == Some(&c) && go(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    go(&p, &s)
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
    let directives = parse_block(file, &tokens, &mut pos, None)?;
    Ok(directives)
}

fn parse_block(
    file: &Path,
    tokens: &[Token],
    pos: &mut usize,
    opened_at: Option<usize>,
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
                let args = args.iter().map(|(w, _)| w.clone()).collect();
                words.clear();
                let block = parse_block(file, tokens, pos, Some(*line))?;
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
}
