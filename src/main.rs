//! The `svc` binary: parse the command line, run it, exit with the LSB code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = svc::cli::Cli::parse();
    let code = svc::cmd::run(cli);
    std::process::ExitCode::from(code.as_i32() as u8)
}
