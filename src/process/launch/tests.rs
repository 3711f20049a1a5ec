//! Unit tests of the launch: program headers and the connection launch.

use super::*;

fn wait(pid: i32) -> i32 {
    match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
        Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => code,
        other => panic!("{other:?}"),
    }
}

/// The connection launch (the child shares svc's memory until its exec): the connection is
/// its stdin and stdout, it runs in its own session with a clean signal mask (svc blocks
/// every signal around the clone), and the same template serves again; a failed exec
/// comes back through the watch.
#[test]
fn a_connection_launch_runs_the_program_on_the_connection_and_reports_a_failed_exec() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let template = Launch::sh(
        "read line; echo \"got $line sid=$(cut -d' ' -f6 /proc/$$/stat) \
         pid=$$ $(grep SigBlk /proc/$$/status)\"",
    );
    for round in 0..3 {
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        let pending = template.fork_on(&OwnedFd::from(theirs)).unwrap();
        let pid = pending.release_async().outcome().unwrap();
        writeln!(ours, "r{round}").unwrap();
        let mut out = String::new();
        ours.read_to_string(&mut out).unwrap();
        assert_eq!(wait(pid), 0);
        assert_eq!(
            out,
            format!("got r{round} sid={pid} pid={pid} SigBlk:\t0000000000000000\n")
        );
    }
    let mut missing = Launch::sh("");
    missing.program = PathBuf::from("/nonexistent/program");
    let (_ours, theirs) = UnixStream::pair().unwrap();
    let pending = missing.fork_on(&OwnedFd::from(theirs)).unwrap();
    let pid = pending.pid();
    match pending.release_async().outcome() {
        Err(LaunchError::NotInstalled { path, .. }) => {
            assert_eq!(path, PathBuf::from("/nonexistent/program"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(wait(pid), 127);
}

#[test]
fn header_read_errors_are_reported_as_themselves() {
    let emfile = check_header(Err(io::Error::from_raw_os_error(libc::EMFILE))).unwrap_err();
    assert_eq!(emfile.1.raw_os_error(), Some(libc::EMFILE));
    let eio = check_header(Err(io::Error::from_raw_os_error(libc::EIO))).unwrap_err();
    assert_eq!(eio.1.raw_os_error(), Some(libc::EIO));
    // Execute-only: execve decides.
    assert!(check_header(Err(io::Error::from_raw_os_error(libc::EACCES))).is_ok());
    assert!(check_header(Ok((*b"\x7fELF", 4))).is_ok());
    assert!(check_header(Ok((*b"#!/b", 4))).is_ok());
    assert!(check_header(Ok((*b"#!\0\0", 2))).is_ok());
    let junk = check_header(Ok((*b"echo", 4))).unwrap_err();
    assert_eq!(junk.1.raw_os_error(), Some(libc::ENOEXEC));
}

/// The child of a service's launch shares svc's memory on a stack of its own while svc records
/// it: it does not run the program before its release, runs it afterwards in its own session
/// with a clean signal mask (svc blocks every signal around the clone), reports a failed step
/// with its own error number, and exits without running anything when svc drops it unreleased.
#[test]
fn a_waiting_launch_runs_only_once_released_and_reports_its_failures() {
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let out = dir.path().join("out");
    let mut launch = Launch::sh(&format!(
        "echo \"sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$ $(grep SigBlk /proc/$$/status)\" \
         > {}; touch {}",
        out.display(),
        ran.display()
    ));
    launch.workdir = dir.path().to_path_buf();
    let pending = launch.without_fds().fork().unwrap();
    let pid = pending.pid();
    // Born sharing this process's memory, not a copy of it: a mapping made after its birth
    // is its mapping too.
    let later = vec![1u8; 8 << 20];
    let at = later.as_ptr() as usize;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mapped = maps.lines().any(|l| {
        let range = l.split(' ').next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let num = |h: &str| usize::from_str_radix(h, 16).unwrap();
        (num(lo)..num(hi)).contains(&at)
    });
    assert!(mapped, "the child got a copy of svc's memory");
    drop(later);
    assert!(!ran.exists(), "the program ran before its release");
    assert_eq!(pending.release().unwrap(), pid);
    assert_eq!(wait(pid), 0);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("sid={pid} pid={pid} SigBlk:\t0000000000000000\n")
    );

    // Dropped unreleased (svc failed to record it): it exits, and nothing ran.
    std::fs::remove_file(&ran).unwrap();
    let pending = launch.without_fds().fork().unwrap();
    let pid = pending.pid();
    drop(pending);
    assert_eq!(wait(pid), 126);
    assert!(!ran.exists());

    // A failed step comes back with its own errno, the program unrun.
    let mut nowhere = launch.without_fds();
    nowhere.workdir = dir.path().join("missing");
    let pending = nowhere.fork().unwrap();
    let pid = pending.pid();
    match pending.release() {
        Err(LaunchError::Failed { step, err, .. }) => {
            assert_eq!(step, "chdir to the working directory");
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        }
        other => panic!("{other:?}"),
    }
    // `release` reaped it.
    assert!(nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).is_err());
    assert!(!ran.exists());
}
