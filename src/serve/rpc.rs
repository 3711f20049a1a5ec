//! supervisord's XML-RPC interface (SPEC §10) over a [`Backend`]: methods, process-info
//! fields, state codes and faults as supervisord's rpcinterface defines them.

use super::Backend;

/// The `methodResponse` document for one `methodCall` body.
pub fn handle(_backend: &dyn Backend, _body: &[u8]) -> Vec<u8> {
    todo!("issue 15: rpc")
}
