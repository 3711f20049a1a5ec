//! `enable`, `disable`, `list` (SPEC §4): S/K links in runlevels/rcN.d.

use super::Context;
use crate::exit::Code;
use crate::name::ServiceName;

pub fn enable(
    ctx: &Context,
    name: &ServiceName,
    levels: Option<&str>,
    start: Option<u8>,
    stop: Option<u8>,
) -> Code {
    let _ = (ctx, name, levels, start, stop);
    Code::Unimplemented
}

pub fn disable(ctx: &Context, name: &ServiceName) -> Code {
    let _ = (ctx, name);
    Code::Unimplemented
}

pub fn list(ctx: &Context, names: &[ServiceName], json: bool) -> Code {
    let _ = (ctx, names, json);
    Code::Unimplemented
}
