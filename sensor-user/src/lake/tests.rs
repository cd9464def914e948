//! The lake end to end without root: rows in, files committed atomically, read back by
//! DataFusion and by the Parquet reader; pause and resume; compaction; retention; a
//! corrupt file skipped and reported.

use std::{path::Path, time::Duration};

use super::{
    Lake, LakeConfig, Maintenance, Table,
    maintain::{self, read_file},
    path::{self, HOUR_NS, data_files},
    query::{self, Format},
};
use crate::audit::test_support::TempDir;

// 2026-12-07T19:00:00Z
const T0: u64 = 1_796_670_000_000_000_000;

fn cfg(root: &Path) -> LakeConfig {
    LakeConfig {
        host: "testhost".into(),
        batch_rows: 100,
        retry: Duration::from_millis(50),
        maintain_at_exit: false,
        ..LakeConfig::replay(root.to_owned())
    }
}

fn log_rows(lake: &Lake, n: u64, start: u64) {
    let mut s = lake.sink();
    for i in 0..n {
        s.row(Table::Log, start + i * 1_000_000_000, |r| {
            r.str("sshd").str(if i % 2 == 0 { "failure" } else { "success" }).fmt(format_args!("user{i}"));
            r.str("10.0.0.1");
        });
    }
}

fn count(root: &Path, sql: &str) -> i64 {
    let r = query::run(root, sql).expect("query runs");
    let b = &r.batches[0];
    arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b.column(0)).value(0)
}

#[test]
fn rows_become_hive_partitioned_parquet_files_that_sql_reads() {
    let dir = TempDir::new("lake-rows");
    let lake = Lake::open(cfg(dir.path())).expect("lake opens");
    log_rows(&lake, 250, T0);
    // Rows of another event hour: the partition is the storage hour, the event time stays
    // in `ts`.
    let stored = crate::respond::wall_ns();
    log_rows(&lake, 10, T0 + HOUR_NS);
    lake.finish();
    let files = data_files(dir.path(), Table::Log);
    // 250 rows at 100 per batch: 3 files, then 1 for the other sink.
    assert_eq!(files.len(), 4, "{files:?}");
    let now = crate::respond::wall_ns();
    for (p, hour) in &files {
        assert!(p.to_string_lossy().contains("table=log/date="), "{}", p.display());
        assert!(*hour == path::hour_of(stored) || *hour == path::hour_of(now), "{}", p.display());
    }
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log WHERE ts >= '2026-12-07T20:00:00Z'"), 10);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log"), 260);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log WHERE outcome = 'failure' AND host = 'testhost'"), 130);
    let r = query::run(dir.path(), "SELECT user, ts FROM log ORDER BY ts LIMIT 2").expect("query");
    let mut csv = Vec::new();
    query::write(&mut csv, &r, Format::Csv).expect("csv");
    let csv = String::from_utf8(csv).expect("utf8");
    assert!(csv.starts_with("user,ts\nuser0,2026-12-07T19:00:00"), "{csv}");
    let mut json = Vec::new();
    query::write(&mut json, &r, Format::Json).expect("json");
    assert!(String::from_utf8_lossy(&json).contains("\"user\":\"user1\""));
    // No temporary file is left among the committed ones.
    for (p, _) in &files {
        assert!(read_file(p).is_ok(), "{} reads", p.display());
    }
}

#[test]
fn every_table_round_trips_through_its_schema() {
    let dir = TempDir::new("lake-all");
    let lake = Lake::open(cfg(dir.path())).expect("lake opens");
    let mut s = lake.sink();
    for t in Table::ALL {
        // Only ts and host: the rest is null, which every column allows.
        s.row(t, T0, |_| {});
    }
    drop(s);
    lake.finish();
    for t in Table::ALL {
        assert_eq!(count(dir.path(), &format!("SELECT count(*) FROM {}", t.name())), 1, "{}", t.name());
    }
}

#[test]
fn a_corrupt_file_is_skipped_and_reported_and_the_rest_still_answers() {
    let dir = TempDir::new("lake-corrupt");
    let lake = Lake::open(cfg(dir.path())).expect("lake opens");
    log_rows(&lake, 100, T0);
    lake.finish();
    let files = data_files(dir.path(), Table::Log);
    let part = files[0].0.parent().expect("partition");
    std::fs::write(part.join("part-0000000000000-1-000001.parquet"), b"PAR1 this is not parquet").expect("write");
    let r = query::run(dir.path(), "SELECT count(*) FROM log").expect("query runs despite the bad file");
    assert_eq!(r.skipped.len(), 1);
    assert!(r.skipped[0].0.ends_with("part-0000000000000-1-000001.parquet"));
    assert_eq!(r.rows(), 1);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log"), 100);
}

#[test]
fn an_unwritable_lake_pauses_writes_holds_rows_and_resumes_without_loss() {
    let dir = TempDir::new("lake-pause");
    let root = dir.path().join("lake");
    // A plain file where the lake's table directory must go: every commit fails (as on a
    // read-only or full file system) until it is removed.
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("table=log"), b"in the way").expect("write");
    let lake = Lake::open(cfg(&root)).expect("lake opens");
    log_rows(&lake, 150, T0);
    lake.sync();
    let st = lake.stats();
    assert_eq!(super::LakeStats::get(&st.paused), 1, "writes paused");
    assert!(super::LakeStats::get(&st.write_errors) >= 1);
    assert_eq!(super::LakeStats::get(&st.pending_rows), 150);
    assert_eq!(super::LakeStats::get(&st.rows_written), 0);
    std::fs::remove_file(root.join("table=log")).expect("rm");
    // The writer retries on its own.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while super::LakeStats::get(&st.paused) == 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(super::LakeStats::get(&st.paused), 0, "writes resumed");
    assert_eq!(super::LakeStats::get(&st.rows_written), 150);
    assert_eq!(super::LakeStats::get(&st.rows_dropped), 0);
    lake.finish();
    assert_eq!(count(&root, "SELECT count(*) FROM log"), 150);
}

#[test]
fn rows_over_the_pending_bound_are_dropped_oldest_first_and_counted() {
    let dir = TempDir::new("lake-bound");
    let root = dir.path().join("lake");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("table=log"), b"in the way").expect("write");
    let lake = Lake::open(LakeConfig { max_pending_rows: 200, ..cfg(&root) }).expect("lake opens");
    log_rows(&lake, 500, T0);
    lake.sync();
    let st = lake.stats();
    assert_eq!(super::LakeStats::get(&st.rows_dropped), 300);
    assert_eq!(super::LakeStats::get(&st.pending_rows), 200);
    drop(lake);
}

#[test]
fn compaction_merges_small_files_once_and_recovery_finishes_an_interrupted_one() {
    let dir = TempDir::new("lake-compact");
    let lake =
        Lake::open(LakeConfig { batch_rows: 10, maintain_at_exit: false, ..cfg(dir.path()) }).expect("lake opens");
    log_rows(&lake, 95, T0);
    lake.finish();
    assert_eq!(data_files(dir.path(), Table::Log).len(), 10);
    let r = maintain::run(dir.path(), &Maintenance::default());
    assert_eq!(r.compacted_partitions, 1);
    assert_eq!(r.compacted_inputs, 10);
    let files = data_files(dir.path(), Table::Log);
    assert_eq!(files.len(), 1);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log"), 95);
    assert_eq!(count(dir.path(), "SELECT count(DISTINCT user) FROM log"), 95);

    // A crash after the merged file was committed but before the inputs were removed:
    // recovery removes the inputs named by the journal, so no row is doubled.
    let part = files[0].0.parent().expect("partition").to_path_buf();
    let merged = files[0].0.file_name().expect("name").to_string_lossy().into_owned();
    let copy = part.join("part-0000000000001-1-000001.parquet");
    std::fs::copy(&files[0].0, &copy).expect("copy");
    let journal = serde_json::json!({"output": merged, "inputs": ["part-0000000000001-1-000001.parquet"]});
    std::fs::write(part.join("_compaction.json"), journal.to_string()).expect("journal");
    std::fs::write(part.join(".part-9.parquet.tmp"), b"half a file").expect("tmp");
    maintain::recover(dir.path());
    assert!(!copy.exists());
    assert!(!part.join("_compaction.json").exists());
    assert!(!part.join(".part-9.parquet.tmp").exists());
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log"), 95);
}

#[test]
fn retention_removes_old_partitions_then_oldest_files_over_the_size_bound() {
    let dir = TempDir::new("lake-retain");
    let lake = Lake::open(LakeConfig { maintain_at_exit: false, ..cfg(dir.path()) }).expect("lake opens");
    let now = crate::respond::wall_ns();
    for _ in 0..3 {
        log_rows(&lake, 10, now);
    }
    lake.finish();
    // Two of the three files as if stored 40 days and 2 hours ago.
    let files = data_files(dir.path(), Table::Log);
    assert_eq!(files.len(), 3);
    for ((p, _), ago) in files.iter().zip([40 * 24 * HOUR_NS, 2 * HOUR_NS]) {
        let old = dir.path().join(path::partition(Table::Log, path::hour_of(now - ago)));
        std::fs::create_dir_all(&old).expect("mkdir");
        std::fs::rename(p, old.join(p.file_name().expect("name"))).expect("move");
    }
    let m = Maintenance { max_age: Some(Duration::from_secs(30 * 86_400)), ..Maintenance::default() };
    let r = maintain::run(dir.path(), &m);
    assert_eq!(r.expired, 1);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log"), 20);
    let newest = data_files(dir.path(), Table::Log).last().map(|(p, _)| std::fs::metadata(p).expect("md").len());
    let m = Maintenance { max_bytes: newest, min_files: 100, ..Maintenance::default() };
    let r = maintain::run(dir.path(), &m);
    assert_eq!(r.expired, 1, "the older of the two remaining files goes");
    assert_eq!(count(dir.path(), "SELECT count(*) FROM log"), 10);
}

#[test]
fn baselines_are_read_back_newest_first_for_this_host() {
    let dir = TempDir::new("lake-baselines");
    let lake = Lake::open(cfg(dir.path())).expect("lake opens");
    super::baselines::save(&lake, &serde_json::json!({"v": 1}), T0);
    super::baselines::save(&lake, &serde_json::json!({"v": 2}), T0 + 5);
    lake.finish();
    let (got, skipped) = super::baselines::load(dir.path(), "testhost");
    assert!(skipped.is_empty());
    assert_eq!(got.map(|(_, v)| v), Some(serde_json::json!({"v": 2})));
    assert!(super::baselines::load(dir.path(), "otherhost").0.is_none());
}

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut b = [0; 16];
    b[..4].copy_from_slice(&a);
    b
}

/// A finished flow from 10.0.0.9:`cport` to 10.0.0.1:`dport`.
fn flow(
    id: u64,
    proto: u8,
    cport: u16,
    dport: u16,
    t: u64,
    flags: [u8; 2],
    pkts: [u64; 2],
) -> crate::packet::flow::Flow {
    let key = sensor_common::flow::FlowKey {
        saddr: v4([10, 0, 0, 9]),
        daddr: v4([10, 0, 0, 1]),
        sport: cport,
        dport,
        vlan: 0,
        proto,
        family: sensor_common::flow::family::V4,
    };
    let mut f = crate::packet::flow::Flow::new(id, key, 0, t);
    f.last_ns = t + 2;
    f.tcp_flags = flags;
    f.pkts = pkts;
    f.bytes = [pkts[0] * 60, pkts[1] * 60];
    f
}

#[test]
fn recent_history_reads_back_what_the_agents_saw_for_this_host_only() {
    use crate::{
        agents::event::{Event, tcp},
        packet::{flow::EndReason, observe::flow_summary},
    };
    let dir = TempDir::new("lake-history");
    let lake = Lake::open(cfg(dir.path())).expect("lake opens");
    let mut s = lake.sink();
    let syn_ack = tcp::SYN | tcp::ACK;
    let flows = [
        // A completed session, a SYN answered by RST (a scan probe), a UDP exchange.
        flow(1, 6, 40_000, 22, T0 + 10, [syn_ack | tcp::FIN, syn_ack | tcp::FIN], [6, 5]),
        flow(2, 6, 40_001, 23, T0 + 20, [tcp::SYN, tcp::RST | tcp::ACK], [1, 1]),
        flow(3, 17, 40_002, 53, T0 + 30, [0, 0], [1, 1]),
        // Before the history window.
        flow(4, 6, 40_003, 25, T0 - 10_000_000_000, [tcp::SYN, tcp::RST | tcp::ACK], [1, 1]),
    ];
    for f in &flows {
        s.flow(f, EndReason::Timeout);
    }
    let tuple = |r: &mut super::Row<'_>, src: &str, dst: &str| {
        r.u64(7).str(src).u64(5353).str(dst).u64(53).str("UDP");
    };
    s.row(Table::Dns, T0 + 40, |r| {
        tuple(r, "10.0.0.9", "10.0.0.53");
        r.str("query").u64(1).str("c2.example").str("TXT");
    });
    s.row(Table::Dns, T0 + 50, |r| {
        tuple(r, "10.0.0.53", "10.0.0.9");
        r.str("answer").u64(1).str("c2.example").str("A").str("NXDOMAIN").str("192.0.2.7,192.0.2.8");
    });
    s.row(Table::Tls, T0 + 60, |r| {
        r.u64(8).str("10.0.0.9").u64(40_010).str("198.51.100.1").u64(443).str("TCP").str("evil.example");
    });
    s.row(Table::Http, T0 + 70, |r| {
        r.u64(9).str("10.0.0.9").u64(40_011).str("198.51.100.2").u64(80).str("TCP").str("web.example");
    });
    s.row(Table::Log, T0 + 80, |r| {
        r.str("sshd").str("failure").str("root").str("203.0.113.5");
    });
    drop(s);
    lake.finish();
    // Another host's rows in the same lake are not this sensor's history.
    let other = Lake::open(LakeConfig { host: "otherhost".into(), ..cfg(dir.path()) }).expect("lake opens");
    log_rows(&other, 5, T0 + 100);
    other.finish();

    let h = super::history::load(dir.path(), "testhost", T0, 1000);
    assert!(h.skipped.is_empty(), "{:?}", h.skipped);
    let c = h.counts;
    assert_eq!((c.flows, c.dns, c.names, c.logins, h.dropped), (3, 2, 2, 1, 0), "{c:?}");
    let ts: Vec<u64> = h.events.iter().map(Event::ts_ns).collect();
    assert!(ts.is_sorted(), "oldest first: {ts:?}");
    // A flow read back is the flow the pipeline gave the agents.
    for f in &flows[..3] {
        let got = h.events.iter().find_map(|e| match e {
            Event::FlowEnd(x) if x.flow_id == f.id => Some(format!("{x:?}")),
            _ => None,
        });
        assert_eq!(got, Some(format!("{:?}", flow_summary(f))), "flow {}", f.id);
    }
    let dns: Vec<_> = h.events.iter().filter_map(|e| if let Event::Dns(d) = e { Some(*d) } else { None }).collect();
    assert_eq!(dns[0].qname, "c2.example");
    assert_eq!((dns[0].qtype, dns[0].response, dns[0].client.to_string()), (16, false, "10.0.0.9".into()));
    assert_eq!((dns[1].rcode, dns[1].response, dns[1].client.to_string()), (3, true, "10.0.0.9".into()));
    assert_eq!(h.dns_answers.len(), 2);
    assert_eq!(h.dns_answers[0].0.to_string(), "192.0.2.7");
    assert_eq!(h.dns_answers[0].1, "c2.example");
    let names: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| if let Event::Name(n) = e { Some((n.source, n.name.lossy())) } else { None })
        .collect();
    assert_eq!(names, [("tls", "evil.example".to_owned()), ("http", "web.example".to_owned())]);
    assert!(h.events.iter().any(|e| matches!(e, Event::Auth(a) if a.service == "sshd" && a.user == "root"
        && a.source.is_some_and(|s| s.to_string() == "203.0.113.5"))));

    // The cap keeps the newest; a torn file is skipped and named.
    let capped = super::history::load(dir.path(), "testhost", T0, 3);
    assert_eq!((capped.events.len(), capped.dropped), (3, 5));
    assert_eq!(capped.events[0].ts_ns(), T0 + 60);
    let part = files_dir(dir.path(), Table::Flows);
    std::fs::write(part.join("part-0-torn.parquet"), b"PAR1 not really").expect("torn file");
    let torn = super::history::load(dir.path(), "testhost", T0, 1000);
    assert_eq!((torn.skipped.len(), torn.counts.flows), (1, 3), "{:?}", torn.skipped);
}

/// The partition directory of `table`'s first data file.
fn files_dir(root: &Path, table: Table) -> std::path::PathBuf {
    data_files(root, table)[0].0.parent().expect("partition").to_owned()
}
