//! insserv's facility map (`lsb::facilities::Facilities`, read from `insserv.conf` and
//! `insserv.conf.d/*`), fed a file's bytes as lossy UTF-8.
//!
//! Checks: it never panics; every problem names a line of the text (1-based, at most the number
//! of lines); every defined facility expands (even one that names itself, directly or not) to
//! names that are not facilities, each once, none empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svc::lsb::facilities::Facilities;
use svc::lsb::is_facility;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    let mut f = Facilities::default();
    for p in f.add_text(&text) {
        assert!(p.line >= 1 && p.line <= lines, "line {} of {lines}", p.line);
    }
    for word in text.split_whitespace().filter(|w| is_facility(w)) {
        let members = f.expand(word);
        for (i, m) in members.iter().enumerate() {
            assert!(!m.name.is_empty() && !is_facility(&m.name), "{:?}", m.name);
            assert!(!members[..i].iter().any(|o| o.name == m.name), "{:?} twice", m.name);
        }
    }
});
