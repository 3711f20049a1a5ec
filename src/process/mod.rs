//! Everything that touches processes: /proc parsing ([`procfs`]), handles that signal and wait
//! through pidfds ([`handle`]), PID files ([`pidfile`]), identity records ([`record`]), who
//! holds a TCP port ([`sockets`]), the launcher ([`launch`]) and the keeper of a forking
//! launch ([`keeper`]), svc's own open-file limit ([`fdlimit`]) and the cancellation of a
//! switch by SIGTERM ([`cancel`]).

pub mod cancel;
pub mod child;
pub mod fdlimit;
pub mod handle;
pub mod keeper;
pub mod launch;
pub mod memory;
pub mod pidfile;
pub mod procfs;
pub mod reap;
pub mod record;
pub mod sockets;
