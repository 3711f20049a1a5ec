//! LSB exit codes (SPEC §6), the only numbers `main` ever returns.
//!
//! `status` has its own meaning for the low codes (0 running, 1 dead with PID file, 3 not
//! running, 4 unknown), every other action uses the action table. Errors anywhere in the library
//! carry the code they map to, so the edge never has to guess.

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
