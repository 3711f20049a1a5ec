//! `switch` (alias `telinit`), `boot`, `runlevel` (SPEC §4).

use super::Context;
use crate::cli::SwitchOpts;
use crate::exit::Code;

pub fn switch(ctx: &Context, level: &str, opts: &SwitchOpts) -> Code {
    let _ = (ctx, level, opts);
    Code::Unimplemented
}

pub fn boot(ctx: &Context, level: Option<&str>, opts: &SwitchOpts) -> Code {
    let _ = (ctx, level, opts);
    Code::Unimplemented
}

pub fn show_runlevel(ctx: &Context) -> Code {
    let _ = ctx;
    Code::Unimplemented
}
