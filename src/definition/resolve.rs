//! The step after validation that looks outside the definition file: the `user` and `group`
//! it names are looked up in the user database, and a `script:` service's INIT INFO header is
//! read for what the file does not say itself. Validation ([`super::validate`]) is pure; this
//! is where a valid definition meets the system it runs on, once, where definitions are
//! loaded (so `switch`, `enable`, `list` and `check` all see the same).

use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::error::Problem;
use super::model::{Definition, LsbHeader, Program};
use super::validate::{Accounts, Validated};
use crate::lsb::header::{self, InitInfo, LsbError};
use crate::name::ServiceName;
use crate::users;

/// Completes a validated definition: its accounts looked up, then its script's header read.
/// Every problem of the file, in line order, when anything is wrong.
pub fn resolve(v: Validated) -> Result<Definition, Vec<Problem>> {
    let mut def = accounts(v)?;
    script_header(&mut def)?;
    Ok(def)
}

/// Looks up the accounts (a problem at the `user` line, else the `group` line), reported with
/// validation's problems; the definition when there are none.
pub fn accounts(v: Validated) -> Result<Definition, Vec<Problem>> {
    let mut problems = v.problems;
    if let Some(p) = account_problem(&v.accounts) {
        problems.push(p);
        problems.sort_by_key(|p| p.line.unwrap_or(0));
    }
    match v.definition {
        Some(d) if problems.is_empty() => Ok(d),
        _ => Err(problems),
    }
}

fn account_problem(a: &Accounts) -> Option<Problem> {
    if a.user.is_none() && a.group.is_none() {
        return None;
    }
    let why = users::resolve(a.user.as_ref(), a.group.as_ref()).err()?;
    Some(Problem {
        file: a.file.clone(),
        line: a.line,
        column: None,
        message: why,
    })
}

/// For a `script:` definition: checks the script (exists, regular file, executable) and reads
/// its `INIT INFO` block; `requires` (Required-Start), `wants` (Should-Start), `runlevels`
/// (Default-Start) and `description` (Short-Description) the definition does not give itself
/// are filled from it. `$` facilities are left out; names in the script's own `Provides` and
/// the service's own name are left out (no self-dependency). A script without any block (a
/// pre-LSB script) adds nothing. Problems name the definition's `script:` line, or the
/// script's file and line for a malformed block.
pub fn script_header(def: &mut Definition) -> Result<(), Vec<Problem>> {
    let Program::Script(script) = &def.program else {
        return Ok(());
    };
    let script = script.clone();
    let at_script_key = |message: String| Problem {
        file: def.file.clone(),
        line: def.keys.line("script"),
        column: None,
        message,
    };
    let meta = match std::fs::metadata(&script) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(vec![at_script_key(format!(
                "`script`: {} does not exist: expected an LSB init script",
                script.display()
            ))])
        }
        Err(e) => {
            return Err(vec![at_script_key(format!(
                "`script`: cannot inspect {}: {e}",
                script.display()
            ))])
        }
    };
    if !meta.is_file() {
        return Err(vec![at_script_key(format!(
            "`script`: {} is not a regular file: expected an executable LSB init script",
            script.display()
        ))]);
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(vec![at_script_key(format!(
            "`script`: {} is not executable",
            script.display()
        ))]);
    }
    // Never blocking on a FIFO put where the script was (see `crate::regular`).
    // Only its head ([`header::MAX_SCAN`]): a huge script is never read whole.
    let head = crate::regular::open_read(&script, crate::regular::Links::Follow).and_then(|f| {
        let mut bytes = Vec::new();
        f.take(header::MAX_SCAN).read_to_end(&mut bytes)?;
        Ok(bytes)
    });
    let text = match head {
        // Scripts are not always UTF-8 (Latin-1 comments); the header is ASCII in practice.
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(io) => {
            return Err(vec![at_script_key(format!(
                "`script`: cannot read {}: {io}",
                script.display()
            ))])
        }
    };
    let info = match InitInfo::parse(&text) {
        Ok(i) => i,
        Err(LsbError::NoBlock) => return Ok(()),
        Err(p) => return Err(vec![header_problem(def, &script, &p)]),
    };
    let mut problems = Vec::new();
    let lines = header::keyword_lines(&text);
    // The line of `keyword` in the header (a name it lists is named there), else the block's.
    let line_of = |keyword: &str| {
        lines
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map_or(info.begin_line, |(_, l)| *l)
    };
    let mut names = |words: Vec<&str>, keyword: &str| -> Vec<ServiceName> {
        let mut out: Vec<ServiceName> = Vec::new();
        for w in words {
            if info.provides.iter().any(|p| p == w) || w == def.name.as_str() {
                continue;
            }
            match ServiceName::new(w) {
                Ok(n) if !out.contains(&n) => out.push(n),
                Ok(_) => {}
                Err(e) => problems.push(Problem {
                    file: script.clone(),
                    line: Some(line_of(keyword)),
                    column: None,
                    message: format!(
                        "`{keyword}`: {w:?} cannot be a service name ({e}) (the LSB header of the script of {})",
                        def.file.display()
                    ),
                }),
            }
        }
        out
    };
    let requires = names(info.required_services().collect(), "Required-Start");
    let wants = names(info.wanted_services().collect(), "Should-Start");
    if !problems.is_empty() {
        return Err(problems);
    }
    if !def.keys.given("requires") {
        def.requires = requires;
    }
    if !def.keys.given("wants") {
        def.wants = wants;
    }
    if !def.keys.given("runlevels") {
        def.runlevels = info.runlevels().to_vec();
    }
    if def.description.is_none() {
        def.description = info.short_description.clone();
    }
    def.lsb = Some(LsbHeader {
        script,
        lines,
        info,
    });
    Ok(())
}

/// A malformed `INIT INFO` block: the script's file and line, what was expected, and which
/// definition names the script.
fn header_problem(def: &Definition, script: &Path, e: &LsbError) -> Problem {
    let line = match e {
        LsbError::NoBlock => None,
        LsbError::Unterminated { begin_line } => Some(*begin_line),
        LsbError::Line { line, .. }
        | LsbError::Duplicate { line, .. }
        | LsbError::Runlevel { line, .. } => Some(*line),
    };
    let text = e.to_string();
    let message = match text.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest.to_string(),
        _ => text,
    };
    // A SysV script is its own definition: no other file to name.
    let message = if def.file == script {
        message
    } else {
        format!(
            "{message} (LSB header of the script named by {})",
            def.file.display()
        )
    };
    Problem {
        file: script.to_path_buf(),
        line,
        column: None,
        message,
    }
}
