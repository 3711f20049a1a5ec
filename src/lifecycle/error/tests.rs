//! Unit tests of the lifecycle error words and codes.
use super::*;
use std::os::unix::process::ExitStatusExt;

fn name() -> ServiceName {
    ServiceName::new("web").unwrap()
}

#[test]
fn script_exit_codes_have_the_lsb_wording() {
    for (code, text) in [
        (0, "not an LSB exit code"),
        (1, "generic or unspecified error"),
        (4, "user had insufficient privilege"),
        (7, "program is not running"),
        (8, "not an LSB exit code"),
        (-1, "not an LSB exit code"),
    ] {
        assert_eq!(meaning(code), text, "{code}");
    }
}

#[test]
fn script_actions_pass_lsb_codes_through() {
    let err = |ran: Ran| LifecycleError::ScriptAction {
        service: name(),
        script: PathBuf::from("/etc/init.d/web"),
        action: Action::Stop,
        ran,
        tail: LogTail::default(),
    };
    let e = err(Ran::Exited(7));
    assert_eq!(e.code(), Code::NotRunning);
    assert_eq!(
        e.to_string(),
        "web: `/etc/init.d/web stop` exited 7 (program is not running)"
    );
    assert_eq!(err(Ran::Exited(2)).code(), Code::InvalidArgs);
    assert_eq!(err(Ran::Exited(9)).code(), Code::Failure);
    assert_eq!(
        err(Ran::TimedOut(Duration::from_secs(2))).to_string(),
        "web: `/etc/init.d/web stop` did not finish within 2s; its process group was killed"
    );
}

#[test]
fn permission_denied_is_a_privilege_problem() {
    let denied = io::Error::from(io::ErrorKind::PermissionDenied);
    let e = LifecycleError::Lock {
        path: PathBuf::from("/run/svc/web.lock"),
        source: denied,
    };
    assert_eq!(e.code(), Code::Privilege);
    assert!(e.to_string().starts_with("cannot lock /run/svc/web.lock: "));
    let log = |step| LifecycleError::OpenLog {
        path: PathBuf::from("/x"),
        step,
        source: io::Error::from(io::ErrorKind::PermissionDenied),
    };
    assert_eq!(log(LogStep::File).code(), Code::Failure);
    assert_eq!(
        log(LogStep::File).to_string(),
        "cannot open log /x: permission denied"
    );
    assert_eq!(log(LogStep::Directory).to_string(), "permission denied");
    let script = LifecycleError::OpenScriptLog {
        path: PathBuf::from("/x"),
        step: LogStep::File,
        source: io::Error::from(io::ErrorKind::PermissionDenied),
    };
    assert_eq!(script.code(), Code::Privilege);
}

#[test]
fn the_log_tail_ends_the_message() {
    let e = LifecycleError::DiedStarting {
        service: name(),
        pid: 12,
        status: Some(ExitStatus::from_raw(256)),
        tail: LogTail {
            quoted: Some(Box::new((
                PathBuf::from("/var/log/web.log"),
                vec!["boom".into()],
            ))),
        },
    };
    assert_eq!(
        e.to_string(),
        "web: process 12 exited with status 1 while starting; last lines of /var/log/web.log:\n    boom"
    );
    assert_eq!(
        describe_exit(ExitStatus::from_raw(9)),
        "was killed by signal SIGKILL"
    );
}

#[test]
fn a_supervisor_report_keeps_its_code() {
    for (c, code) in [
        (5, Code::NotInstalled),
        (4, Code::Privilege),
        (1, Code::Failure),
    ] {
        let e = LifecycleError::Reported {
            code: c,
            message: "web: x".into(),
        };
        assert_eq!(e.code(), code);
        assert_eq!(e.to_string(), "web: x");
    }
}
