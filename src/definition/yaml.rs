//! The one place svc calls a YAML library.
//!
//! serde_yaml's upstream is archived; everything else in svc works on [`Node`], so moving to a
//! maintained fork means changing the `use` line below and nothing else.

use serde_yaml as yaml_impl;

/// A parsed YAML value, independent of the library that parsed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; non-string keys are rejected while converting.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A short description of the value's type, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax or structure error, with the position YAML gives.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Parses one YAML document. Several documents, tags and non-string mapping keys are errors.
/// A syntax error's words are the plain ones of [`super::yaml_hint::explain`].
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let value: yaml_impl::Value = yaml_impl::from_str(text).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        // serde_yaml appends " at line L column C"; the position is reported separately.
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        let mut index = loc.map(|l| l.index());
        // The reader's errors (control characters, invalid UTF-8) carry no location of their
        // own (serde_yaml says index 0) but end in " at position N", N the byte offset.
        if let Some(i) = message.rfind(" at position ") {
            if let Ok(n) = message[i + " at position ".len()..].parse::<usize>() {
                index = Some(n);
                message.truncate(i);
            }
        }
        let (line, column) = index.map(|i| position(text, i)).unzip();
        YamlError {
            line,
            column,
            message: super::yaml_hint::explain(&message, text, line, column),
        }
    })?;
    convert(value)
}

/// 1-based line and column (in characters) of byte `index`, counting `\n` line ends only, as
/// editors, `grep -n` and `wc -l` do: YAML also breaks lines at a lone CR, NEL and U+2028/9,
/// so its own line numbers can point past the end of the file.
fn position(text: &str, index: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..index.min(text.len())];
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Characters, not bytes: count the bytes that start a UTF-8 sequence.
    let column = 1 + before[start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    (line, column)
}

fn convert(v: yaml_impl::Value) -> Result<Node, YamlError> {
    use yaml_impl::Value as V;
    let plain = |message: String| YamlError {
        line: None,
        column: None,
        message,
    };
    Ok(match v {
        V::Null => Node::Null,
        V::Bool(b) => Node::Bool(b),
        V::Number(n) => {
            if let Some(i) = n.as_i64() {
                Node::Int(i as i128)
            } else if let Some(u) = n.as_u64() {
                Node::Int(u as i128)
            } else {
                Node::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        V::String(s) => Node::Str(s),
        V::Sequence(items) => Node::Seq(items.into_iter().map(convert).collect::<Result<_, _>>()?),
        V::Mapping(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key = match k {
                    V::String(s) => s,
                    other => {
                        return Err(plain(format!(
                            "mapping keys must be strings, found {}",
                            convert(other).map(|n| n.kind()).unwrap_or("a tagged value")
                        )))
                    }
                };
                out.push((key, convert(v)?));
            }
            Node::Map(out)
        }
        V::Tagged(t) => {
            return Err(plain(format!(
                "YAML tags are not supported (found {})",
                t.tag
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_mapping_in_order() {
        let n = parse("b: 1\na: [x, 2]\n").unwrap();
        assert_eq!(
            n,
            Node::Map(vec![
                ("b".into(), Node::Int(1)),
                (
                    "a".into(),
                    Node::Seq(vec![Node::Str("x".into()), Node::Int(2)])
                )
            ])
        );
    }

    #[test]
    fn syntax_error_has_a_position() {
        let e = parse("exec: /bin/true\nargs: [a, b\n").unwrap_err();
        assert!(e.line.is_some(), "{e:?}");
    }

    /// A tab is blamed only when the parser stopped at one: a tab inside a flow list is legal
    /// YAML, so an error later on such a line is about something else.
    #[test]
    fn a_tab_is_named_only_where_the_parser_stopped_at_one() {
        let e = parse("exec: x\nenv:\n\tA: b\n").unwrap_err();
        assert!(e.message.starts_with("tab character"), "{e:?}");
        let e = parse("exec: x\nenv:\n  A: b\n\t B: c\n").unwrap_err();
        assert!(e.message.starts_with("tab character"), "{e:?}");
        assert!(parse("args: [a,\n\tb]\n").is_ok());
        for (text, want) in [
            ("exec: x\nargs: [a,\n\tb,\n\t@c]\n", "`@` cannot start"),
            ("exec: x\nargs: [a,\n\tb: c: d]\n", "expected `,`"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(!e.message.contains("tab"), "{text:?}: {e:?}");
            assert!(e.message.contains(want), "{text:?}: {e:?}");
        }
    }

    /// Regression (found by the `definition` fuzz target): YAML also breaks lines at a lone
    /// CR, NEL (U+0085) and U+2028/U+2029, so its own line numbers ran past the end of the
    /// file as an editor, grep -n or wc -l count it. Positions count `\n` line ends only.
    #[test]
    fn positions_count_newlines_only() {
        let e = parse("# notes\r\r\rx: y: z\nexec: /bin/true\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(1), Some(15)), "{e:?}");
        let e = parse("a: b\r\nc: d: e\r\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(5)), "{e:?}");
        let e = parse("a: \u{e9}\u{2028}c: d: e\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e:?}");
    }

    /// Found by the definition fuzz target: a control character's error came with the
    /// position of the start of the file, where a leading tab then took the blame.
    #[test]
    fn a_control_character_is_placed_where_it_is() {
        let e = parse("\u{feff}\t\0\0").unwrap_err();
        assert_eq!((e.line, e.column), (Some(1), Some(3)), "{e:?}");
        assert!(!e.message.contains("tab"), "{e:?}");
        let e = parse("a: b\nc: \u{1}\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(4)), "{e:?}");
    }

    #[test]
    fn duplicate_keys_and_several_documents_are_errors() {
        assert!(parse("a: 1\na: 2\n").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn empty_text_is_null() {
        assert_eq!(parse("").unwrap(), Node::Null);
        assert_eq!(parse("# only a comment\n").unwrap(), Node::Null);
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse(&s).is_err());
    }
}
