//! Shared helpers for the integration tests: fixture tables (TSV written by tests/fixtures/gen_*.py),
//! hex decoding and tshark-style rendering of names.
#![allow(dead_code, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::collections::HashMap;

/// One fixture table: header names and rows of raw (still escaped) cells.
pub struct Table {
    pub cols: HashMap<String, usize>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn parse(text: &str) -> Self {
        let mut lines = text.lines();
        let header = lines.next().expect("header line").trim_start_matches('#');
        let cols = header.split('\t').enumerate().map(|(i, c)| (c.to_string(), i)).collect();
        let rows = lines.filter(|l| !l.is_empty()).map(|l| l.split('\t').map(str::to_string).collect()).collect();
        Self { cols, rows }
    }

    /// Raw cell of `row` in column `col`.
    pub fn cell<'a>(&self, row: &'a [String], col: &str) -> &'a str {
        let i = *self.cols.get(col).unwrap_or_else(|| panic!("no column {col}"));
        row.get(i).map_or("", String::as_str)
    }

    /// Cell split into its ','-joined, escaped elements.
    pub fn list(&self, row: &[String], col: &str) -> Vec<String> {
        split_list(self.cell(row, col))
    }
}

/// Splits a ','-joined list with `\\`, `\,`, `\t`, `\n` escapes; empty cell = empty list.
pub fn split_list(cell: &str) -> Vec<String> {
    if cell.is_empty() {
        return Vec::new();
    }
    let mut out = vec![String::new()];
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars.next().expect("escape");
                let cur = out.last_mut().expect("item");
                cur.push(match e {
                    't' => '\t',
                    'n' => '\n',
                    other => other,
                });
            }
            ',' => out.push(String::new()),
            other => out.last_mut().expect("item").push(other),
        }
    }
    out
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

/// A name as tshark 4.0 prints it in `-T json` fields: `<Root>` for the root, invalid UTF-8 as U+FFFD.
pub fn tshark_name(name: &[u8]) -> String {
    if name.is_empty() { "<Root>".to_string() } else { String::from_utf8_lossy(name).into_owned() }
}

/// Parses tshark's numbers: decimal, or hex with 0x.
pub fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).expect("hex number"),
        None => s.parse().unwrap_or_else(|_| panic!("number: {s:?}")),
    }
}
