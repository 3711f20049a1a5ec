//! The `### BEGIN INIT INFO` header parser (`lsb::InitInfo::parse`), fed a script's bytes as
//! `InitInfo::read` does (lossy UTF-8).
//!
//! Checks: it returns Ok or Err and never panics; an error names a line of the text (1-based,
//! at most the number of lines); a parsed header has runlevels from `0`-`6`/`S` without
//! repeats and list words without whitespace; and what svc writes it reads back:
//! `render()` of a parsed header parses to the same header (at line 1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use svc::lsb::{InitInfo, LsbError};

fn levels_ok(levels: &[char]) {
    for (i, c) in levels.iter().enumerate() {
        assert!(matches!(c, '0'..='6' | 'S'), "runlevel {c:?}");
        assert!(!levels[..i].contains(c), "runlevel {c:?} repeated");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    match InitInfo::parse(&text) {
        Ok(info) => {
            assert!(info.begin_line >= 1 && info.begin_line <= lines);
            levels_ok(&info.default_start);
            levels_ok(&info.default_stop);
            for list in [
                &info.provides,
                &info.required_start,
                &info.required_stop,
                &info.should_start,
                &info.should_stop,
            ] {
                for w in list {
                    assert!(!w.is_empty() && !w.contains(char::is_whitespace), "{w:?}");
                }
            }
            let rendered = info.render();
            let again = InitInfo::parse(&rendered)
                .unwrap_or_else(|e| panic!("svc cannot read back what it wrote: {e}\n{rendered}"));
            let want = InitInfo {
                begin_line: 1,
                ..info
            };
            assert_eq!(again, want, "render/parse round trip:\n{rendered}");
        }
        Err(e) => {
            let line = match &e {
                LsbError::NoBlock => return,
                LsbError::Unterminated { begin_line } => *begin_line,
                LsbError::Line { line, .. }
                | LsbError::Duplicate { line, .. }
                | LsbError::Runlevel { line, .. } => *line,
            };
            assert!(
                line >= 1 && line <= lines,
                "{e} (the text has {lines} lines)"
            );
            if let LsbError::Duplicate {
                line, first_line, ..
            } = e
            {
                assert!(first_line < line);
            }
        }
    }
});
