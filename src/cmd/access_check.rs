//! `svc access-check NAME ADDRESS` (SPEC §5.2): svc's tcpdmatch.

use super::Context;
use crate::exit::Code;
use crate::name::ServiceName;

pub fn run(ctx: &Context, name: &ServiceName, address: &str) -> Code {
    let _ = (name, address);
    ctx.out.error("svc access-check is not implemented yet");
    Code::Unimplemented
}
