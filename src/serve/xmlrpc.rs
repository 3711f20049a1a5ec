//! XML-RPC values: a `methodCall` read with quick-xml, a `methodResponse` written.
