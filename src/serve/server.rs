//! The listeners of `svc serve` (the UNIX socket, TCP) and the accept loop.
