//! The order in which one phase of a switch (its stops, or its starts) runs its steps
//! (docs/commands.md, "Switching runlevels"): pure bookkeeping, no processes, so it is unit-tested
//! on its own.
//!
//! The steps come in plan order ([`super::plan`]): by rank, so the steps of one rank form a
//! contiguous group. Only the lowest rank that is not finished may run; within it a step runs
//! once every step of the phase it waits for (`after`) is finished, the lowest plan position
//! first; a step whose requirement (`required`) failed or was skipped is skipped, and so on down
//! the chain. Every operation costs time in proportion to the steps and edges it touches, never
//! to the size of the phase: a phase of 10,000 services is as cheap per step as one of ten
//! (the scheduler runs under the lock every worker thread shares).

use std::collections::{BTreeSet, HashMap};

use super::plan::Step;

/// What a worker should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Run this step (it is marked running).
    Run(usize),
    /// Nothing may run until a running step finishes.
    Wait,
    /// Every step is finished.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Pending,
    Running,
    Finished { ok: bool },
    Skipped(String),
}

/// The state of one phase.
#[derive(Debug)]
pub struct Schedule {
    names: Vec<String>,
    /// The first step of each group (rank), and one past the last.
    bounds: Vec<usize>,
    group_of: Vec<usize>,
    /// Steps waiting for step j (it is in their `after`).
    waiters: Vec<Vec<usize>>,
    /// Steps requiring step j.
    dependants: Vec<Vec<usize>>,
    /// How many of its `after` steps each step still waits for.
    remaining: Vec<usize>,
    /// Steps of each group not finished yet.
    unfinished: Vec<usize>,
    slots: Vec<Slot>,
    /// The group that runs now.
    current: usize,
    /// Pending steps of the current group that wait for nothing.
    ready: BTreeSet<usize>,
    running: usize,
}

impl Schedule {
    pub fn new(steps: &[Step]) -> Schedule {
        let n = steps.len();
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut bounds = vec![0];
        for i in 1..n {
            if steps[i].rank != steps[i - 1].rank {
                bounds.push(i);
            }
        }
        bounds.push(n);
        let groups = bounds.len() - 1;
        let mut group_of = vec![0; n];
        for g in 0..groups {
            group_of[bounds[g]..bounds[g + 1]].fill(g);
        }
        let mut waiters = vec![Vec::new(); n];
        let mut dependants = vec![Vec::new(); n];
        let mut remaining = vec![0; n];
        for (i, s) in steps.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for a in &s.after {
                if let Some(&j) = index.get(a.as_str()) {
                    if j != i && seen.insert(j) {
                        waiters[j].push(i);
                        remaining[i] += 1;
                    }
                }
            }
            let mut seen = BTreeSet::new();
            for r in &s.required {
                if let Some(&j) = index.get(r.as_str()) {
                    if j != i && seen.insert(j) {
                        dependants[j].push(i);
                    }
                }
            }
        }
        let unfinished = (0..groups).map(|g| bounds[g + 1] - bounds[g]).collect();
        let mut s = Schedule {
            names: steps.iter().map(|s| s.name.to_string()).collect(),
            bounds,
            group_of,
            waiters,
            dependants,
            remaining,
            unfinished,
            slots: vec![Slot::Pending; n],
            current: 0,
            ready: BTreeSet::new(),
            running: 0,
        };
        s.enter_group();
        s
    }

    /// The next step to run, marked running; or wait, or done.
    pub fn take(&mut self) -> Next {
        if self.current >= self.unfinished.len() {
            return Next::Done;
        }
        let pick = self.ready.pop_first().or_else(|| {
            // Nothing runs and nothing may: what is left waits for a step that cannot finish
            // before it (a plan never makes one; never hang on it): take the first in order.
            (self.running == 0)
                .then(|| self.group_range().find(|&i| self.slots[i] == Slot::Pending))
                .flatten()
        });
        match pick {
            Some(i) => {
                self.slots[i] = Slot::Running;
                self.running += 1;
                Next::Run(i)
            }
            None => Next::Wait,
        }
    }

    /// Step `i` (running) has finished; `ok` false when it failed, which skips what requires it.
    pub fn finish(&mut self, i: usize, ok: bool) {
        if self.slots[i] != Slot::Running {
            return;
        }
        self.running -= 1;
        self.slots[i] = Slot::Finished { ok };
        self.finished(i);
        if !ok {
            self.skip_dependants(i);
        }
        self.advance();
    }

    /// Skips every step that has not started, with `why`: the phase ends once the running
    /// steps have finished.
    pub fn cancel(&mut self, why: &str) {
        for i in 0..self.slots.len() {
            if self.slots[i] == Slot::Pending {
                self.slots[i] = Slot::Skipped(why.to_string());
                self.unfinished[self.group_of[i]] -= 1;
            }
        }
        self.ready.clear();
        self.advance();
    }

    /// Why step `i` was skipped, if it was.
    pub fn skipped(&self, i: usize) -> Option<&str> {
        match &self.slots[i] {
            Slot::Skipped(why) => Some(why),
            _ => None,
        }
    }

    /// The most steps that can ever run at once: the size of the largest group (only one group
    /// runs at a time), so a phase needs no more threads than this.
    pub fn widest(&self) -> usize {
        self.bounds
            .windows(2)
            .map(|b| b[1] - b[0])
            .max()
            .unwrap_or(0)
    }

    /// How many steps may run now and wait for a thread to take them.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// How many threads waiting in [`Schedule::take`] have something to do now: one per ready
    /// step — or, when no step runs, all of them (the phase is done and they must leave, or
    /// `take` hands out a stuck step). While a step runs and none is ready, none: its finish
    /// is what will wake them. (`usize::MAX` means all.)
    pub fn to_wake(&self) -> usize {
        match (self.ready.len(), self.running) {
            (0, 0) => usize::MAX,
            (n, _) => n,
        }
    }

    fn group_range(&self) -> std::ops::Range<usize> {
        self.bounds[self.current]..self.bounds[self.current + 1]
    }

    /// Step `i` no longer holds anything up.
    fn finished(&mut self, i: usize) {
        self.unfinished[self.group_of[i]] -= 1;
        for k in 0..self.waiters[i].len() {
            let w = self.waiters[i][k];
            self.remaining[w] -= 1;
            if self.remaining[w] == 0
                && self.slots[w] == Slot::Pending
                && self.group_of[w] == self.current
            {
                self.ready.insert(w);
            }
        }
    }

    /// Skips what requires step `i` (which did not start), and what requires those.
    fn skip_dependants(&mut self, i: usize) {
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            for k in 0..self.dependants[j].len() {
                let d = self.dependants[j][k];
                if self.slots[d] == Slot::Pending {
                    let why = format!("requires {}, which did not start", self.names[j]);
                    self.slots[d] = Slot::Skipped(why);
                    self.ready.remove(&d);
                    self.finished(d);
                    stack.push(d);
                }
            }
        }
    }

    /// Moves on past finished groups.
    fn advance(&mut self) {
        let before = self.current;
        while self.current < self.unfinished.len() && self.unfinished[self.current] == 0 {
            self.current += 1;
        }
        if self.current != before {
            self.enter_group();
        }
    }

    fn enter_group(&mut self) {
        while self.current < self.unfinished.len() && self.unfinished[self.current] == 0 {
            self.current += 1;
        }
        if self.current >= self.unfinished.len() {
            return;
        }
        for i in self.group_range() {
            if self.slots[i] == Slot::Pending && self.remaining[i] == 0 {
                self.ready.insert(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::ServiceName;

    fn step(name: &str, rank: u8, after: &[&str], required: &[&str]) -> Step {
        let n = |s: &&str| ServiceName::new(s).unwrap();
        Step {
            name: n(&name),
            number: rank,
            rank,
            after: after.iter().map(n).collect(),
            required: required.iter().map(n).collect(),
        }
    }

    /// Runs the schedule one step at a time, failing the steps named in `fail`; the order.
    fn run(steps: &[Step], fail: &[&str]) -> (Vec<String>, Schedule) {
        let mut s = Schedule::new(steps);
        let mut order = Vec::new();
        loop {
            match s.take() {
                Next::Run(i) => {
                    order.push(steps[i].name.to_string());
                    s.finish(i, !fail.contains(&steps[i].name.as_str()));
                }
                Next::Wait => panic!("nothing runs, yet the phase waits"),
                Next::Done => return (order, s),
            }
        }
    }

    #[test]
    fn groups_run_in_rank_order_and_after_within_a_group() {
        let steps = [
            step("a", 10, &["b"], &[]),
            step("b", 10, &[], &[]),
            step("c", 20, &[], &[]),
            step("d", 20, &["c"], &["c"]),
        ];
        assert_eq!(run(&steps, &[]).0, ["b", "a", "c", "d"]);
    }

    #[test]
    fn a_failed_requirement_skips_its_chain_but_not_a_wanter() {
        let steps = [
            step("base", 10, &[], &[]),
            step("mid", 20, &["base"], &["base"]),
            step("top", 30, &["mid"], &["mid"]),
            step("fan", 30, &["base"], &[]),
        ];
        let (order, s) = run(&steps, &["base"]);
        assert_eq!(order, ["base", "fan"]);
        assert_eq!(s.skipped(1), Some("requires base, which did not start"));
        assert_eq!(s.skipped(2), Some("requires mid, which did not start"));
        assert_eq!(s.skipped(3), None);
    }

    /// `a` and `b` at rank 10, independent; `c` at rank 20.
    fn two_then_one() -> [Step; 3] {
        [
            step("a", 10, &[], &[]),
            step("b", 10, &[], &[]),
            step("c", 20, &[], &[]),
        ]
    }

    #[test]
    fn independent_steps_of_one_rank_run_at_once_and_the_next_rank_waits() {
        let steps = two_then_one();
        let mut s = Schedule::new(&steps);
        assert_eq!(s.take(), Next::Run(0));
        assert_eq!(s.take(), Next::Run(1));
        assert_eq!(s.take(), Next::Wait);
        s.finish(1, true);
        assert_eq!(s.take(), Next::Wait, "a still runs");
        s.finish(0, true);
        assert_eq!(s.take(), Next::Run(2));
        s.finish(2, true);
        assert_eq!(s.take(), Next::Done);
    }

    #[test]
    fn cancel_skips_what_has_not_started_and_the_running_finish() {
        let steps = two_then_one();
        let mut s = Schedule::new(&steps);
        assert_eq!(s.take(), Next::Run(0));
        s.cancel("cancelled");
        assert_eq!(s.take(), Next::Wait);
        s.finish(0, true);
        assert_eq!(s.take(), Next::Done);
        assert_eq!(s.skipped(1), Some("cancelled"));
        assert_eq!(s.skipped(2), Some("cancelled"));
    }

    #[test]
    fn a_wait_on_a_later_step_never_hangs() {
        let steps = [step("a", 10, &["z"], &[]), step("z", 20, &[], &[])];
        assert_eq!(run(&steps, &[]).0, ["a", "z"]);
    }

    #[test]
    fn the_widest_group_bounds_the_threads_and_a_finished_group_readies_the_next() {
        let steps = [
            step("a", 10, &[], &[]),
            step("b", 20, &[], &[]),
            step("c", 20, &[], &[]),
            step("d", 20, &["c"], &[]),
            step("e", 30, &[], &[]),
        ];
        let mut s = Schedule::new(&steps);
        assert_eq!(s.widest(), 3);
        assert_eq!(s.ready(), 1);
        assert_eq!(s.take(), Next::Run(0));
        assert_eq!(s.ready(), 0);
        s.finish(0, true);
        // b and c may run now; d waits for c.
        assert_eq!(s.ready(), 2);
        assert_eq!(s.to_wake(), 2);
        assert_eq!(Schedule::new(&[]).widest(), 0);
        assert_eq!(s.take(), Next::Run(1));
        assert_eq!(s.take(), Next::Run(2));
        // Both run, nothing is ready: no thread has anything to do until one finishes.
        assert_eq!(s.to_wake(), 0);
        s.finish(2, true);
        assert_eq!(s.to_wake(), 1, "d is ready");
        assert_eq!(s.take(), Next::Run(3));
        s.finish(1, true);
        s.finish(3, true);
        assert_eq!(s.to_wake(), 1, "e is ready");
        assert_eq!(s.take(), Next::Run(4));
        s.finish(4, true);
        assert_eq!(s.take(), Next::Done);
        assert_eq!(
            s.to_wake(),
            usize::MAX,
            "done: every waiting thread must leave"
        );
    }

    #[test]
    fn a_long_chain_at_one_number_runs_in_order() {
        // The shape of the scale benchmark's worst case (bench/ measures its time).
        let names: Vec<String> = (0..10_000).map(|i| format!("s{i:05}")).collect();
        let steps: Vec<Step> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let prev: Vec<&str> = if i == 0 { vec![] } else { vec![&names[i - 1]] };
                step(n, 10, &prev, &[])
            })
            .collect();
        let (order, _) = run(&steps, &[]);
        assert_eq!(order.len(), 10_000);
        assert_eq!(order[9_999], "s09999");
    }
}
