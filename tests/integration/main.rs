//! Integration tests: the built `svc` binary against real processes in temporary directories.
//! One binary, one module per area; `util` holds the sandbox, waits and the process guard.

mod util;

mod access;
mod analyze;
mod ansible;
mod ansible_pid1;
mod check;
mod check_host;
mod cli;
mod containment;
mod envfile;
mod examples;
mod forking;
mod health;
mod hooks;
mod hygiene;
mod identity;
mod inetd;
mod inetd_cgroup;
mod inetd_template;
mod init;
mod layout;
mod legacy;
mod lifecycle;
mod links;
mod logs;
mod lsb;
mod oneshot;
mod packaging;
mod procname;
mod readiness;
mod rundir;
mod scale;
mod serve;
mod serve_http;
mod serve_metrics;
mod serve_rpc;
mod status;
mod supervise;
mod switch;
mod sysv;
mod sysv_insserv;
mod sysv_real;
mod together;
