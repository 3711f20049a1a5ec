//! `completions SHELL` and the hidden `manpage`: print what [`crate::docgen`] generates from
//! the command line's own definition (`Cli::command()`); the hidden `__complete KIND`: the
//! candidates the completion scripts offer.

use std::io::Write;

use clap::CommandFactory;

use super::Context;
use crate::cli::{Candidates, Cli, Shell};
use crate::docgen;
use crate::exit::Code;

/// `svc __complete services|runlevels`: one candidate a line — the names of the definitions in
/// `init.d/` (files whose name is not a service name left out), or the runlevels. Quiet and
/// exit 0 whatever happens: a completion must never print errors into the command line.
pub fn candidates(ctx: &Context, kind: Candidates) -> Code {
    let list: Vec<String> = match kind {
        Candidates::Services => crate::definition::list_files(&ctx.dirs)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, _)| name.ok().map(|n| n.to_string()))
            .collect(),
        Candidates::Runlevels => crate::runlevel::LEVELS
            .iter()
            .map(|l| l.to_string())
            .collect(),
    };
    let mut text = list.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    print(ctx, text.as_bytes());
    Code::Success
}

pub fn completions(ctx: &Context, shell: Shell) -> Code {
    print(ctx, &docgen::completions(&Cli::command(), shell))
}

pub fn manpage(ctx: &Context) -> Code {
    print(ctx, &docgen::man_page(&Cli::command()))
}

/// Writes the whole document to stdout, whatever `--quiet` says: it is the command's result.
/// A closed stdout is not an error; any other write error is.
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
