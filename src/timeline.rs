//! The boot timeline: when each service of a runlevel transition began to start (or stop) and
//! when it was ready (or failed), kept for `svc analyze`. Nothing in the SysV world shows one;
//! this is svc's `systemd-analyze blame`.
//!
//! The latest transition is `<state>/timeline.json`; the [`KEEP`]` - 1` before it are kept as
//! `timeline.1.json` (the one before the latest) … `timeline.4.json`, so a `switch 0` does not
//! replace the boot's record. Each file holds one transition, in the same format as always, so
//! records written by earlier versions are read as they are. The picture is drawn in [`svg`].

mod svg;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use svg::{to_svg, xml_escape};

/// How many transitions are kept, the latest included.
pub const KEEP: usize = 5;

/// One runlevel transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The runlevel switched to (`"3"`, `"S"`; `boot` records rcS.d and the target in one
    /// timeline, with target `"S+3"`).
    pub target: String,
    /// Unix time in milliseconds when the transition began; every other time is relative to it.
    pub started_at_unix_ms: u64,
    /// Milliseconds from the beginning to the end of the transition.
    pub total_ms: u64,
    pub services: Vec<Step>,
}

/// What happened to one service during the transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// `"start"` or `"stop"`.
    pub action: String,
    /// The entry's number (NN of `S<NN>name` / `K<NN>name`).
    pub number: u8,
    /// When svc began to start (or stop) it; `None` if it was skipped.
    pub begin_ms: Option<u64>,
    /// When it was ready (start) or gone (stop); `None` if it failed or was skipped.
    pub ready_ms: Option<u64>,
    /// When svc was done with it: ready or gone, or failed. Absent in records of earlier
    /// versions and for skipped steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    /// `"ok"`, `"failed"`, `"skipped"` (a dependency failed or was left out) or `"already"`
    /// (already running / already stopped: nothing was done).
    pub outcome: String,
    /// The services it waited for (its `requires` and `wants` that were part of the transition).
    pub after: Vec<String>,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Timeline {
    /// Reads one record (`<state>/timeline.json`, or an earlier one: see [`nth_path`]), never
    /// blocking on it: a FIFO or anything else but a regular file is an error
    /// ([`crate::regular`]). Not `Links::Refuse`: after a crash in [`Timeline::save`] a record
    /// may have two names.
    pub fn load(path: &Path) -> std::io::Result<Timeline> {
        let text = crate::regular::read(path, crate::regular::Links::Follow)?;
        serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Records it as the latest transition at `path` (`<state>/timeline.json`), written
    /// atomically, keeping the [`KEEP`]` - 1` records before it: `timeline.1.json` … move one
    /// place back (the oldest is dropped), the previous latest becomes `timeline.1.json` (a
    /// hard link, so `path` never goes missing), then `path` is replaced. The caller holds
    /// the switch lock, so two records never interleave. A save cut short after that link
    /// left the latest under both names: then it is only replaced, so no record is kept twice.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let previous = nth_path(path, 1);
        if !same_file(path, &previous) {
            rotate(path)?;
        }
        crate::process::pidfile::write_atomic(path, &text, 0o644)
    }
}

/// Whether `a` and `b` are names of one file (neither followed if a symlink).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

/// Moves the records one place back, the latest (`path`) to `timeline.1.json` as a second name.
fn rotate(path: &Path) -> std::io::Result<()> {
    for n in (1..KEEP - 1).rev() {
        match std::fs::rename(nth_path(path, n), nth_path(path, n + 1)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let previous = nth_path(path, 1);
    let _ = std::fs::remove_file(&previous);
    match std::fs::hard_link(path, &previous) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // A file system without hard links: moved instead, for a moment there is none.
        Err(_) => std::fs::rename(path, &previous)?,
        Ok(()) => {}
    }
    Ok(())
}

/// The record `n` transitions before the latest: `path` itself for 0, else
/// `timeline.N.json` beside it.
pub fn nth_path(path: &Path, n: usize) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "timeline".into());
    path.with_file_name(format!("{stem}.{n}.json"))
}

impl Step {
    /// How long it took: `ready_ms - begin_ms`; `None` unless it has both.
    pub fn duration_ms(&self) -> Option<u64> {
        Some(self.ready_ms?.saturating_sub(self.begin_ms?))
    }
}

/// The steps slowest first, like `systemd-analyze blame`: every step with a duration, longest
/// first (ties by name), then the ones without (failed, then already/other, then skipped), in
/// the order they were recorded.
pub fn blame(t: &Timeline) -> Vec<&Step> {
    let mut timed: Vec<&Step> = t
        .services
        .iter()
        .filter(|s| s.duration_ms().is_some())
        .collect();
    timed.sort_by(|a, b| {
        b.duration_ms()
            .cmp(&a.duration_ms())
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut untimed: Vec<&Step> = t
        .services
        .iter()
        .filter(|s| s.duration_ms().is_none())
        .collect();
    untimed.sort_by_key(|s| match s.outcome.as_str() {
        "failed" => 0,
        "skipped" => 2,
        _ => 1,
    });
    timed.extend(untimed);
    timed
}

/// Whether `p` (at index `pi`) had to be finished before `s` (at index `si`) could begin:
/// `s` waited for it (`after`), or it is a barrier. Entries run in ascending number order, so a
/// lower number of the same action is a barrier; so is every stop for a start (stops come
/// first), and an entry of the same action recorded earlier with a *higher* number (an earlier
/// phase: `boot` records rcS.d before the target runlevel, and each phase is recorded in
/// execution order). An approximation: `switch` runs a required service at its dependant's
/// lower number when it has to, and the step records only the entry's own number; since the
/// predecessor must also have been ready before the step began, the chain stays a real one.
fn blocks(p: &Step, pi: usize, s: &Step, si: usize) -> bool {
    if s.after.contains(&p.name) {
        return true;
    }
    if p.action == s.action {
        p.number < s.number || (pi < si && p.number > s.number)
    } else {
        p.action == "stop" && s.action == "start"
    }
}

/// The critical chain, first to last: it ends at the step that was ready last and walks back,
/// from each step, to the predecessor (a service it waited for, or a barrier: see `blocks`)
/// that was ready last before it began. Steps without both times are never part of it; an
/// empty timeline (or one where nothing got ready) has an empty chain.
pub fn critical_chain(t: &Timeline) -> Vec<&Step> {
    let steps = &t.services;
    let timed = |s: &Step| s.begin_ms.is_some() && s.ready_ms.is_some();
    let last = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| timed(s))
        .max_by_key(|(i, s)| (s.ready_ms, s.begin_ms, *i));
    let Some((mut cur, _)) = last else {
        return Vec::new();
    };
    let mut seen = vec![false; steps.len()];
    seen[cur] = true;
    let mut chain = vec![&steps[cur]];
    loop {
        let s = &steps[cur];
        let begin = s.begin_ms.unwrap_or(0);
        let pred = steps
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                !seen[*i]
                    && timed(p)
                    && p.ready_ms.is_some_and(|r| r <= begin)
                    && blocks(p, *i, s, cur)
            })
            .max_by_key(|(i, p)| (p.ready_ms, s.after.contains(&p.name), *i));
        match pred {
            Some((i, p)) => {
                seen[i] = true;
                chain.push(p);
                cur = i;
            }
            None => break,
        }
    }
    chain.reverse();
    chain
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn step(
        name: &str,
        number: u8,
        begin: Option<u64>,
        ready: Option<u64>,
        after: &[&str],
    ) -> Step {
        let outcome = match (begin, ready) {
            (Some(_), Some(_)) => "ok",
            (Some(_), None) => "failed",
            _ => "skipped",
        };
        Step {
            name: name.into(),
            action: "start".into(),
            number,
            begin_ms: begin,
            ready_ms: ready,
            end_ms: ready.or(begin.map(|b| b + 2)),
            outcome: outcome.into(),
            after: after.iter().map(|a| a.to_string()).collect(),
            error: None,
        }
    }

    pub(crate) fn timeline(services: Vec<Step>) -> Timeline {
        Timeline {
            target: "3".into(),
            started_at_unix_ms: 1_714_564_800_000,
            total_ms: 1000,
            services,
        }
    }

    fn names<'a>(steps: &[&'a Step]) -> Vec<&'a str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// net (S10, 0..100); db (S20, after net, 100..400) and cache (S20, 100..150) in parallel;
    /// httpd (S30, wants cache, 400..460): it waited for db as a barrier.
    pub(crate) fn sample() -> Timeline {
        let mut stop = step("old", 50, Some(0), Some(5), &[]);
        stop.action = "stop".into();
        let mut failed = step("mail", 30, Some(400), None, &[]);
        failed.error = Some("exec failed".into());
        timeline(vec![
            stop,
            step("net", 10, Some(5), Some(100), &[]),
            step("db", 20, Some(100), Some(400), &["net"]),
            step("cache", 20, Some(100), Some(150), &["net"]),
            step("httpd", 30, Some(400), Some(460), &["cache"]),
            failed,
            step("web2", 40, None, None, &["mail"]),
        ])
    }

    #[test]
    fn blame_slowest_first_then_failed_then_skipped() {
        let t = sample();
        assert_eq!(
            names(&blame(&t)),
            ["db", "net", "httpd", "cache", "old", "mail", "web2"]
        );
        assert_eq!(t.services[2].duration_ms(), Some(300));
        assert_eq!(t.services[5].duration_ms(), None);
    }

    #[test]
    fn chain_walks_back_through_barriers_and_dependencies() {
        let t = sample();
        // httpd waited for cache (after) but db (a lower number) finished later: db is the
        // blocker; db waited for net; net for the stop of old.
        assert_eq!(names(&critical_chain(&t)), ["old", "net", "db", "httpd"]);
    }

    #[test]
    fn chain_prefers_dependency_on_a_tie_and_ignores_parallel_peers() {
        let t = timeline(vec![
            step("a", 10, Some(0), Some(50), &[]),
            step("b", 10, Some(0), Some(50), &[]),
            step("c", 20, Some(50), Some(90), &["a"]),
            // Same number as c, began after c was ready: c is no barrier for it, a and b are.
            step("d", 20, Some(95), Some(100), &[]),
        ]);
        assert_eq!(names(&critical_chain(&t)), ["b", "d"]);
        let t = timeline(t.services[..3].to_vec());
        assert_eq!(names(&critical_chain(&t)), ["a", "c"]);
    }

    #[test]
    fn chain_across_boot_phases_and_degenerate_timelines() {
        // boot: rcS.d (S40 sysinit) then rc3.d (S10 net): the earlier phase is a barrier.
        let t = timeline(vec![
            step("sysinit", 40, Some(0), Some(30), &[]),
            step("net", 10, Some(30), Some(60), &[]),
        ]);
        assert_eq!(names(&critical_chain(&t)), ["sysinit", "net"]);
        assert!(critical_chain(&timeline(vec![])).is_empty());
        let t = timeline(vec![step("x", 10, Some(0), None, &[])]);
        assert!(critical_chain(&t).is_empty());
        // Zero-length steps at the same instant do not loop.
        let t = timeline(vec![
            step("p", 10, Some(0), Some(0), &["q"]),
            step("q", 10, Some(0), Some(0), &["p"]),
        ]);
        assert_eq!(critical_chain(&t).len(), 2);
    }

    #[test]
    fn earlier_records_are_kept_up_to_keep() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.json");
        assert_eq!(nth_path(&path, 0), path);
        assert_eq!(nth_path(&path, 2), dir.path().join("timeline.2.json"));
        for i in 0..KEEP + 2 {
            let mut t = sample();
            t.target = i.to_string();
            t.save(&path).unwrap();
        }
        let kept: Vec<String> = (0..KEEP + 2)
            .filter_map(|n| Timeline::load(&nth_path(&path, n)).ok())
            .map(|t| t.target)
            .collect();
        assert_eq!(kept, ["6", "5", "4", "3", "2"]);
        // Records of earlier versions have no end_ms.
        let old = r#"{"target":"3","started_at_unix_ms":0,"total_ms":1,"services":[
            {"name":"a","action":"start","number":1,"begin_ms":0,"ready_ms":null,
             "outcome":"failed","after":[]}]}"#;
        std::fs::write(&path, old).unwrap();
        assert_eq!(Timeline::load(&path).unwrap().services[0].end_ms, None);
    }

    /// A save cut short after the previous latest got its second name (`timeline.1.json`, a
    /// hard link) but before the new one was written leaves that record under both names; the
    /// next save must not keep it twice.
    #[test]
    fn a_save_cut_short_leaves_no_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.json");
        let save = |target: &str| {
            let mut t = sample();
            t.target = target.into();
            t.save(&path).unwrap();
        };
        save("x");
        save("a");
        // The cut-short save of "b": the older records moved back, the latest linked as 1.
        std::fs::rename(nth_path(&path, 1), nth_path(&path, 2)).unwrap();
        std::fs::hard_link(&path, nth_path(&path, 1)).unwrap();
        save("c");
        let kept: Vec<String> = (0..KEEP)
            .filter_map(|n| Timeline::load(&nth_path(&path, n)).ok())
            .map(|t| t.target)
            .collect();
        assert_eq!(kept, ["c", "a", "x"]);
    }
}
