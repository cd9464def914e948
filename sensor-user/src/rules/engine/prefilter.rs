//! Multi-pattern prefilter on one buffer: an Aho-Corasick automaton over the case-folded fast
//! patterns of a group's rules; a hit makes every rule sharing that pattern a candidate.
//! Matching is ASCII case-insensitive (exact case is verified by inspection) and overlapping, so
//! every pattern present in the buffer is reported.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::super::ir::Buffer;

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

    /// Builds the automaton. Fails only if aho-corasick refuses the pattern set (size limits).
    pub(crate) fn build(self, buffer: Buffer) -> Result<Prefilter, aho_corasick::BuildError> {
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&self.patterns)?;
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
        Ok(Prefilter { buffer, ac, starts, rules: flat, rule_count: distinct.len() })
    }
}

/// One buffer's automaton and its pattern -> rules table.
pub(crate) struct Prefilter {
    /// The buffer it scans.
    pub(crate) buffer: Buffer,
    ac: AhoCorasick,
    /// `rules[starts[p]..starts[p + 1]]` are the rules of pattern `p`.
    starts: Vec<u32>,
    rules: Vec<u32>,
    rule_count: usize,
}

impl Prefilter {
    /// Distinct patterns.
    pub(crate) fn patterns(&self) -> usize {
        self.ac.patterns_len()
    }

    /// Distinct rules reachable.
    pub(crate) fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// Calls `hit` with every rule whose pattern occurs in `hay` (a rule may be reported more
    /// than once; the caller dedups). Allocation-free.
    pub(crate) fn scan(&self, hay: &[u8], hit: &mut impl FnMut(u32)) {
        for m in self.ac.find_overlapping_iter(hay) {
            let p = m.pattern().as_usize();
            let (Some(&s), Some(&e)) = (self.starts.get(p), self.starts.get(p + 1)) else { continue };
            for &r in self.rules.get(s as usize..e as usize).unwrap_or(&[]) {
                hit(r);
            }
        }
    }
}
