//! The compiled matcher: one rule file's entries indexed by client address, so a check evaluates
//! only the lines that can match the client instead of walking every line.
//!
//! A line can match a client only if its client list's first segment (before any `EXCEPT`) has
//! an element that matches it. When every element of that segment is an address pattern (an IPv4
//! or IPv6 network, an address being a /32 or /128, or a token that never matches), whether the
//! line *can* match depends on the client's address alone; such a line is filed under each of
//! those networks. Every other line (a host name, `.domain`, `ALL`, `LOCAL`, `KNOWN`, `UNKNOWN`,
//! `PARANOID` in the first segment, or a malformed line) is *unindexed*: a candidate for every
//! client.
//!
//! [`Index::candidates`] yields, in ascending line order, the lines filed under a network that
//! holds the client's (already normalised, so an IPv4-mapped client is looked up as IPv4, as
//! [`Client::matches`](super::pattern::Client::matches) sees it) address, merged with the
//! unindexed ones. The caller evaluates each candidate with the one evaluator the plain walk uses
//! and stops at the first that matches: a line the index leaves out is one whose first segment
//! cannot match, which the walk would have skipped too (without a host-name lookup: address
//! patterns never ask the resolver). So the deciding line, its verdict, its `spawn` expansion and
//! even which lookups are made are the walk's; only the lines that cannot match are not visited.
//!
//! Cost: one hash lookup per distinct prefix length in the file (at most 33 for IPv4, 129 for
//! IPv6) plus the candidates, whatever the number of address rules.

use std::collections::HashMap;
use std::net::IpAddr;

use super::parse::Entry;
use super::pattern::{mask128, mask32, Host};

/// Entry indices (into the rule file's entries), ascending.
type Lines = Vec<u32>;

/// One prefix length's networks and the lines filed under each.
#[derive(Debug, Clone, Default)]
struct Networks<T> {
    len: u8,
    nets: HashMap<T, Lines>,
}

/// One rule file's address index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// One table per IPv4 prefix length present.
    v4: Vec<Networks<u32>>,
    /// One table per IPv6 prefix length present.
    v6: Vec<Networks<u128>>,
    /// The lines the index cannot rule out for any client, ascending.
    unindexed: Lines,
}

/// Files `line` under `net` in the table of prefix length `len` (creating it).
fn file<T: std::hash::Hash + Eq>(tables: &mut Vec<Networks<T>>, len: u8, net: T, line: u32) {
    let pos = match tables.iter().position(|t| t.len == len) {
        Some(p) => p,
        None => {
            tables.push(Networks {
                len,
                nets: HashMap::new(),
            });
            tables.len() - 1
        }
    };
    let lines = tables[pos].nets.entry(net).or_default();
    // Lines are filed in ascending order; a network listed twice on one line is filed once.
    if lines.last() != Some(&line) {
        lines.push(line);
    }
}

impl Index {
    /// Compiles the index of a rule file's entries (once, when the file is loaded).
    pub(crate) fn build(entries: &[Entry]) -> Index {
        let mut index = Index::default();
        for (i, e) in entries.iter().enumerate() {
            let line = u32::try_from(i).unwrap_or(u32::MAX);
            let first = match e {
                Entry::Rule { clients, .. } => clients.0.first(),
                Entry::Malformed { .. } => None,
            };
            let indexable = first.is_some_and(|seg| {
                seg.iter()
                    .all(|h| matches!(h, Host::V4 { .. } | Host::V6 { .. } | Host::Never))
            });
            if !indexable {
                index.unindexed.push(line);
                continue;
            }
            for h in first.into_iter().flatten() {
                match *h {
                    Host::V4 { net, len } => file(&mut index.v4, len, net & mask32(len), line),
                    Host::V6 { net, len } => file(&mut index.v6, len, net & mask128(len), line),
                    // A first segment of address patterns only (checked above); `Never` and
                    // an empty segment match no client: the line is filed nowhere.
                    _ => {}
                }
            }
        }
        index
    }

    /// The lines that may match a client at `ip` (normalised, see
    /// [`normalise`](super::pattern::normalise)), in ascending order, each once.
    pub(crate) fn candidates(&self, ip: IpAddr) -> Candidates<'_> {
        let mut lists: Vec<&[u32]> = Vec::with_capacity(4);
        if !self.unindexed.is_empty() {
            lists.push(&self.unindexed);
        }
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                for t in &self.v4 {
                    if let Some(l) = t.nets.get(&(a & mask32(t.len))) {
                        lists.push(l);
                    }
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                for t in &self.v6 {
                    if let Some(l) = t.nets.get(&(a & mask128(t.len))) {
                        lists.push(l);
                    }
                }
            }
        }
        Candidates { lists, last: None }
    }
}

/// The merge, in ascending order without repeats, of a few ascending lists of lines.
pub(crate) struct Candidates<'a> {
    lists: Vec<&'a [u32]>,
    last: Option<u32>,
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            let (k, line) = self
                .lists
                .iter()
                .enumerate()
                .filter_map(|(k, l)| l.first().map(|&line| (k, line)))
                .min_by_key(|&(_, line)| line)?;
            self.lists[k] = &self.lists[k][1..];
            if self.last == Some(line) {
                continue; // filed under two networks that both hold the client
            }
            self.last = Some(line);
            return Some(line as usize);
        }
    }
}
