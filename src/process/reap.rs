//! Reaping svc's own children by PID (waitpid): the launch's child, a keeper, a switch worker,
//! a supervisor.

use std::io;

/// Waits for a child of ours and returns its status (`None` if it is not ours or is gone).
pub fn reap(pid: i32) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    loop {
        // SAFETY: waitpid on a specific PID with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(std::process::ExitStatus::from_raw(status));
        }
        if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

/// Reaps `pid` if it is an exited child of ours; never blocks.
pub fn reap_nohang(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on a specific PID with a valid status pointer, without blocking.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
}
