use super::*;

fn header(body: &str) -> String {
    format!("#!/bin/sh\n{BEGIN}\n{body}{END}\n\necho script\n")
}

#[test]
fn debian_skeleton() {
    let text = header(
        "# Provides:          skeleton\n\
         # Required-Start:    $remote_fs $syslog\n\
         # Required-Stop:     $remote_fs $syslog\n\
         # Default-Start:     2 3 4 5\n\
         # Default-Stop:      0 1 6\n\
         # Short-Description: Example initscript\n\
         # Description:       This file should be used to construct scripts to be\n\
         #                    placed in /etc/init.d.\n",
    );
    let i = InitInfo::parse(&text).unwrap();
    assert_eq!(i.begin_line, 2);
    assert_eq!(i.provides, ["skeleton"]);
    assert_eq!(i.requires(), ["$remote_fs", "$syslog"]);
    assert_eq!(i.required_stop, ["$remote_fs", "$syslog"]);
    assert!(i.wants().is_empty());
    assert_eq!(i.runlevels(), ['2', '3', '4', '5']);
    assert_eq!(i.default_stop, ['0', '1', '6']);
    assert_eq!(i.short_description.as_deref(), Some("Example initscript"));
    assert_eq!(
        i.description.as_deref(),
        Some("This file should be used to construct scripts to be placed in /etc/init.d.")
    );
    assert_eq!(i.required_services().count(), 0);
}

#[test]
fn continuation_with_tab_and_extensions() {
    let text = header(
        "# Provides:\t\tfoo bar\n\
         # Should-Start:\t$syslog baz\n\
         # Description: one\n\
         #\ttwo\n\
         #   three\n\
         # X-Start-Before:    $network\n\
         # X-Interactive:     true\n\
         #\n",
    );
    let i = InitInfo::parse(&text).unwrap();
    assert_eq!(i.provides, ["foo", "bar"]);
    assert_eq!(i.wants(), ["$syslog", "baz"]);
    assert_eq!(i.wanted_services().collect::<Vec<_>>(), ["baz"]);
    assert_eq!(i.description.as_deref(), Some("one two three"));
    assert_eq!(i.extension("x-start-before"), Some("$network"));
    assert_eq!(i.extension("X-Interactive"), Some("true"));
    assert_eq!(i.unknown_keywords().count(), 0);
}

#[test]
fn empty_fields_are_empty() {
    let text = header(
        "# Provides: foo\n# Required-Start:\n# Required-Stop:   \n# Default-Start:\n\
         # Default-Stop:\n# Short-Description:\n",
    );
    let i = InitInfo::parse(&text).unwrap();
    assert!(i.requires().is_empty() && i.required_stop.is_empty());
    assert!(i.runlevels().is_empty() && i.default_stop.is_empty());
    assert_eq!(i.short_description, None);
}

#[test]
fn runlevels_lenient_forms() {
    let i = InitInfo::parse(&header("# Default-Start: 2345\n# Default-Stop: s 0 6 6\n")).unwrap();
    assert_eq!(i.runlevels(), ['2', '3', '4', '5']);
    assert_eq!(i.default_stop, ['S', '0', '6']);
    let e = InitInfo::parse(&header("# Provides: a\n# Default-Start: 2 3 7\n")).unwrap_err();
    assert_eq!(
        e,
        LsbError::Runlevel {
            line: 4,
            keyword: "Default-Start".into(),
            found: "7".into()
        }
    );
    assert!(e
        .to_string()
        .starts_with("line 4: `Default-Start`: expected runlevels"));
}

#[test]
fn keywords_ignore_case_and_trailing_space() {
    let text = "#!/bin/sh\n### BEGIN INIT INFO   \r\n# provides: a\r\n# REQUIRED-START: $network b\r\n### END INIT INFO \r\n";
    let i = InitInfo::parse(text).unwrap();
    assert_eq!(i.provides, ["a"]);
    assert_eq!(i.requires(), ["$network", "b"]);
    assert_eq!(i.required_services().collect::<Vec<_>>(), ["b"]);
}

#[test]
fn missing_end_names_the_begin_line() {
    let text = "#!/bin/sh\n\n### BEGIN INIT INFO\n# Provides: a\n";
    let e = InitInfo::parse(text).unwrap_err();
    assert_eq!(e, LsbError::Unterminated { begin_line: 3 });
    assert!(e.to_string().contains("line 3"), "{e}");
    // Code after the block does not end it.
    let e = InitInfo::parse("### BEGIN INIT INFO\n# Provides: a\ncase x in esac\n").unwrap_err();
    assert!(
        matches!(e, LsbError::Line { line: 3, .. }),
        "a script line inside the block: {e:?}"
    );
}

#[test]
fn no_block_is_an_error_value() {
    assert_eq!(
        InitInfo::parse("#!/bin/sh\necho hi\n"),
        Err(LsbError::NoBlock)
    );
    assert_eq!(InitInfo::parse(""), Err(LsbError::NoBlock));
    // The marker must be the whole line.
    assert_eq!(
        InitInfo::parse("# ### BEGIN INIT INFO\n### END INIT INFO\n"),
        Err(LsbError::NoBlock)
    );
}

#[test]
fn bad_lines_name_line_and_expectation() {
    let e = InitInfo::parse(&header("# Provides: a\n# just a comment\n")).unwrap_err();
    match &e {
        LsbError::Line {
            line,
            expected,
            found,
        } => {
            assert_eq!(*line, 4);
            assert!(expected.contains("# Keyword: value"), "{expected}");
            assert_eq!(found, "# just a comment");
        }
        other => panic!("{other:?}"),
    }
    let e = InitInfo::parse(&header("#   orphan continuation\n")).unwrap_err();
    assert!(matches!(e, LsbError::Line { line: 3, .. }), "{e:?}");
    let e = InitInfo::parse(&header("# Provides: a\n# Provides: b\n")).unwrap_err();
    assert_eq!(
        e,
        LsbError::Duplicate {
            line: 4,
            keyword: "Provides".into(),
            first_line: 3
        }
    );
    let e = InitInfo::parse(&format!("{BEGIN}\n# Provides: a\n{BEGIN}\n{END}\n")).unwrap_err();
    assert!(matches!(e, LsbError::Line { line: 3, .. }), "{e:?}");
}

#[test]
fn indented_keyword_is_a_keyword_and_unknown_keys_are_kept() {
    let i = InitInfo::parse(&header(
        "# Description: text\n#  Provides: a\n# Required-Starts: typo\n",
    ))
    .unwrap();
    assert_eq!(i.provides, ["a"]);
    assert_eq!(i.description.as_deref(), Some("text"));
    assert_eq!(
        i.unknown_keywords().collect::<Vec<_>>(),
        ["Required-Starts"]
    );
    assert!(i.requires().is_empty());
}

#[test]
fn facilities() {
    for (f, _) in FACILITIES {
        assert!(is_facility(f), "{f}");
    }
    assert!(is_facility("$x-display-manager"));
    assert!(!is_facility("$"));
    assert!(!is_facility("network"));
    let i = InitInfo::parse(&header(
        "# Required-Start: $local_fs $network $remote_fs $syslog $named $portmap $time db\n\
         # Should-Start: $all cache\n",
    ))
    .unwrap();
    assert_eq!(i.requires().len(), 8);
    assert_eq!(i.required_services().collect::<Vec<_>>(), ["db"]);
    assert_eq!(i.wanted_services().collect::<Vec<_>>(), ["cache"]);
}

#[test]
fn first_block_wins_and_rest_of_script_is_ignored() {
    let text = format!(
        "{}\n{BEGIN}\n# Provides: second\n{END}\n",
        header("# Provides: first\n")
    );
    assert_eq!(InitInfo::parse(&text).unwrap().provides, ["first"]);
}

#[test]
fn render_round_trips() {
    let info = InitInfo {
        provides: vec!["web".into()],
        required_start: vec!["$remote_fs".into(), "db".into()],
        required_stop: vec!["$remote_fs".into()],
        should_start: vec![],
        should_stop: vec![],
        default_start: vec!['2', '3'],
        default_stop: vec!['0', '1', '4', '5', '6'],
        short_description: Some("Web".into()),
        description: Some("A web server".into()),
        extensions: vec![("X-Interactive".into(), "true".into())],
        begin_line: 1,
    };
    let text = info.render();
    assert!(text.starts_with(BEGIN) && text.ends_with(&format!("{END}\n")));
    assert_eq!(InitInfo::parse(&text).unwrap(), info);
}
