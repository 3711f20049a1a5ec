//! `svc serve` (SPEC §10): reads the `serve:` settings, opens the listeners and answers with
//! the [`backend::Local`] backend until SIGTERM or SIGINT.

mod backend;

use super::Context;
use crate::exit::Code;

pub fn run(_ctx: &Context, _listen: Option<&str>) -> Code {
    todo!("issue 15: serve entry")
}
