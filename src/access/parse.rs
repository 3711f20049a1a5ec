//! One rule file's text into entries: logical lines, fields, lists, options, and every problem
//! with its line.

use super::expand;
use super::pattern::{self, Daemon, Host, List};
use super::{Kind, Problem};

/// The longest logical line (after joining continuations), as in tcp_wrappers' 2048-byte buffer.
pub const MAX_LINE: usize = 2047;

/// What a matching rule does beyond the file's own meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Options {
    /// `spawn` commands (unexpanded), and a final `allow`/`deny`.
    Ok {
        spawn: Vec<String>,
        verdict: Option<bool>,
    },
    /// An unknown option, or `allow`/`deny` not last: a matching client is denied.
    Bad,
}

/// One logical line that is not blank or a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Rule {
        line: usize,
        daemons: List<Daemon>,
        clients: List<Host>,
        options: Options,
    },
    /// Never matches in hosts.allow; in hosts.deny denies every client of the daemons it names
    /// (`None`: its daemon list is unreadable, so every daemon).
    Malformed {
        line: usize,
        daemons: Option<List<Daemon>>,
    },
}

/// Splits text into logical lines: (first physical line number, text). A UTF-8 BOM is dropped,
/// CRLF accepted, `\` at a line's end joins the next line (as tcp_wrappers, without a space).
fn logical_lines(text: &str) -> Vec<(usize, usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut start = 0;
    let mut count = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let l = raw.strip_suffix('\r').unwrap_or(raw);
        if count == 0 {
            start = i + 1;
        }
        count += 1;
        if let Some(head) = l.strip_suffix('\\') {
            buf.push_str(head);
            continue;
        }
        buf.push_str(l);
        out.push((start, count, std::mem::take(&mut buf)));
        count = 0;
    }
    if count > 0 && !buf.is_empty() {
        out.push((start, count, buf));
    }
    out
}

fn is_sep(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// The list tokens of a field.
fn tokens(field: &str) -> impl Iterator<Item = &str> {
    field.split(is_sep).filter(|t| !t.is_empty())
}

/// Splits a list field into EXCEPT-separated segments of parsed items.
fn list<T>(
    field: &str,
    mut parse: impl FnMut(&str) -> Result<T, String>,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
    what: &str,
) -> List<T> {
    let mut segs: Vec<Vec<T>> = vec![Vec::new()];
    let mut seen = false;
    for t in tokens(field) {
        seen = true;
        if t.eq_ignore_ascii_case("EXCEPT") {
            segs.push(Vec::new());
            continue;
        }
        match parse(t) {
            Ok(v) => segs.last_mut().expect("one segment").push(v),
            Err(e) => errors.push(e),
        }
    }
    if !seen {
        errors.push(format!("empty {what} list"));
    } else if segs.len() > 1 && segs.last().is_some_and(|s| s.is_empty()) {
        warnings.push(format!(
            "`EXCEPT` at the end of the {what} list excludes nothing"
        ));
    }
    List(segs)
}

/// The end of the client field: the first `:` outside brackets that is not part of a bare
/// IPv6 address (which tcp_wrappers would split; svc keeps it whole to warn about it).
fn client_end(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b':' if depth <= 0 => {
                // Past the separator, whose UTF-8 length may exceed one byte (U+0085 NEL and
                // other Unicode blanks count as blanks).
                let start = rest[..i]
                    .char_indices()
                    .rfind(|&(_, c)| is_sep(c))
                    .map_or(0, |(p, c)| p + c.len_utf8());
                let end = rest[i..].find(is_sep).map_or(rest.len(), |p| i + p);
                let run = &rest[start..end];
                let addr = run.split_once('/').map_or(run, |(a, _)| a);
                if addr.parse::<std::net::Ipv6Addr>().is_ok() {
                    i = end;
                    continue;
                }
                return Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first `:` outside brackets.
fn first_colon(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth <= 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// Splits the option part on `:` not escaped by a backslash; `\:` becomes `:`.
fn option_fields(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&':') => {
                out.last_mut().expect("one field").push(':');
                chars.next();
            }
            ':' => out.push(String::new()),
            c => out.last_mut().expect("one field").push(c),
        }
    }
    out
}

fn options(s: &str, errors: &mut Vec<String>, warnings: &mut Vec<String>) -> Options {
    let fields = option_fields(s);
    let n = fields.len();
    let mut spawn = Vec::new();
    let mut verdict = None;
    let before = errors.len();
    for (i, f) in fields.iter().enumerate() {
        let f = f.trim();
        if f.is_empty() {
            errors.push("empty option (a stray `:`)".to_string());
            continue;
        }
        let keylen = f
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(f.len());
        let key = f[..keylen].to_ascii_lowercase();
        let mut value = f[keylen..].trim_start();
        if let Some(v) = value.strip_prefix('=') {
            value = v.trim_start();
        }
        match key.as_str() {
            "allow" | "deny" => {
                if !value.is_empty() {
                    errors.push(format!("option `{key}` takes no value"));
                } else if i + 1 != n {
                    errors.push(format!("option `{key}` must be the last option"));
                } else {
                    verdict = Some(key == "allow");
                }
            }
            "spawn" => {
                if value.is_empty() {
                    errors.push("option `spawn` needs a command".to_string());
                    continue;
                }
                let mut chars = value.chars();
                while let Some(c) = chars.next() {
                    if c == '%' {
                        match chars.next() {
                            Some(x) if expand::KNOWN.contains(x) => {}
                            Some(x) => warnings.push(format!(
                                "`spawn`: unknown expansion `%{x}` expands to nothing"
                            )),
                            None => warnings.push(
                                "`spawn`: a `%` at the end expands to nothing (write `%%`)"
                                    .to_string(),
                            ),
                        }
                    }
                }
                spawn.push(value.to_string());
            }
            "twist" | "severity" | "aclexec" | "keepalive" | "linger" | "rfc931" | "banners"
            | "nice" | "setenv" | "umask" | "user" => errors.push(format!(
                "option `{key}` is not supported by svc (only allow, deny and spawn)"
            )),
            _ => errors.push(format!("unknown option `{key}`")),
        }
    }
    if errors.len() > before {
        Options::Bad
    } else {
        Options::Ok { spawn, verdict }
    }
}

/// Parses a rule file's text. Never fails: problems are returned beside the entries, and a
/// bad line never makes the rest of the file ignored.
pub(crate) fn parse(kind: Kind, label: &str, text: &str) -> (Vec<Entry>, Vec<Problem>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let problem = |line: usize, message: String, is_warning: bool| Problem {
        file: label.to_string(),
        line,
        message,
        is_warning,
    };
    for (line, count, text) in logical_lines(text) {
        if text.starts_with('#') {
            if count > 1 {
                problems.push(problem(
                    line,
                    format!(
                        "this comment ends with `\\`, so the next {} line(s) are part of the comment too",
                        count - 1
                    ),
                    true,
                ));
            }
            continue;
        }
        if text.trim().is_empty() {
            continue;
        }
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut daemon_list = None;
        let mut malformed = false;
        let mut opts = Options::Ok {
            spawn: Vec::new(),
            verdict: None,
        };
        let mut clients = List(Vec::new());
        if text.len() > MAX_LINE {
            errors.push(format!(
                "line too long ({} bytes; at most {MAX_LINE})",
                text.len()
            ));
            malformed = true;
        }
        if text.contains(['\0', '\u{fffd}']) {
            errors.push("the line holds a NUL byte or invalid UTF-8".to_string());
            malformed = true;
        }
        match first_colon(&text) {
            None => {
                errors.push("missing `:` separator".to_string());
                malformed = true;
            }
            Some(c) => {
                let (dfield, rest) = (&text[..c], &text[c + 1..]);
                let before = errors.len();
                let d = list(
                    dfield,
                    pattern::parse_daemon,
                    &mut errors,
                    &mut warnings,
                    "daemon",
                );
                if errors.len() == before {
                    daemon_list = Some(d);
                } else {
                    malformed = true;
                }
                let (cfield, ofield) = match client_end(rest) {
                    Some(e) => (&rest[..e], Some(&rest[e + 1..])),
                    None => (rest, None),
                };
                let before = errors.len();
                let mut host_warnings = Vec::new();
                clients = list(
                    cfield,
                    |t| {
                        pattern::parse_host(t).map(|(h, w)| {
                            host_warnings.extend(w);
                            h
                        })
                    },
                    &mut errors,
                    &mut warnings,
                    "client",
                );
                warnings.extend(host_warnings);
                if errors.len() != before {
                    malformed = true;
                }
                if let Some(pos) = text[..c + 1 + cfield.len()].find('#') {
                    let tail: String = text[pos..c + 1 + cfield.len()].trim().to_string();
                    warnings.push(format!(
                        "`#` starts a comment only at the start of a line: `{tail}` is read as patterns"
                    ));
                }
                if let Some(o) = ofield {
                    opts = options(o, &mut errors, &mut warnings);
                }
            }
        }
        let consequence = if malformed {
            match (kind, &daemon_list) {
                (Kind::Allow, _) => "this line never matches".to_string(),
                (Kind::Deny, Some(_)) => {
                    "every client of the daemons this line names is denied".to_string()
                }
                (Kind::Deny, None) => "every client of every service is denied".to_string(),
            }
        } else {
            "a client matching this rule is denied".to_string()
        };
        for e in errors {
            problems.push(problem(line, format!("{e}; {consequence}"), false));
        }
        for w in warnings {
            problems.push(problem(line, w, true));
        }
        entries.push(if malformed {
            Entry::Malformed {
                line,
                daemons: daemon_list,
            }
        } else {
            Entry::Rule {
                line,
                daemons: daemon_list.expect("parsed"),
                clients,
                options: opts,
            }
        });
    }
    (entries, problems)
}
