//! Multi-pattern prefilter on one buffer: a matcher over the case-folded fast patterns of a
//! group's rules; a hit makes every rule sharing that pattern a candidate. Matching is ASCII
//! case-insensitive (exact case is verified by inspection) and reports every pattern present in
//! the buffer.
//!
//! Two matchers, chosen per rule set ([`Mpm`]): Hyperscan (the default, as in Suricata; each
//! pattern reported once per scan) and an overlapping Aho-Corasick automaton (every
//! occurrence). Should Hyperscan refuse a pattern set, that buffer falls back to Aho-Corasick.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::super::ir::Buffer;
use super::hyperscan::{HsDatabase, HsScratch};

/// Pattern bytes above which aho-corasick is not allowed its DFA (build time).
const DFA_MAX_PATTERN_BYTES: usize = 4096;

/// The multi-pattern matcher behind the prefilters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mpm {
    /// Hyperscan literal databases (libhs).
    #[default]
    Hyperscan,
    /// The aho-corasick crate's overlapping automaton.
    AhoCorasick,
}

impl Mpm {
    /// The name `--mpm` takes.
    pub fn name(self) -> &'static str {
        match self {
            Mpm::Hyperscan => "hs",
            Mpm::AhoCorasick => "ac",
        }
    }
}

impl std::str::FromStr for Mpm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hs" | "hyperscan" => Ok(Mpm::Hyperscan),
            "ac" | "aho-corasick" => Ok(Mpm::AhoCorasick),
            _ => Err(format!("unknown matcher {s:?} (hs or ac)")),
        }
    }
}

enum Matcher {
    Hs(HsDatabase),
    Ac(AhoCorasick),
}

/// Collects pattern -> rules pairs for one buffer of one group, then builds the automaton.
#[derive(Default)]
pub(crate) struct PrefilterBuilder {
    ids: HashMap<Vec<u8>, usize>,
    patterns: Vec<Vec<u8>>,
    rules: Vec<Vec<u32>>,
}

impl PrefilterBuilder {
    /// Registers `rule` under the (already folded, non-empty) pattern.
    pub(crate) fn add(&mut self, folded: &[u8], rule: u32) {
        let id = match self.ids.get(folded) {
            Some(&id) => id,
            None => {
                let id = self.patterns.len();
                self.ids.insert(folded.to_vec(), id);
                self.patterns.push(folded.to_vec());
                self.rules.push(Vec::new());
                id
            }
        };
        self.rules[id].push(rule);
    }

    /// Every rule registered.
    pub(crate) fn rule_ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.rules.iter().flatten().copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Builds the matcher. Fails only if both matchers refuse the pattern set (size limits).
    /// When Hyperscan was asked for and refused the set, the prefilter runs on aho-corasick
    /// and remembers why ([`Prefilter::fallback`]).
    pub(crate) fn build(self, buffer: Buffer, mpm: Mpm) -> Result<Prefilter, aho_corasick::BuildError> {
        let (hs, fallback) = match mpm {
            Mpm::Hyperscan => match HsDatabase::literals(&self.patterns) {
                Ok(db) => (Some(db), None),
                Err(e) => (None, Some(e.to_string())),
            },
            Mpm::AhoCorasick => (None, None),
        };
        let matcher = match hs {
            Some(db) => Matcher::Hs(db),
            None => {
                // aho-corasick picks a DFA for small sets; with very long patterns (a DFA state
                // per byte) its build takes minutes, so those get the contiguous NFA that large
                // sets get anyway.
                let bytes: usize = self.patterns.iter().map(Vec::len).sum();
                let kind = (bytes > DFA_MAX_PATTERN_BYTES).then_some(AhoCorasickKind::ContiguousNFA);
                Matcher::Ac(
                    AhoCorasickBuilder::new()
                        .match_kind(MatchKind::Standard)
                        .ascii_case_insensitive(true)
                        .kind(kind)
                        .build(&self.patterns)?,
                )
            }
        };
        let mut starts = Vec::with_capacity(self.rules.len() + 1);
        let mut flat = Vec::new();
        let mut distinct: Vec<u32> = Vec::new();
        for mut list in self.rules {
            list.sort_unstable();
            list.dedup();
            starts.push(flat.len() as u32);
            distinct.extend_from_slice(&list);
            flat.extend(list);
        }
        starts.push(flat.len() as u32);
        distinct.sort_unstable();
        distinct.dedup();
        Ok(Prefilter { buffer, matcher, fallback, starts, rules: flat, rule_count: distinct.len() })
    }
}

/// One buffer's matcher and its pattern -> rules table.
pub(crate) struct Prefilter {
    /// The buffer it scans.
    pub(crate) buffer: Buffer,
    matcher: Matcher,
    fallback: Option<String>,
    /// `rules[starts[p]..starts[p + 1]]` are the rules of pattern `p`.
    starts: Vec<u32>,
    rules: Vec<u32>,
    rule_count: usize,
}

impl Prefilter {
    /// Distinct patterns.
    pub(crate) fn patterns(&self) -> usize {
        match &self.matcher {
            Matcher::Hs(db) => db.patterns(),
            Matcher::Ac(ac) => ac.patterns_len(),
        }
    }

    /// Distinct rules reachable.
    pub(crate) fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// The matcher in use.
    pub(crate) fn mpm(&self) -> Mpm {
        match self.matcher {
            Matcher::Hs(_) => Mpm::Hyperscan,
            Matcher::Ac(_) => Mpm::AhoCorasick,
        }
    }

    /// Why Hyperscan was not used although asked for (libhs refused the pattern set).
    pub(crate) fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Heap bytes of the matcher.
    pub(crate) fn matcher_bytes(&self) -> usize {
        match &self.matcher {
            Matcher::Hs(db) => db.bytes(),
            Matcher::Ac(ac) => ac.memory_usage(),
        }
    }

    /// Grows `scratch` to fit this prefilter (Hyperscan only).
    pub(crate) fn fit(&self, scratch: &mut HsScratch) -> bool {
        match &self.matcher {
            Matcher::Hs(db) => scratch.fit(db).is_ok(),
            Matcher::Ac(_) => true,
        }
    }

    /// Calls `hit` with every rule whose pattern occurs in `hay` (a rule may be reported more
    /// than once; the caller dedups). Allocation-free. Returns `false` if the matcher failed
    /// (Hyperscan without fitted scratch), in which case nothing was reported.
    pub(crate) fn scan(&self, hay: &[u8], scratch: &mut HsScratch, hit: &mut impl FnMut(u32)) -> bool {
        let mut rules_of = |p: usize| {
            let (Some(&s), Some(&e)) = (self.starts.get(p), self.starts.get(p + 1)) else { return };
            for &r in self.rules.get(s as usize..e as usize).unwrap_or(&[]) {
                hit(r);
            }
        };
        match &self.matcher {
            Matcher::Hs(db) => db.scan(hay, scratch, &mut |p| rules_of(p as usize)),
            Matcher::Ac(ac) => {
                for m in ac.find_overlapping_iter(hay) {
                    rules_of(m.pattern().as_usize());
                }
                true
            }
        }
    }
}
