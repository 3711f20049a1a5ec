//! The read-only status page (`GET /`): the table of `svc status` as HTML.

use super::Service;

/// The page for `services` and the current runlevel.
pub fn render(_services: &[Service], _runlevel: Option<char>) -> String {
    todo!("issue 15: page")
}
