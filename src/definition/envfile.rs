//! Environment files (`env_file:`, svc.yaml(5) and docs/services.md, "Environment files") and the
//! expansion of variables in arguments ("Expansion in arguments").
//!
//! Pure: [`parse`] turns the text of a file into `KEY=VALUE` pairs or the first bad line,
//! [`expand`] rewrites an argument vector with a complete environment, and [`references`] lists
//! the names an argument would expand (for `svc check`). Reading the files at start — without
//! blocking, trusted as root — is the lifecycle's ([`crate::lifecycle`]).

use std::ffi::{OsStr, OsString};
use std::fmt;

/// What is wrong with one line of an environment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not blank, not a comment, and no `=`.
    NoEquals,
    /// The text before `=` is not a variable name.
    BadKey(String),
    /// A quote opened and never closed on the line.
    Unterminated(char),
    /// Something after the closing quote.
    AfterQuote(char),
    /// The line is not valid UTF-8.
    NotUtf8,
    /// A NUL byte in the line.
    Nul,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NoEquals => f.write_str("expected KEY=VALUE (no `=` on the line)"),
            LineError::BadKey(k) => write!(
                f,
                "{k:?} is not a variable name: expected letters, digits and `_`, not starting with a digit"
            ),
            LineError::Unterminated(q) => write!(f, "unterminated {q}quoted{q} value"),
            LineError::AfterQuote(q) => {
                write!(f, "text after the closing {q}: expected the end of the line")
            }
            LineError::NotUtf8 => f.write_str("not valid UTF-8"),
            LineError::Nul => f.write_str("contains a NUL byte"),
        }
    }
}

/// The first bad line of a file: its number (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub error: LineError,
}

/// Whether `s` is a variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c == b'_' || c.is_ascii_alphabetic())
        && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parses the bytes of an environment file into its pairs, in file order (a later pair of the
/// same KEY wins when they are applied). Blank lines and lines whose first non-blank character
/// is `#` are ignored; a `\r` ending a line (a DOS file) is dropped.
pub fn parse(bytes: &[u8]) -> Result<Vec<(String, String)>, BadLine> {
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let bad = |error| BadLine { line: i + 1, error };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|_| bad(LineError::NotUtf8))?;
        if line.contains('\0') {
            return Err(bad(LineError::Nul));
        }
        if let Some(pair) = parse_line(line).map_err(bad)? {
            out.push(pair);
        }
    }
    Ok(out)
}

/// One line: `None` for a blank line or a comment.
fn parse_line(line: &str) -> Result<Option<(String, String)>, LineError> {
    let line = line.trim_start_matches(is_blank);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with(is_blank) => rest.trim_start_matches(is_blank),
        _ => line,
    };
    let (key, value) = line.split_once('=').ok_or(LineError::NoEquals)?;
    if !is_name(key) {
        return Err(LineError::BadKey(key.to_string()));
    }
    Ok(Some((key.to_string(), value_of(value)?)))
}

/// The VALUE after `=`: bare (surrounding blanks trimmed), single-quoted (literal) or
/// double-quoted (`\"`, `\\`, `\$`, `\n` are escapes; any other backslash is kept, as in sh).
fn value_of(text: &str) -> Result<String, LineError> {
    let text = text.trim_matches(is_blank);
    let mut chars = text.chars();
    let quote = match chars.next() {
        Some(q @ ('\'' | '"')) => q,
        _ => return Ok(text.to_string()),
    };
    let mut value = String::new();
    loop {
        match chars.next() {
            None => return Err(LineError::Unterminated(quote)),
            Some(c) if c == quote => break,
            Some('\\') if quote == '"' => match chars.next() {
                Some(e @ ('"' | '\\' | '$')) => value.push(e),
                Some('n') => value.push('\n'),
                Some(other) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return Err(LineError::Unterminated(quote)),
            },
            Some(c) => value.push(c),
        }
    }
    if !chars.as_str().is_empty() {
        return Err(LineError::AfterQuote(quote));
    }
    Ok(value)
}

/// Where a `$` reference sits in an argument.
enum Piece<'a> {
    Text(&'a str),
    /// `${NAME}` (the whole reference written, and NAME).
    Braced(&'a str, &'a str),
}

/// The argument cut into literal text and `${NAME}` references.
fn pieces(arg: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = arg;
    let mut literal_start = 0;
    let mut at = 0;
    while let Some(pos) = rest.find("${") {
        let after = &rest[pos + 2..];
        if let Some(end) = after.find('}') {
            let name = &after[..end];
            if is_name(name) {
                let start = at + pos;
                let stop = start + 2 + end + 1;
                if literal_start < start {
                    out.push(Piece::Text(&arg[literal_start..start]));
                }
                out.push(Piece::Braced(&arg[start..stop], name));
                literal_start = stop;
                at = stop;
                rest = &arg[stop..];
                continue;
            }
        }
        at += pos + 2;
        rest = &arg[at..];
    }
    if literal_start < arg.len() {
        out.push(Piece::Text(&arg[literal_start..]));
    }
    out
}

/// The NAME of an argument that is exactly `$NAME`.
fn whole_name(arg: &str) -> Option<&str> {
    arg.strip_prefix('$').filter(|n| is_name(n))
}

/// The names an argument would expand: those of its `${NAME}` references, or NAME when it is
/// exactly `$NAME` (what `svc check` looks for in the environment).
pub fn references(arg: &str) -> Vec<&str> {
    if let Some(n) = whole_name(arg) {
        return vec![n];
    }
    pieces(arg)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Braced(_, n) => Some(n),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Expands `args` with the service's complete environment `env` (the last pair of a name
/// wins): `${NAME}` anywhere is replaced by NAME's value; an argument that is exactly `$NAME`
/// becomes NAME's value split at spaces and tabs (none for an empty value). A name `env` does
/// not define, and every other `$` form, is left exactly as written; values are not expanded
/// again. Never applied to `exec` itself.
pub fn expand(args: &[String], env: &[(OsString, OsString)]) -> Vec<OsString> {
    let lookup = |name: &str| -> Option<&OsStr> {
        env.iter()
            .rev()
            .find(|(k, _)| k.as_os_str() == name)
            .map(|(_, v)| v.as_os_str())
    };
    let mut out = Vec::new();
    for arg in args {
        if let Some(value) = whole_name(arg).and_then(lookup) {
            use std::os::unix::ffi::OsStrExt;
            out.extend(
                value
                    .as_bytes()
                    .split(|&b| b == b' ' || b == b'\t')
                    .filter(|w| !w.is_empty())
                    .map(|w| OsStr::from_bytes(w).to_owned()),
            );
            continue;
        }
        let mut expanded = OsString::new();
        for piece in pieces(arg) {
            match piece {
                Piece::Text(t) => expanded.push(t),
                Piece::Braced(written, name) => {
                    expanded.push(lookup(name).unwrap_or(written.as_ref()))
                }
            }
        }
        out.push(expanded);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes()).unwrap()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    fn bad(text: &str) -> BadLine {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn blank_lines_and_comments_are_ignored() {
        assert_eq!(
            ok("\n   \n\t\n# a comment\n  # indented\nA=1\n"),
            [pair("A", "1")]
        );
        assert_eq!(ok(""), []);
    }

    #[test]
    fn bare_values_are_trimmed_and_kept_as_written() {
        assert_eq!(ok("A=  two words \t"), [pair("A", "two words")]);
        assert_eq!(ok("A="), [pair("A", "")]);
        assert_eq!(ok("A=x=y#z\\n$B"), [pair("A", "x=y#z\\n$B")]);
        assert_eq!(ok("A=it's"), [pair("A", "it's")]);
    }

    #[test]
    fn the_export_prefix_is_allowed() {
        assert_eq!(
            ok("export A=1\n  export\tB=2"),
            [pair("A", "1"), pair("B", "2")]
        );
        // A variable named `export` or starting with it is still a variable.
        assert_eq!(
            ok("export=1\nexported=2"),
            [pair("export", "1"), pair("exported", "2")]
        );
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(ok(r#"A='a "b" \n $C'"#), [pair("A", r#"a "b" \n $C"#)]);
        assert_eq!(ok("A=  ''  "), [pair("A", "")]);
    }

    #[test]
    fn double_quotes_know_four_escapes() {
        assert_eq!(
            ok(r#"A="q\" b\\ d\$ n\n x\y""#),
            [pair("A", "q\" b\\ d$ n\n x\\y")]
        );
        assert_eq!(ok(r#"A=" spaced ""#), [pair("A", " spaced ")]);
    }

    #[test]
    fn a_later_line_comes_later_and_dos_endings_are_dropped() {
        assert_eq!(ok("A=1\r\nA=2\r\n"), [pair("A", "1"), pair("A", "2")]);
    }

    #[test]
    fn keys_must_be_names() {
        assert_eq!(ok("_a1=x"), [pair("_a1", "x")]);
        for (text, key) in [
            ("1A=x", "1A"),
            ("A B=x", "A B"),
            ("A =x", "A "),
            ("=x", ""),
            ("A-B=x", "A-B"),
        ] {
            assert_eq!(
                bad(text),
                BadLine {
                    line: 1,
                    error: LineError::BadKey(key.into())
                },
                "{text}"
            );
        }
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        assert_eq!(
            bad("A=1\n\n# c\nnothing here\n"),
            BadLine {
                line: 4,
                error: LineError::NoEquals
            }
        );
        assert_eq!(
            bad("A='open"),
            BadLine {
                line: 1,
                error: LineError::Unterminated('\'')
            }
        );
        assert_eq!(
            bad("A=\"open\\\""),
            BadLine {
                line: 1,
                error: LineError::Unterminated('"')
            }
        );
        assert_eq!(
            bad("A=\"open\nB=1\""),
            BadLine {
                line: 1,
                error: LineError::Unterminated('"')
            }
        );
        assert_eq!(
            bad("A='x' y"),
            BadLine {
                line: 1,
                error: LineError::AfterQuote('\'')
            }
        );
        assert_eq!(
            parse(b"A=1\nB=\xff").unwrap_err(),
            BadLine {
                line: 2,
                error: LineError::NotUtf8
            }
        );
        assert_eq!(
            bad("B=a\0b"),
            BadLine {
                line: 1,
                error: LineError::Nul
            }
        );
        assert_eq!(
            LineError::Unterminated('"').to_string(),
            "unterminated \"quoted\" value"
        );
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    fn exp(args: &[&str], pairs: &[(&str, &str)]) -> Vec<String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        expand(&args, &env(pairs))
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn braced_names_are_replaced_anywhere() {
        let e = [("PORT", "8080"), ("H", "a b")];
        assert_eq!(
            exp(&["--port=${PORT}", "${H}", "${PORT}${PORT}x"], &e),
            ["--port=8080", "a b", "80808080x"]
        );
        assert_eq!(exp(&["${E}"], &[("E", "")]), [""]);
        // The last pair of a name wins; values are not expanded again.
        assert_eq!(
            exp(&["${A}"], &[("A", "1"), ("A", "${B}"), ("B", "2")]),
            ["${B}"]
        );
    }

    #[test]
    fn a_whole_dollar_name_is_split_at_blanks() {
        let e = [("OPTS", " -a\t-b  --c=d "), ("EMPTY", ""), ("ONE", "x")];
        assert_eq!(
            exp(&["pre", "$OPTS", "post"], &e),
            ["pre", "-a", "-b", "--c=d", "post"]
        );
        assert_eq!(exp(&["$EMPTY"], &e), Vec::<String>::new());
        assert_eq!(exp(&["$ONE"], &e), ["x"]);
        // Only a whole argument is split.
        assert_eq!(exp(&["x$ONE", "$ONE/"], &e), ["x$ONE", "$ONE/"]);
    }

    #[test]
    fn every_other_dollar_form_is_left_as_written() {
        let e = [("A", "1")];
        let kept = [
            "$$", "$!", "$1", "$(id)", "$UNDEF", "${UNDEF}", "${A:-x}", "${1}", "${", "${A", "$",
            "echo $A", "$A$A", "${}",
        ];
        assert_eq!(exp(&kept, &e), kept);
        assert_eq!(exp(&["${A}${", "${${A}}"], &e), ["1${", "${1}"]);
    }

    #[test]
    fn references_are_what_would_expand() {
        assert_eq!(references("$OPTS"), ["OPTS"]);
        assert_eq!(references("a${B}c${D}${1}$E"), ["B", "D"]);
        assert_eq!(references("$$"), Vec::<&str>::new());
        assert_eq!(references("x$A"), Vec::<&str>::new());
    }

    /// The example file of docs/services.md parses as it says.
    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("../../docs/services.md");
        let start = doc.find("# /etc/default/web").expect("the example");
        let block = &doc[start..start + doc[start..].find("```").unwrap()];
        assert_eq!(
            ok(block),
            [
                pair("PORT", "8080"),
                pair("DAEMON_OPTS", "--bind 127.0.0.1 --directory /srv/www"),
                pair("GREETING", "taken \"literally\" \\n $HOME"),
                pair("MOTD", "say \"hi\"\nbye"),
                pair("NAME", "spaced out"),
            ]
        );
    }

    #[test]
    fn names() {
        assert!(is_name("A") && is_name("_") && is_name("a_9"));
        assert!(!is_name("") && !is_name("9a") && !is_name("a-b") && !is_name("ä"));
    }
}
