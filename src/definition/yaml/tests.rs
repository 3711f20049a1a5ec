use super::*;

#[test]
fn parses_a_mapping_in_order() {
    let n = parse("b: 1\na: [x, 2]\n").unwrap();
    let Node::Map(m) = n else { panic!("{n:?}") };
    let pairs: Vec<(&str, &Node)> = m.iter().map(|e| (e.key.as_str(), &e.value)).collect();
    assert_eq!(
        pairs,
        vec![
            ("b", &Node::Int(1)),
            ("a", &Node::Seq(vec![Node::Str("x".into()), Node::Int(2)]))
        ]
    );
}

/// Positions come from the parser: every key and value, counted from 1.
#[test]
fn keys_and_values_have_positions() {
    let n = parse("# c\nexec: /bin/true\nenv:\n  A: b\nready: {tcp: \"x:1\"}\n").unwrap();
    let at = |e: &Entry| {
        (
            e.key_at.line,
            e.key_at.column,
            e.value_at.line,
            e.value_at.column,
        )
    };
    assert_eq!(n.entry("exec").map(at), Some((2, 1, 2, 7)));
    let env = n.entry("env").unwrap();
    assert_eq!(env.value.entry("A").map(at), Some((4, 3, 4, 6)));
    let ready = n.entry("ready").unwrap();
    assert_eq!(ready.value.entry("tcp").map(at), Some((5, 9, 5, 14)));
    assert_eq!(ready.spelling, Spelling::Collection);
}

/// The entry of `k: {v}`.
fn scalar(v: &str) -> Entry {
    parse(&format!("k: {v}\n"))
        .unwrap()
        .entry("k")
        .unwrap()
        .clone()
}

/// The YAML 1.1 traps stay strings or errors; only YAML 1.2 spellings are numbers, booleans
/// and null (the rules svc had with serde_yaml 0.9).
#[test]
fn scalar_rules() {
    let value = |v: &str| scalar(v).value;
    for s in [
        "yes", "no", "on", "off", "y", "n", "0755", "022", "00", "-00", "1_000", "0x", "nan",
        "inf", "0X10", "+-1", "1.2.3",
    ] {
        assert_eq!(value(s), Node::Str(s.into()), "{s}");
    }
    for (s, i) in [
        ("0", 0),
        ("-0", 0),
        ("+12", 12),
        ("0x10", 16),
        ("-0x10", -16),
        ("0o17", 15),
        ("0b101", 5),
        ("-7", -7),
    ] {
        assert_eq!(value(s), Node::Int(i), "{s}");
    }
    for (s, f) in [
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-.inf", f64::NEG_INFINITY),
        (".Inf", f64::INFINITY),
        ("0.0", 0.0),
    ] {
        assert_eq!(value(s), Node::Float(f), "{s}");
    }
    assert!(matches!(value(".nan"), Node::Float(f) if f.is_nan()));
    for s in ["", "~", "null", "Null", "NULL"] {
        assert_eq!(value(s), Node::Null, "{s:?}");
    }
    for (s, b) in [("true", true), ("True", true), ("FALSE", false)] {
        assert_eq!(value(s), Node::Bool(b), "{s}");
    }
    for s in ["\"true\"", "'5'", "\"~\"", "!!str 5", "|\n  x"] {
        assert!(matches!(value(s), Node::Str(_)), "{s}");
    }
    let spelled = |v: &str| scalar(v).spelling;
    assert_eq!(spelled("0x10"), Spelling::Plain("0x10".into()));
    assert_eq!(spelled("'022'"), Spelling::Quoted);
    assert_eq!(spelled("|\n  x"), Spelling::Block);
}

#[test]
fn tags_and_non_string_keys_are_refused() {
    let e = parse("k: !foo x\n").unwrap_err();
    assert_eq!(e.message, "YAML tags are not supported (found !foo)");
    assert_eq!(e.line, Some(1));
    assert!(parse("k: !!str x\nl: !!map {a: b}\nm: !!seq [a]\n").is_ok());
    // A type tag is refused, not obeyed and not ignored.
    for (text, tag) in [
        ("k: !!bool \"true\"\n", "!!bool"),
        ("k: !!float 5\n", "!!float"),
        ("k: !!null x\n", "!!null"),
        ("k: !!int \"5\"\n", "!!int"),
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(
            e.message,
            format!("YAML tags are not supported (found {tag})"),
            "{text}"
        );
    }
    for (text, kind) in [
        ("1: a\n", "an integer"),
        ("~: a\n", "null"),
        ("[a]: b\n", "a list"),
        ("true: x\n", "a boolean"),
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(
            e.message,
            format!("mapping keys must be strings, found {kind}"),
            "{text}"
        );
    }
}

#[test]
fn deep_nesting_is_refused_at_the_limit() {
    let ok = format!(
        "k: {}{}\n",
        "[".repeat(MAX_DEPTH - 1),
        "]".repeat(MAX_DEPTH - 1)
    );
    assert!(parse(&ok).is_ok());
    let deep = format!("k: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let e = parse(&deep).unwrap_err();
    assert_eq!(e.message, "recursion limit exceeded");
    assert_eq!((e.line, e.column), (Some(1), Some(3 + MAX_DEPTH)));
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

/// What the parser calls the error does not decide where the blame goes: a tab that starts
/// the line after a value is named there (found on a differential run against serde_yaml).
#[test]
fn tabs_are_blamed_where_they_are() {
    for (text, at) in [
        ("forking:\t64K\n\tA: b\n", (2, 1)),
        ("a: {x: y}\n\tA: b\n", (2, 1)),
        ("env:\n\tA: b\n", (2, 1)),
        // A key without `:` whose next line is a tab (found by the definition fuzz target).
        ("a: b\nc d\n\t", (3, 1)),
        ("a: b\n# c\nx s:- [a,\n\t", (4, 1)),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.message.starts_with("tab character"), "{text:?}: {e:?}");
        assert_eq!(
            (e.line, e.column),
            (Some(at.0), Some(at.1)),
            "{text:?}: {e:?}"
        );
    }
}

/// A syntax error anywhere wins over a structure error found before it; a second document is
/// refused before anything in it is read.
#[test]
fn which_error_is_reported() {
    let e = parse("a: !x y\nb: [c,\n").unwrap_err();
    assert!(e.message.contains("not closed"), "{e:?}");
    let e = parse("a: 1\n---\nb: [c,\n").unwrap_err();
    assert!(e.message.contains("more than one document"), "{e:?}");
    assert_eq!(e.line, Some(2));
    let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(
        (e.line, e.message.as_str()),
        (Some(3), "duplicate entry with key \"a\"")
    );
    let e = parse("env:\n  A: 1\n  A: 2\n").unwrap_err();
    assert_eq!(e.message, "env: duplicate entry with key \"A\"");
    let e = parse("description: a # c\n  more: x\n").unwrap_err();
    assert!(e.message.starts_with("bad indentation"), "{e:?}");
    assert_eq!((e.line, e.column), (Some(2), Some(3)));
}

/// Review of issue 11: a line without `:` was placed on the line after it (libyaml's
/// position), past the end of a file that ends there, and on a blank or comment line when
/// such lines followed. The error names the line that lacks the `:`.
#[test]
fn a_line_without_a_colon_is_placed_on_that_line() {
    for (text, at) in [
        ("exec: /bin/true\nuser\n", (2, 1)),
        ("exec: /bin/true\nuser\nnice: 1\n", (2, 1)),
        ("exec: /bin/true\nuser\n\n\n# c\n", (2, 1)),
        ("exec: /bin/true\nargs: [a]\nfoo bar\n", (3, 1)),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.message.contains("has no `:`"), "{text:?}: {e:?}");
        let culprit = text.lines().nth(at.0 - 1).unwrap_or_default();
        assert!(
            e.message.contains(&format!("`{culprit}`")),
            "{text:?}: {e:?}"
        );
        assert_eq!(
            (e.line, e.column),
            (Some(at.0), Some(at.1)),
            "{text:?}: {e:?}"
        );
    }
}
