//! The definition parser (`definition::parse`): a file's bytes as `svc check` reads
//! `init.d/fuzz.yaml` (UTF-8 or refused, at most `MAX_FILE_SIZE`), into a `Definition` or the
//! list of problems.
//!
//! Checks: it never panics; problems name the file, a line of it (1-based, at most one past
//! the last line) and come sorted by line; a definition that parses satisfies the svc.yaml(5)
//! rules the validator promises (name, `exec` an absolute path or a bare name without NUL,
//! absolute `script`/`workdir`/`pidfile`, ranges of `nice`, priorities, `umask`, `log_keep`,
//! runlevels `0`-`6`/`S` without repeats, no self-dependency, the exclusive keys); the INIT
//! INFO header `svc lsb-script` writes for it reads back as written; and a YAML error that
//! blames a tab points at one.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use svc::definition::{self, Definition, LogTarget, Program, MAX_FILE_SIZE};
use svc::lsb::InitInfo;
use svc::name::ServiceName;

const FILE: &str = "/etc/svc/init.d/fuzz.yaml";

fn valid(d: &Definition, name: &ServiceName) {
    assert_eq!(&d.name, name);
    assert_eq!(d.file, Path::new(FILE));
    match &d.program {
        Program::Exec(e) => {
            assert!(!e.is_empty() && !e.contains('\0'), "exec {e:?}");
            assert!(e.starts_with('/') || !e.contains('/'), "exec {e:?}");
        }
        Program::Script(p) => {
            assert!(p.is_absolute(), "script {p:?}");
            assert!(d.args.is_empty() && !d.forking && d.respawn.is_none() && d.socket.is_none());
        }
    }
    assert!(d.workdir.is_absolute(), "workdir {:?}", d.workdir);
    if let Some(p) = &d.pidfile {
        assert!(p.is_absolute(), "pidfile {p:?}");
    }
    if let LogTarget::Path(p) = &d.log {
        assert!(p.is_absolute(), "log {p:?}");
    }
    assert!(d.umask <= 0o777);
    assert!(d.nice.is_none_or(|n| (-20..=19).contains(&n)));
    assert!(d.start_priority.is_none_or(|p| p <= 99));
    assert!(d.stop_priority.is_none_or(|p| p <= 99));
    assert!(d.log_keep <= 1000);
    for (i, c) in d.runlevels.iter().enumerate() {
        assert!(matches!(c, '0'..='6' | 'S'), "runlevel {c:?}");
        assert!(!d.runlevels[..i].contains(c), "runlevel {c:?} repeated");
    }
    assert!(!d.requires.contains(name) && !d.wants.contains(name));
    if d.forking {
        assert!(d.pidfile.is_some(), "forking without pidfile");
    }
    if d.respawn.is_some() {
        assert!(!d.forking && d.socket.is_none());
    }
    if d.log_timestamps {
        assert!(d.respawn.is_some());
    }
    for (k, v) in &d.env {
        assert!(!k.is_empty() && !k.contains(['=', '\0']) && !v.contains('\0'));
    }
    // What `svc lsb-script` writes for it, svc reads back unchanged.
    let header = InitInfo::for_service(&d.lsb_service());
    let text = header.render();
    let again = InitInfo::parse(&text)
        .unwrap_or_else(|e| panic!("the generated header does not parse: {e}\n{text}"));
    assert_eq!(
        again,
        InitInfo {
            begin_line: 1,
            ..header
        },
        "{text}"
    );
}

fuzz_target!(|data: &[u8]| {
    if data.len() as u64 > MAX_FILE_SIZE {
        return;
    }
    // `svc check` refuses a file that is not UTF-8 before parsing it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let name = ServiceName::new("fuzz").expect("a valid name");
    match definition::parse(Path::new(FILE), &name, text) {
        Ok(d) => valid(&d, &name),
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            let lines = text.lines().count();
            let mut last = 0;
            for p in &problems {
                assert_eq!(p.file, Path::new(FILE));
                assert!(!p.message.is_empty());
                if let Some(l) = p.line {
                    assert!(l >= 1 && l <= lines + 1, "{p} (the text has {lines} lines)");
                }
                // A YAML error blames a tab only where the parser stopped at one (a tab
                // elsewhere on the line, legal in a flow list, is not what is wrong).
                // Positions count from after a byte-order mark, which svc drops before parsing
                // (an editor does not show it as a column either).
                if p.message.starts_with("invalid YAML: tab character") {
                    let shown = text.strip_prefix('\u{feff}').unwrap_or(text);
                    let at = p.line.zip(p.column).and_then(|(l, c)| {
                        shown.split('\n').nth(l - 1)?.chars().nth(c.checked_sub(1)?)
                    });
                    assert_eq!(at, Some('\t'), "{p}");
                }
                let key = p.line.unwrap_or(0);
                assert!(key >= last, "problems out of line order");
                last = key;
            }
        }
    }
});
