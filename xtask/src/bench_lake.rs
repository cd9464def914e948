//! `cargo xtask bench lake`: what the lake costs and gives, on the benchmark capture
//! (`make-bench-pcap.sh`). The release sensor replays it pinned to one core (so the lake's
//! writer thread competes for the same core: its whole cost is counted), 5 runs without
//! and 5 with `--lake` (every event, finding and incident logged), alternating; reported as
//! medians of wall time. Then typical analyst queries run 5 times each over the lake built,
//! with `sensor query` and with DuckDB (the analysts' usual tool) on the same files.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    bench_replay::capinfos,
    util::{self, cargo, root},
};

const RUNS: usize = 5;

const QUERIES: [(&str, &str); 3] = [
    (
        "top talkers",
        "SELECT src_ip, count(*) AS flows, sum(bytes_toserver + bytes_toclient) AS bytes FROM flows GROUP BY src_ip ORDER BY bytes DESC LIMIT 10",
    ),
    (
        "scanners",
        "SELECT src_ip, count(DISTINCT dest_port) AS ports FROM flows WHERE proto = 'TCP' GROUP BY src_ip HAVING count(DISTINCT dest_port) > 20 ORDER BY ports DESC LIMIT 10",
    ),
    (
        "top DNS names",
        "SELECT rrname, count(*) AS n FROM dns WHERE type = 'query' GROUP BY rrname ORDER BY n DESC LIMIT 10",
    ),
];

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timed(cmd: &mut Command) -> Result<f64> {
    let t0 = Instant::now();
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().context("running the sensor")?;
    let secs = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(secs)
}

/// Runs the benchmark; returns the markdown section.
pub fn run() -> Result<String> {
    util::apt_install(&["tshark", "util-linux"])?;
    util::ensure_sensor_libs()?;
    let python = util::lake_python()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let pcap = bench_dir.join("bench.pcap");
    if !pcap.exists() {
        util::run(Command::new("bash").arg(root().join("../shared/data/make-bench-pcap.sh")).arg(&pcap))?;
    }
    util::run(cargo().args(["build", "--release", "-p", "sensor-user", "--bin", "sensor"]))?;
    let sensor = root().join("target/release/sensor");
    let (packets, _) = capinfos(&pcap)?;
    let lake = bench_dir.join("lake");
    let replay = |with_lake: bool| -> Result<f64> {
        let _ = std::fs::remove_dir_all(&lake);
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(&sensor).args(["replay", "--quiet", "--no-progress", "--eve", "/dev/null"]).arg(&pcap);
        if with_lake {
            c.arg("--lake").arg(&lake);
        }
        timed(&mut c)
    };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        without.push(replay(false)?);
        with.push(replay(true)?);
    }
    let (t_without, t_with) = (median(&mut without), median(&mut with));
    // The lake of the last run, for its size and the queries.
    let q = |sql: &str| -> Result<String> {
        let out = Command::new(&sensor).args(["query", "--csv", "--lake"]).arg(&lake).arg(sql).output()?;
        if !out.status.success() {
            bail!("query failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let mut rows = 0u64;
    let mut per_table = Vec::new();
    for t in ["flows", "dns", "http", "tls", "findings", "alerts", "incidents", "decisions"] {
        let n: u64 =
            q(&format!("SELECT count(*) FROM {t}"))?.lines().nth(1).and_then(|l| l.trim().parse().ok()).unwrap_or(0);
        rows += n;
        per_table.push(format!("{t} {n}"));
    }
    let (bytes, files) = dir_size(&lake);
    let mut qrows = String::new();
    for (name, sql) in QUERIES {
        let mut cli = Vec::new();
        for _ in 0..RUNS {
            cli.push(timed(Command::new(&sensor).args(["query", "--lake"]).arg(&lake).arg(sql))?);
        }
        let script = format!(
            "import duckdb, time, statistics\nsql = {sql:?}.replace('FROM flows', \"FROM read_parquet('{root}/table=flows/**/*.parquet')\").replace('FROM dns', \"FROM read_parquet('{root}/table=dns/**/*.parquet')\")\nts = []\nfor _ in range({RUNS}):\n    t = time.perf_counter(); duckdb.sql(sql).fetchall(); ts.append(time.perf_counter() - t)\nprint(statistics.median(ts))\n",
            root = lake.display()
        );
        let out = Command::new(&python).args(["-c", &script]).output().context("duckdb")?;
        if !out.status.success() {
            bail!("duckdb query failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let duck: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(f64::NAN);
        let sensor_s = median(&mut cli);
        qrows.push_str(&format!(
            "| {name} | {:.0} ms | {:.0} ms | {:.2}x |\n",
            sensor_s * 1e3,
            duck * 1e3,
            sensor_s / duck
        ));
    }
    let cpu = util::cpu_model();
    let pps = |t: f64| packets as f64 / t;
    Ok(format!(
        "## Lake: write cost and query latency\n\n\
         `cargo xtask bench lake`: the release sensor replays the benchmark capture ({packets} packets) with its default \
         agents and governance, pinned to CPU 1 with `taskset` (the lake writer thread shares that core), eve output \
         discarded; {RUNS} runs without and {RUNS} with `--lake`, alternating, medians of the whole command's wall time \
         (the lake's final commits and compaction included). Machine: {cpu}.\n\n\
         | | wall time | packets/s |\n|---|---:|---:|\n\
         | replay without the lake | {t_without:.3} s | {:.0} |\n\
         | replay with every event logged to the lake | {t_with:.3} s | {:.0} |\n\
         | **cost of the lake** | **{:+.1}%** | target <= 10% |\n\n\
         Lake written: {rows} rows ({}), {files} Parquet files, {:.1} MiB; {:.0} rows/s end to end on one core \
         (rows / replay time with the lake).\n\n\
         Analyst queries over that lake, median of {RUNS}: `sensor query` is the whole command (process start, footer \
         checks of every file, DataFusion planning and execution, output); DuckDB is the query alone inside a warm \
         Python process reading the same files.\n\n\
         | query | `sensor query` | DuckDB | ratio |\n|---|---:|---:|---:|\n{qrows}",
        pps(t_without),
        pps(t_with),
        (t_with / t_without - 1.0) * 100.0,
        per_table.join(", "),
        bytes as f64 / (1 << 20) as f64,
        rows as f64 / t_with,
    ))
}

fn dir_size(dir: &Path) -> (u64, u64) {
    let mut stack = vec![dir.to_path_buf()];
    let (mut bytes, mut files) = (0, 0);
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files += 1;
                bytes += e.metadata().map_or(0, |m| m.len());
            }
        }
    }
    (bytes, files)
}
