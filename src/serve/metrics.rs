//! The Prometheus text format of every service (SPEC §10): `GET /metrics` and
//! `svc status --prometheus`.

use super::Service;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition text for `services` and the current runlevel.
pub fn render(_services: &[Service], _runlevel: Option<char>) -> String {
    todo!("issue 15: metrics")
}
