//! Everything that touches processes: /proc parsing ([`procfs`]), handles that signal and wait
//! through pidfds ([`handle`]), PID files ([`pidfile`]), identity records ([`record`]), who
//! holds a TCP port ([`sockets`]); the forks: the launcher ([`launch`], the parent's side, and
//! [`child`], what the child runs until exec, on raw system calls: `syscall`), the keeper of a
//! forking launch ([`keeper`]) and the switch's worker processes ([`worker`]), and reaping them
//! ([`reap`]); signalling a
//! service's process group ([`group`]) and its cgroup ([`cgroup`]); returning freed memory
//! ([`memory`]), the cancellation of a switch by SIGTERM ([`cancel`]) and signals read from a
//! signalfd ([`sigfd`]). svc's own open-file limit is [`crate::fdlimit`].

pub mod cancel;
pub mod cgroup;
pub mod child;
pub mod group;
pub mod handle;
pub mod keeper;
pub mod launch;
pub mod memory;
pub mod pidfile;
pub mod procfs;
pub mod reap;
pub mod record;
pub mod sigfd;
pub mod sockets;
mod syscall;
pub mod worker;
