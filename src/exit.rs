//! LSB exit codes, the only numbers `main` ever returns, and the one table of what each means.
//!
//! `status` has its own meaning for the low codes (0 running, 1 dead with PID file, 3 not
//! running, 4 unknown), every other action uses the action column. Errors anywhere in the
//! library carry the code they map to, so the edge never has to guess. [`TABLE`] is the only
//! place the meanings are written out: svc(8)'s EXIT STATUS section and the table in
//! `docs/commands.md` are generated from it (`crate::docgen`), and messages that explain a code
//! (an LSB script's exit status, say) take [`Meaning::lsb`] from it.

/// An LSB exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// 0: success (status: running).
    Success = 0,
    /// 1: generic failure (status: dead but PID file exists).
    Failure = 1,
    /// 2: invalid or excess arguments.
    InvalidArgs = 2,
    /// 3: unimplemented feature (status: not running).
    Unimplemented = 3,
    /// 4: insufficient privilege (status: unknown).
    Privilege = 4,
    /// 5: not installed: no such service or program.
    NotInstalled = 5,
    /// 6: not configured: the definition is invalid.
    NotConfigured = 6,
    /// 7: not running (reload).
    NotRunning = 7,
}

/// What one exit code means: one row of [`TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meaning {
    pub code: Code,
    /// A short name for the code after an action: `not installed`.
    pub name: &'static str,
    /// The LSB specification's own wording for an action's code (`program is not installed`),
    /// for messages that explain a number another program returned.
    pub lsb: &'static str,
    /// What svc means by it after any command but `status`, with the cases that give it.
    pub action: &'static str,
    /// What it means from `status`; `None` where status never returns it.
    pub status: Option<&'static str>,
}

/// The LSB exit codes in order, 0 to 7.
pub const TABLE: [Meaning; 8] = [
    Meaning {
        code: Code::Success,
        name: "success",
        lsb: "success",
        action: "success (also: already running or already done for start, not running for stop)",
        status: Some("running (or starting while its process is up; a done one-shot task)"),
    },
    Meaning {
        code: Code::Failure,
        name: "generic failure",
        lsb: "generic or unspecified error",
        action: "generic failure (exec failed, start failed, not ready in time, something \
                 survived KILL; access-check: the client is denied)",
        status: Some("dead, and the PID file exists"),
    },
    Meaning {
        code: Code::InvalidArgs,
        name: "invalid arguments",
        lsb: "invalid or excess arguments",
        action: "invalid arguments (bad service name, unknown option or command)",
        status: None,
    },
    Meaning {
        code: Code::Unimplemented,
        name: "unimplemented",
        lsb: "unimplemented feature",
        action: "unimplemented (reload without reload_signal; svc start of a socket: service)",
        status: Some("not running (also failed)"),
    },
    Meaning {
        code: Code::Privilege,
        name: "insufficient privilege",
        lsb: "user had insufficient privilege",
        action: "insufficient privilege (a user switch asked for without root; an ordinary user \
                 acting on root's services: the state directory or the process is not theirs)",
        status: Some("unknown (no such service; a script: service whose status cannot tell)"),
    },
    Meaning {
        code: Code::NotInstalled,
        name: "not installed",
        lsb: "program is not installed",
        action: "not installed: no such service, or its exec is missing or not executable",
        status: None,
    },
    Meaning {
        code: Code::NotConfigured,
        name: "not configured",
        lsb: "program is not configured",
        action: "not configured: an invalid definition or runlevel directory (svc check exits 6 \
                 on any problem)",
        status: None,
    },
    Meaning {
        code: Code::NotRunning,
        name: "not running",
        lsb: "program is not running",
        action: "not running (reload)",
        status: None,
    },
];

impl Code {
    /// status: the service is running.
    pub const STATUS_RUNNING: Code = Code::Success;
    /// status: dead but the PID file exists.
    pub const STATUS_DEAD: Code = Code::Failure;
    /// status: not running.
    pub const STATUS_STOPPED: Code = Code::Unimplemented;
    /// status: unknown (no such service, cannot tell).
    pub const STATUS_UNKNOWN: Code = Code::Privilege;

    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The code for an LSB number 0–7; `None` for any other number.
    pub fn from_i32(n: i32) -> Option<Code> {
        TABLE.iter().map(|m| m.code).find(|c| c.as_i32() == n)
    }

    /// This code's row of [`TABLE`].
    pub fn meaning(self) -> &'static Meaning {
        &TABLE[self as usize]
    }

    /// With several names, the exit code is the first non-zero one in argument order.
    pub fn first_failure(codes: impl IntoIterator<Item = Code>) -> Code {
        codes
            .into_iter()
            .find(|c| *c != Code::Success)
            .unwrap_or(Code::Success)
    }
}

/// Anything that knows which LSB code it stands for.
pub trait HasCode {
    fn code(&self) -> Code;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_code_once_in_order() {
        for (i, m) in TABLE.iter().enumerate() {
            assert_eq!(m.code.as_i32(), i as i32, "{m:?}");
            assert_eq!(m.code.meaning(), m);
            assert_eq!(Code::from_i32(i as i32), Some(m.code));
        }
        assert_eq!(Code::from_i32(8), None);
        assert_eq!(Code::from_i32(-1), None);
    }

    #[test]
    fn status_meanings_sit_on_the_status_codes() {
        for c in [
            Code::STATUS_RUNNING,
            Code::STATUS_DEAD,
            Code::STATUS_STOPPED,
            Code::STATUS_UNKNOWN,
        ] {
            assert!(c.meaning().status.is_some(), "{c:?}");
        }
        let with_status = TABLE.iter().filter(|m| m.status.is_some()).count();
        assert_eq!(with_status, 4);
    }

    #[test]
    fn lsb_wording_is_the_specification_s() {
        assert_eq!(Code::NotInstalled.meaning().lsb, "program is not installed");
        assert_eq!(Code::Failure.meaning().lsb, "generic or unspecified error");
    }
}
