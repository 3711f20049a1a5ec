//! `completions SHELL` and the hidden `manpage`: print what [`crate::docgen`] generates.

use std::io::Write;

use super::Context;
use crate::docgen::{self, Shell};
use crate::exit::Code;

pub fn completions(ctx: &Context, shell: Shell) -> Code {
    print(ctx, &docgen::completions(shell))
}

pub fn manpage(ctx: &Context) -> Code {
    print(ctx, &docgen::manpage())
}

/// Writes the whole document to stdout, whatever `--quiet` says: it is the command's result.
/// A closed stdout is not an error (SPEC §6); any other write error is.
fn print(ctx: &Context, bytes: &[u8]) -> Code {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Code::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Code::Success,
        Err(e) => {
            ctx.out
                .error(&format!("cannot write to standard output: {e}"));
            Code::Failure
        }
    }
}
