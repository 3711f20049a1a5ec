//! Everything that touches processes: /proc parsing ([`procfs`]), handles that signal and wait
//! through pidfds ([`handle`]), PID files ([`pidfile`]), identity records ([`record`]), who
//! holds a TCP port ([`sockets`]) and the launcher ([`launch`]).

pub mod handle;
pub mod keeper;
pub mod launch;
pub mod memory;
pub mod pidfile;
pub mod procfs;
pub mod record;
pub mod sockets;
