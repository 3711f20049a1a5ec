//! The LSB init-script format (LSB Core 3.1/5.0): [`header`] reads and writes the
//! `### BEGIN INIT INFO` block (pure; the definition loader reads a `script:`'s header with
//! it), [`shim`] writes the script `svc lsb-script` prints, whose actions run `svc ACTION NAME`.
//! Both directions use one writer and one parser, so what svc writes is exactly what it can
//! read back. [`facilities`] reads insserv's map of system facilities (`$syslog`) to services.

pub mod facilities;
pub mod header;
pub mod shim;

pub use header::{
    is_facility, kill_levels, InitInfo, LsbError, ReadCause, ReadError, ACTIONS, BASE_DEPENDENCIES,
    BEGIN, END, FACILITIES,
};
pub use shim::{script, sh_quote, Service, MARKER};
