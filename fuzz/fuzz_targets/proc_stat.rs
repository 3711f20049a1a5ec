//! The `/proc/PID/stat` parser (`process::procfs`), twice per input:
//! - the input's bytes as a stat file (what `Procfs::stat` reads): `parse_stat_bytes` returns
//!   Ok or Err and never panics; when Ok, the command name is the text between the first `(`
//!   and the last `)`;
//! - a stat line built the way the kernel writes it from values taken from the input (any
//!   command name: spaces, parentheses, newlines, invalid UTF-8): it parses back to exactly
//!   those values.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use svc::process::procfs::parse_stat_bytes;

/// Fields 4 to 52 of a stat line, after the state: ppid, pgrp, session, then the rest.
#[derive(Debug, Arbitrary)]
struct Line {
    pid: u32,
    /// The kernel's comm: up to 15 bytes, anything but NUL.
    comm: Vec<u8>,
    state: u8,
    ppid: u32,
    pgrp: u32,
    session: u32,
    start_ticks: u64,
    /// Fields 7 to 21 and 23 to 52 (signed: some are -1).
    others: [i64; 45],
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = parse_stat_bytes(data) {
        let open = text.find('(').expect("parsed without '('");
        let close = text.rfind(')').expect("parsed without ')'");
        assert_eq!(s.comm, text[open + 1..close]);
    }

    let Ok(line) = Line::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let pid = (line.pid % (1 << 22)) as i32 + 1;
    let comm: Vec<u8> = line
        .comm
        .iter()
        .copied()
        .filter(|&b| b != 0)
        .take(15)
        .collect();
    let state = b"RSDZTtXxIPKW"[usize::from(line.state) % 12];
    let (ppid, pgrp, session) = (
        (line.ppid % (1 << 22)) as i32,
        (line.pgrp % (1 << 22)) as i32,
        (line.session % (1 << 22)) as i32,
    );
    let mut raw = format!("{pid} (").into_bytes();
    raw.extend_from_slice(&comm);
    raw.extend_from_slice(format!(") {} {ppid} {pgrp} {session}", state as char).as_bytes());
    for (i, v) in line.others.iter().enumerate() {
        // Field 22 (start time) comes after fields 7..=21, i.e. after 15 others.
        if i == 15 {
            raw.extend_from_slice(format!(" {}", line.start_ticks).as_bytes());
        }
        raw.extend_from_slice(format!(" {v}").as_bytes());
    }
    raw.push(b'\n');
    let s = parse_stat_bytes(&raw).unwrap_or_else(|e| {
        panic!(
            "kernel-shaped line refused: {e}: {:?}",
            String::from_utf8_lossy(&raw)
        )
    });
    assert_eq!(s.pid, pid);
    assert_eq!(s.comm, String::from_utf8_lossy(&comm));
    assert_eq!(s.state, state as char);
    assert_eq!((s.ppid, s.pgrp, s.session), (ppid, pgrp, session));
    assert_eq!(s.start_ticks, line.start_ticks);
});
