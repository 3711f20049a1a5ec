//! Plain words for YAML syntax errors: what is wrong at a position of a hand-written file and
//! what was expected there.
//!
//! The YAML parser reports the grammar's view ("found character that cannot start any token",
//! "did not find expected key"); people writing a definition mostly indented with a tab, or
//! by one space too many or too few, or wrote `key: a: b`. [`explain`] looks at the text around
//! the position the parser gave and says that instead. It works on the parser's message, the
//! text and the position only, so it does not depend on which YAML library found the error;
//! a message it does not recognise is returned unchanged.

/// The message for a syntax error `raw` reported at `line`:`column` (1-based) of `text`.
pub fn explain(raw: &str, text: &str, line: Option<usize>, column: Option<usize>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at_no = line.unwrap_or(0);
    let at = at_no
        .checked_sub(1)
        .and_then(|i| lines.get(i))
        .copied()
        .unwrap_or("");
    // The closest line above that holds something (not blank, not only a comment).
    let above = |n: usize| -> Option<&str> {
        lines[..n.saturating_sub(1).min(lines.len())]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .copied()
    };
    let prev = above(at_no);
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let spaces = |n: usize| format!("{n} space{}", if n == 1 { "" } else { "s" });
    // A line that opens a nested block: `key:` with nothing after it but a comment.
    let opens = |l: &str| strip_comment(l).trim_end().ends_with(':');
    // A tab where the parser stopped: a tab elsewhere on the line (legal inside a flow
    // list, `[a,<TAB>b]`) is not what is wrong.
    let stopped_at_tab = column
        .and_then(|c| at.chars().nth(c.saturating_sub(1)))
        .is_some_and(|c| c == '\t');

    if stopped_at_tab || raw.contains("tab character") {
        let hint = match prev {
            Some(p) if opens(p) => format!(
                ", e.g. {} to nest under `{}`",
                spaces(indent(p) + 2),
                p.trim()
            ),
            Some(p) => format!(
                ", e.g. {} to line up with `{}`",
                spaces(indent(p)),
                p.trim()
            ),
            None => String::new(),
        };
        return format!("tab character: YAML indents with spaces, never tabs; expected spaces instead of the tab{hint}");
    }
    if raw.starts_with("mapping values are not allowed") {
        if let Some(p) = prev.filter(|p| indent(at) > indent(p) && !opens(p)) {
            return format!(
                "bad indentation: this line is indented more than `{}` above, so YAML reads it as \
                 the rest of that value; expected it at column {} like the key above (or nothing \
                 after `{}:` to start a nested mapping)",
                p.trim(),
                indent(p) + 1,
                key_of(p)
            );
        }
        let (key, value) = at.trim().split_once(": ").unwrap_or((at.trim(), ""));
        return format!(
            "`: ` inside a value that is not quoted: expected the value in quotes \
             (`{key}: \"{}\"`), or a nested mapping on its own, indented lines",
            value.replace('"', "\\\"")
        );
    }
    if raw.starts_with("did not find expected key") || raw.contains("expected '-' indicator") {
        if at.trim_start().starts_with('-') {
            return "a list item `- ...` where `key: value` was expected: a list belongs under \
                    a key on its own line (`key:` then indented `- item` lines), or in brackets \
                    (`key: [a, b]`)"
                .to_string();
        }
        // The indentations a line may return to: those of the enclosing blocks above it.
        let mut levels: Vec<(usize, &str)> = Vec::new();
        for l in lines[..at_no.saturating_sub(1).min(lines.len())]
            .iter()
            .rev()
        {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            if levels.last().is_none_or(|(n, _)| indent(l) < *n) {
                levels.push((indent(l), l.trim()));
            }
        }
        if !at.trim().is_empty() && !levels.iter().any(|(n, _)| *n == indent(at)) {
            let options: Vec<String> = levels
                .iter()
                .map(|(n, l)| format!("{} (`{}`)", spaces(*n), key_line(l)))
                .collect();
            return format!(
                "bad indentation: this line is indented {}, but the keys above it are indented {}: \
                 expected one of those",
                spaces(indent(at)),
                options.join(" or ")
            );
        }
        return "expected `key: value` here (a stray character, or a closing bracket too many?)"
            .to_string();
    }
    if raw.starts_with("could not find expected ':'") {
        let culprit = if column == Some(1) {
            prev.unwrap_or(at)
        } else {
            at
        };
        return format!(
            "`{}` has no `:`: expected `key: value` (or `- item` in a list)",
            culprit.trim()
        );
    }
    if raw.starts_with("did not find expected ',' or ']'") {
        return "a `[` list is not closed: expected `,` between its items and `]` at its end"
            .to_string();
    }
    if raw.starts_with("did not find expected ',' or '}'") {
        return "a `{` mapping is not closed: expected `,` between its entries and `}` at its end"
            .to_string();
    }
    if raw.starts_with("found unexpected end of stream") {
        return "the file ends inside a value: expected a closing quote or bracket".to_string();
    }
    if raw.starts_with("found character that cannot start any token") {
        let c = column
            .and_then(|c| at.chars().nth(c.saturating_sub(1)))
            .filter(|c| !c.is_whitespace());
        if let Some(c) = c {
            return format!(
                "`{c}` cannot start a value that is not quoted: expected the value in quotes"
            );
        }
    }
    raw.to_string()
}

/// A line without its comment (` #` starts one outside quotes; good enough for a hint).
fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) if !line[..i].contains(['"', '\'']) => &line[..i],
        _ => line,
    }
}

/// `key` of a `key: value` (or `- key: value`) line, else the whole trimmed line.
fn key_of(line: &str) -> &str {
    let t = line.trim().trim_start_matches("- ");
    t.split_once(':').map_or(t, |(k, _)| k.trim())
}

/// `key:` for naming a line of a block in a message.
fn key_line(line: &str) -> String {
    format!("{}:", key_of(line))
}

/// The innermost `[` or `{` still open at the end of `before` (quotes and comments skipped,
/// roughly: good enough to name what is not closed).
pub(super) fn open_bracket(before: &str) -> Option<char> {
    let mut open = Vec::new();
    let mut quote = None;
    let mut comment = false;
    let mut prev = ' ';
    for c in before.chars() {
        match (quote, c) {
            (_, '\n') => comment = false,
            _ if comment => {}
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if prev.is_whitespace() => comment = true,
            (None, '[' | '{') => open.push(c),
            (None, ']' | '}') => {
                open.pop();
            }
            _ => {}
        }
        prev = c;
    }
    open.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_TOKEN: &str = "found character that cannot start any token";
    const MAPPING: &str = "mapping values are not allowed in this context";
    const NO_KEY: &str = "did not find expected key";

    fn hint(text: &str, raw: &str, line: usize, column: usize) -> String {
        explain(raw, text, Some(line), Some(column))
    }

    /// A row: the YAML, the parser's message, its line and column; what the hint starts with
    /// and words it holds.
    type Row<'a> = (&'a str, &'a str, usize, usize, &'a str, &'a [&'a str]);

    fn hints(rows: &[Row]) {
        for &(text, raw, line, column, start, words) in rows {
            let m = hint(text, raw, line, column);
            assert!(m.starts_with(start), "{m}");
            for w in words {
                assert!(m.contains(w), "{m}");
            }
        }
    }

    #[test]
    fn tabs() {
        let violates = "found a tab character that violates indentation";
        hints(&[
            (
                "exec: x\nenv:\n\tA: b\n",
                NO_TOKEN,
                3,
                1,
                "tab character: YAML indents with spaces",
                &["2 spaces to nest under `env:`"],
            ),
            (
                "exec: x\nenv:\n  A: b\n\t B: c\n",
                violates,
                4,
                1,
                "",
                &["2 spaces to line up with `A: b`"],
            ),
        ]);
    }

    #[test]
    fn indented_too_far_or_a_colon_in_a_value() {
        hints(&[
            (
                "exec: x\n  args: [a]\n",
                MAPPING,
                2,
                7,
                "bad indentation",
                &["column 1", "`exec:`"],
            ),
            (
                "exec: x\nargs: a: b\n",
                MAPPING,
                2,
                8,
                "",
                &["`args: \"a: b\"`"],
            ),
            // A nested key under `env:` is indented more on purpose: that is not the mistake.
            ("env:\n  A: b: c\n", MAPPING, 2, 7, "", &["quotes"]),
        ]);
    }

    #[test]
    fn indentation_between_levels_and_stray_list_items() {
        hints(&[
            (
                "exec: x\nenv:\n  A: b\n B: c\n",
                NO_KEY,
                4,
                2,
                "",
                &["indented 1 space,", "2 spaces (`A:`) or 0 spaces (`env:`)"],
            ),
            (
                "exec: x\nrespawn:\n    max: 3\n  window: 60\n",
                NO_KEY,
                4,
                3,
                "",
                &["4 spaces (`max:`) or 0 spaces"],
            ),
            (
                "exec: x\nenv:\n  A: b\n  - c\n",
                NO_KEY,
                4,
                3,
                "a list item",
                &[],
            ),
        ]);
    }

    #[test]
    fn other_messages() {
        hints(&[
            (
                "exec: x\nargs\n",
                "could not find expected ':'",
                3,
                1,
                "`args` has no `:`",
                &[],
            ),
            (
                "args: [a, b\nnice: 1\n",
                "did not find expected ',' or ']'",
                2,
                5,
                "",
                &["`]`"],
            ),
            ("exec: @x\n", NO_TOKEN, 1, 7, "`@` cannot start", &[]),
        ]);
        assert_eq!(hint("a: *b\n", "unknown anchor", 1, 4), "unknown anchor");
        assert_eq!(explain("x", "", None, None), "x");
    }
}
