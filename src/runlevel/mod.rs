//! Runlevel directories (SPEC §4): `runlevels/rcN.d` entries named `S<NN><NAME>` or
//! `K<NN><NAME>`. Today this reads which levels start a service (for `status`); switching
//! runlevels builds on it.

use crate::name::ServiceName;
use crate::paths::Dirs;

/// The runlevels, in the order `svc list` shows them.
pub const LEVELS: [char; 8] = ['0', '1', '2', '3', '4', '5', '6', 'S'];

/// A well-formed entry name split into kind (`S`/`K`), number and service name.
pub fn parse_entry(file_name: &str) -> Option<(char, u8, &str)> {
    let b = file_name.as_bytes();
    if b.len() < 4
        || !matches!(b[0], b'S' | b'K')
        || !b[1].is_ascii_digit()
        || !b[2].is_ascii_digit()
    {
        return None;
    }
    let name = &file_name[3..];
    crate::name::is_valid(name).then(|| (b[0] as char, (b[1] - b'0') * 10 + (b[2] - b'0'), name))
}

/// The runlevels whose directory holds an `S` entry for `name`.
pub fn start_levels(dirs: &Dirs, name: &ServiceName) -> Vec<char> {
    LEVELS
        .iter()
        .copied()
        .filter(|l| {
            let dir = dirs.runlevels().join(format!("rc{l}.d"));
            std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok()).any(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(parse_entry)
                            .is_some_and(|(k, _, n)| k == 'S' && n == name.as_str())
                    })
                })
                .unwrap_or(false)
        })
        .collect()
}

/// For every service with `S` entries: the runlevels that start it (one pass over rcN.d).
pub fn start_levels_all(dirs: &Dirs) -> std::collections::HashMap<String, Vec<char>> {
    let mut out: std::collections::HashMap<String, Vec<char>> = std::collections::HashMap::new();
    for l in LEVELS {
        let dir = dirs.runlevels().join(format!("rc{l}.d"));
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let fname = e.file_name();
            let Some(('S', _, name)) = fname.to_str().and_then(parse_entry) else {
                continue;
            };
            let levels = out.entry(name.to_string()).or_default();
            if !levels.contains(&l) {
                levels.push(l);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        assert_eq!(parse_entry("S20httpd"), Some(('S', 20, "httpd")));
        assert_eq!(parse_entry("K01a"), Some(('K', 1, "a")));
        for bad in [
            "S5foo", "K7foo", "s20lower", "README", "S20", "S2x0a", "S20 x", "S20../x",
        ] {
            assert_eq!(parse_entry(bad), None, "{bad}");
        }
    }
}
