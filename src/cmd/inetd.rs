//! `svc inetd` (SPEC §5.1): the super daemon.

use super::Context;
use crate::exit::Code;

pub fn run(ctx: &Context, daemon: bool) -> Code {
    let _ = (ctx, daemon);
    ctx.out.error("svc inetd is not implemented yet");
    Code::Unimplemented
}
