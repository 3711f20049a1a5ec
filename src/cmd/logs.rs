//! `svc logs NAME [-n LINES] [-f]`: print a service's log, and follow it.
//!
//! Without `-n` the whole current file is printed (like `docker logs`); `-n N` prints the last
//! N lines, reaching into the rotated files when the current one holds fewer; `-f` then keeps
//! printing what is appended, through rotations, until a signal ends svc or stdout is closed.
//! A log that does not exist yet prints nothing (exit 0), or is waited for with `-f`.
//! Exit codes: 0, also when the reader of stdout goes away (`svc logs X | head -1`); 5 no such
//! service; 6 an invalid definition or `log: none`; 4 a log svc may not read; 1 other read
//! errors. The log's bytes go to stdout unchanged, even with `--quiet`: they are the result.

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;

use super::Context;
use crate::exit::Code;
use crate::logview::{LogError, LogView};
use crate::name::ServiceName;

pub fn run(ctx: &Context, name: &ServiceName, lines: Option<usize>, follow: bool) -> Code {
    let def = match ctx.load(name) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let Some(path) = def.log_path(&ctx.dirs) else {
        ctx.out.error(&format!("{name} has no log (log: none)"));
        return Code::NotConfigured;
    };
    let view = LogView::new(path);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = (|| -> Result<(), LogError> {
        let cursor = match lines {
            Some(n) => view.print_last(n, &mut out)?,
            None => view.print_all(&mut out)?,
        };
        out.flush().map_err(LogError::Write)?;
        if follow {
            view.follow(cursor, &mut out, Some(stdout.as_fd()))?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Code::Success,
        Err(e) if e.is_closed_output() => Code::Success,
        Err(e) => {
            ctx.out.error(&e.to_string());
            if e.is_permission() {
                Code::Privilege
            } else {
                Code::Failure
            }
        }
    }
}
