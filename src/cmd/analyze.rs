//! `analyze`: the last runlevel transition, slowest first, its critical chain, and an SVG.

use std::path::Path;

use super::Context;
use crate::exit::Code;

pub fn run(ctx: &Context, svg: Option<&Path>, json: bool) -> Code {
    let _ = (ctx, svg, json);
    Code::Unimplemented
}
