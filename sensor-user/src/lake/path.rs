//! Where a table's files live: Hive-style `table=NAME/date=YYYY-MM-DD/hour=HH/` directories
//! under the lake root, committed files `part-*.parquet`, files being written `.part-*.tmp`.

use std::path::{Path, PathBuf};

use super::schema::Table;
use crate::packet::eve::civil_from_days;

/// Nanoseconds in an hour.
pub const HOUR_NS: u64 = 3_600_000_000_000;

/// The partition directory (relative to the root) of rows in the hour starting at `hour_ns`.
pub fn partition(table: Table, hour_ns: u64) -> PathBuf {
    let hours = hour_ns / HOUR_NS;
    let (y, m, d) = civil_from_days((hours / 24) as i64);
    PathBuf::from(format!("table={}/date={y:04}-{m:02}-{d:02}/hour={:02}", table.name(), hours % 24))
}

/// The start of the hour holding `ts_ns`.
pub fn hour_of(ts_ns: u64) -> u64 {
    ts_ns - ts_ns % HOUR_NS
}

/// The hour a partition directory (`.../date=YYYY-MM-DD/hour=HH`) stands for, in ns.
pub fn parse_partition(dir: &Path) -> Option<u64> {
    let hour: u64 = dir.file_name()?.to_str()?.strip_prefix("hour=")?.parse().ok()?;
    let date = dir.parent()?.file_name()?.to_str()?.strip_prefix("date=")?;
    let mut it = date.split('-');
    let (y, m, d): (i64, i64, i64) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    // days_from_civil
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).ok().map(|days| days * 24 * HOUR_NS + hour * HOUR_NS)
}

/// Whether `name` is a committed data file.
pub fn is_data_file(name: &str) -> bool {
    name.starts_with("part-") && name.ends_with(".parquet")
}

/// Every committed data file of `table` under `root`, with its partition hour, sorted.
pub fn data_files(root: &Path, table: Table) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let tdir = root.join(format!("table={}", table.name()));
    for date in read_dirs(&tdir) {
        for hour in read_dirs(&date) {
            let Some(h) = parse_partition(&hour) else { continue };
            let Ok(rd) = std::fs::read_dir(&hour) else { continue };
            for e in rd.flatten() {
                if e.file_name().to_str().is_some_and(is_data_file) {
                    out.push((e.path(), h));
                }
            }
        }
    }
    out.sort();
    out
}

/// Sub-directories of `dir`, sorted (none when it cannot be read).
pub fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_utc_dates_and_hours_and_parse_back() {
        // 2026-12-07T19:05:02Z
        let ts = 1_796_670_302_000_000_000u64;
        let p = partition(Table::Flows, hour_of(ts));
        assert_eq!(p, PathBuf::from("table=flows/date=2026-12-07/hour=19"));
        assert_eq!(parse_partition(&p), Some(hour_of(ts)));
        let p0 = partition(Table::Dns, 0);
        assert_eq!(p0, PathBuf::from("table=dns/date=1970-01-01/hour=00"));
        // A leap day.
        let leap = parse_partition(Path::new("date=2024-02-29/hour=23")).expect("parses");
        assert_eq!(partition(Table::Dns, leap), PathBuf::from("table=dns/date=2024-02-29/hour=23"));
        assert_eq!(parse_partition(Path::new("date=2024-02-29/hour=xx")), None);
    }
}
