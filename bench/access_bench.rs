//! The access matcher's micro-benchmark driver (`bench/run --only access` builds and runs it):
//! times many decisions inside one process, which a `svc access-check` per decision (a whole
//! process start, ~1 ms) could not resolve.
//!
//! ```text
//! access_bench CONFIG_DIR DAEMON CLIENT_ADDR ROUND_MS ROUNDS
//! ```
//!
//! Loads `CONFIG_DIR/hosts.allow` and `hosts.deny` with [`Rules::load`] (as `svc inetd` does at
//! start and on SIGHUP), then times [`Rules::check`] (the compiled matcher svc runs) and
//! [`Rules::check_walk`] (the plain walk of every line, svc's matcher before the index) for
//! `DAEMON` from `CLIENT_ADDR`: each calibrated to take about `ROUND_MS` per round, `ROUNDS`
//! rounds, alternating. Prints one JSON object: the verdict (which both must agree on), the load
//! time, and per round the nanoseconds per decision of each.
//!
//! An example target (Cargo.toml), not a binary: it is built in release mode against the
//! library's public API with the same profile as svc (LTO), checked by `cargo clippy
//! --all-targets`, and never installed.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use svc::access::{Rules, SystemResolver};

/// Nanoseconds per call of `f`, over `n` calls.
fn per_call(n: u64, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// How many calls of `f` take about `target`.
fn calibrate(target: Duration, mut f: impl FnMut()) -> u64 {
    let mut n = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        let took = t.elapsed();
        if took >= target / 4 || n >= 1 << 30 {
            let scale = target.as_secs_f64() / took.as_secs_f64().max(1e-9);
            return ((n as f64 * scale) as u64).max(1);
        }
        n *= 2;
    }
}

fn list(xs: &[f64]) -> String {
    let items: Vec<String> = xs.iter().map(|x| format!("{x:.1}")).collect();
    format!("[{}]", items.join(", "))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: access_bench CONFIG_DIR DAEMON CLIENT_ADDR ROUND_MS ROUNDS");
        return ExitCode::from(2);
    }
    let (dir, daemon) = (Path::new(&args[1]), args[2].as_str());
    let Ok(ip) = args[3].parse::<std::net::IpAddr>() else {
        eprintln!("access_bench: {}: not an IP address", args[3]);
        return ExitCode::from(2);
    };
    let (Ok(round_ms), Ok(rounds)) = (args[4].parse::<u64>(), args[5].parse::<usize>()) else {
        eprintln!("access_bench: ROUND_MS and ROUNDS are numbers");
        return ExitCode::from(2);
    };
    let client = SocketAddr::new(ip, 4242);
    let resolver = SystemResolver;

    let t = Instant::now();
    let rules = Rules::load(dir);
    let load_us = t.elapsed().as_secs_f64() * 1e6;
    if rules.has_errors() {
        for p in rules.problems() {
            eprintln!("{p}");
        }
        return ExitCode::from(1);
    }
    let index = rules.check(daemon, client, &resolver);
    let walk = rules.check_walk(daemon, client, None, &resolver);
    if index != walk {
        eprintln!("access_bench: the index decides {index:?}, the walk {walk:?}");
        return ExitCode::from(1);
    }

    let check = || {
        std::hint::black_box(rules.check(
            std::hint::black_box(daemon),
            std::hint::black_box(client),
            &resolver,
        ));
    };
    let check_walk = || {
        std::hint::black_box(rules.check_walk(
            std::hint::black_box(daemon),
            std::hint::black_box(client),
            None,
            &resolver,
        ));
    };
    let target = Duration::from_millis(round_ms);
    let (n_index, n_walk) = (calibrate(target, check), calibrate(target, check_walk));
    let (mut index_ns, mut walk_ns) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        if r % 2 == 0 {
            index_ns.push(per_call(n_index, check));
            walk_ns.push(per_call(n_walk, check_walk));
        } else {
            walk_ns.push(per_call(n_walk, check_walk));
            index_ns.push(per_call(n_index, check));
        }
    }
    println!(
        "{{\"allowed\": {}, \"rule\": \"{}\", \"load_us\": {load_us:.1}, \"calls\": [{n_index}, {n_walk}], \"index_ns\": {}, \"walk_ns\": {}}}",
        index.allowed,
        index.rule,
        list(&index_ns),
        list(&walk_ns)
    );
    ExitCode::SUCCESS
}
