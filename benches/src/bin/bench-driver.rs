//! Kernel-side benchmarks, side by side in one run, written to docs/BENCHMARKS.md:
//!
//! 1. Packets/s through `sensor_xdp` vs a bare XDP_PASS program, and the sensor's drop path
//!    (blocked source) vs a bare XDP_DROP program: frames injected with BPF_PROG_TEST_RUN in
//!    live-frames mode (the xdp-trafficgen method) on a veth in a namespace this run creates.
//! 2. Ring-buffer events/s decoded by one user-space thread with zero loss.

use std::{fmt::Write as _, path::PathBuf, time::Instant};

use anyhow::{Context, Result, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData, RingBuf},
    programs::{TestRun, TestRunAttrs, TestRunOptions, Xdp},
};
use sensor_common::{config::SensorConfig, counters::Counter, maps, programs};
use sensor_user::{
    block::BlockMaps,
    event::Event,
    kernel::{
        read_counters,
        ring::{EventSink, ReaderStats, drain},
    },
};
use tests::{NetPair, PinDir, frames::Frame, object_path};

struct Args {
    out: PathBuf,
    frames: u32,
    runs: usize,
    events: u32,
}

fn args() -> Result<Args> {
    let mut a = Args { out: PathBuf::from("docs/BENCHMARKS.md"), frames: 2_000_000, runs: 5, events: 300_000 };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--out" => a.out = v.into(),
            "--frames" => a.frames = v.parse()?,
            "--runs" => a.runs = v.parse()?,
            "--events" => a.events = v.parse()?,
            other => bail!("unknown option {other} (--out PATH --frames N --runs N --events N)"),
        }
    }
    Ok(a)
}

fn load(pins: &PinDir, net_ring_bytes: Option<u32>, sample_packets: u32) -> Result<Ebpf> {
    std::fs::create_dir_all(&pins.path)?;
    let mut loader = EbpfLoader::new();
    loader.default_map_pin_directory(&pins.path);
    if let Some(b) = net_ring_bytes {
        loader.map_max_entries(maps::NET_EVENTS, b);
    }
    let mut ebpf = loader.load_file(object_path()).context("loading the kernel object (cargo xtask build-ebpf)")?;
    let cfg = SensorConfig { sample_bytes: 256, sample_packets, ..Default::default() };
    let mut arr: Array<&mut MapData, SensorConfig> = Array::try_from(ebpf.map_mut(maps::CONFIG).context("CONFIG")?)?;
    arr.set(0, cfg, 0)?;
    for name in [programs::XDP_INGRESS, programs::BASELINE_XDP_PASS, programs::BASELINE_XDP_DROP] {
        let p: &mut Xdp = ebpf.program_mut(name).context(name)?.try_into()?;
        p.load().with_context(|| format!("loading {name}"))?;
    }
    Ok(ebpf)
}

/// xdp_md as BPF_PROG_TEST_RUN's ctx_in: data, data_end, data_meta, ingress_ifindex,
/// rx_queue_index, egress_ifindex. The kernel requires data_end to be the frame length.
fn xdp_md(ifindex: u32, frame_len: usize) -> Vec<u8> {
    [0u32, frame_len as u32, 0, ifindex, 0, 0].iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// Injects `n` live frames through `prog` inside namespace `ns`; returns frames/s.
fn live_rate(ebpf: &mut Ebpf, prog: &str, ns: &str, ifname: &str, frame: &[u8], n: u32) -> Result<f64> {
    let p: &mut Xdp = ebpf.program_mut(prog).context("program")?.try_into()?;
    let path = NetPair::ns_path(ns);
    let ifname = ifname.to_owned();
    std::thread::scope(|s| {
        s.spawn(move || -> Result<f64> {
            sensor_user::sys::enter_netns(&path)?;
            let ifindex = sensor_user::sys::if_index(&ifname).context("interface")?;
            let ctx = xdp_md(ifindex, frame.len());
            let t0 = Instant::now();
            let opts = TestRunOptions {
                data_in: Some(frame),
                ctx_in: Some(&ctx),
                repeat: n,
                attrs: TestRunAttrs::new().xdp_live_frames(64),
                ..TestRunOptions::new()
            };
            p.test_run(opts).context("BPF_PROG_TEST_RUN live frames")?;
            Ok(n as f64 / t0.elapsed().as_secs_f64())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("generator thread panicked"))?
    })
}

/// Average ns per run of `prog` over `n` repetitions, as the kernel measures it
/// (BPF_PROG_TEST_RUN without live frames: the program alone, no generator or stack).
fn prog_ns(ebpf: &mut Ebpf, prog: &str, frame: &[u8], n: u32) -> Result<f64> {
    let p: &mut Xdp = ebpf.program_mut(prog).context("program")?.try_into()?;
    let mut out = vec![0u8; frame.len() + 64];
    let r = p.test_run(TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        repeat: n,
        ..TestRunOptions::new()
    })?;
    Ok(r.duration.as_nanos() as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Count(u64);
impl EventSink for Count {
    fn on_event(&mut self, ev: &Event) {
        if matches!(ev, Event::FlowStart(_)) {
            self.0 += 1;
        }
    }
}

/// Fills the ring with `n` flow-start events, then drains it on this thread; returns
/// (events/s decoded, events decoded, kernel losses).
fn decode_rate(n: u32) -> Result<(f64, u64, u64)> {
    let pins = PinDir::new();
    let mut ebpf = load(&pins, Some(128 << 20), 0)?;
    let mut ring = RingBuf::try_from(ebpf.take_map(maps::NET_EVENTS).context("ring")?)?;
    let p: &mut Xdp = ebpf.program_mut(programs::XDP_INGRESS).context("program")?.try_into()?;
    for i in 0..n {
        let src = [10, 50, (i >> 16) as u8, (i >> 8) as u8];
        let f = Frame::udp4(src, [10, 60, 0, 1], 1024 + (i & 0xff) as u16, 53, b"").bytes();
        let mut out = vec![0u8; f.len() + 64];
        p.test_run(TestRunOptions { data_in: Some(&f), data_out: Some(&mut out), ..TestRunOptions::new() })?;
    }
    let stats = ReaderStats::default();
    let mut sink = Count(0);
    let t0 = Instant::now();
    drain(&mut ring, &mut sink, &stats);
    let secs = t0.elapsed().as_secs_f64();
    let c = read_counters(ebpf.map(maps::COUNTERS).context("counters")?)?;
    Ok((sink.0 as f64 / secs, sink.0, c.get(Counter::RingFailFlow)))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} cores, {cpu}, kernel {}", kernel.trim())
}

fn main() -> Result<()> {
    let a = args()?;
    if sensor_user::sys::euid() != 0 {
        bail!("the benchmarks load BPF programs and create network namespaces: run as root");
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let mut ebpf = load(&pins, None, 3)?;
    let mut blocks = BlockMaps::from_ebpf(&mut ebpf)?;
    blocks.insert("10.201.0.3/32".parse()?, None, 1)?;
    let payload = [0x5au8; 18];
    let pass_frame = Frame::udp4([10, 201, 0, 2], [10, 201, 0, 1], 40000, 9, &payload).bytes();
    let drop_frame = Frame::udp4([10, 201, 0, 3], [10, 201, 0, 1], 40000, 9, &payload).bytes();
    eprintln!("XDP live frames: {} frames x {} runs per program on {}", a.frames, a.runs, net.if_a);
    let (mut sp, mut bp, mut sd, mut bd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..a.runs {
        sp.push(live_rate(&mut ebpf, programs::XDP_INGRESS, &net.ns_a, &net.if_a, &pass_frame, a.frames)?);
        bp.push(live_rate(&mut ebpf, programs::BASELINE_XDP_PASS, &net.ns_a, &net.if_a, &pass_frame, a.frames)?);
        sd.push(live_rate(&mut ebpf, programs::XDP_INGRESS, &net.ns_a, &net.if_a, &drop_frame, a.frames)?);
        bd.push(live_rate(&mut ebpf, programs::BASELINE_XDP_DROP, &net.ns_a, &net.if_a, &drop_frame, a.frames)?);
        eprintln!(
            "  run {run}: sensor pass {:.0} bare pass {:.0} sensor drop {:.0} bare drop {:.0} frames/s",
            sp[run], bp[run], sd[run], bd[run]
        );
    }
    let c = read_counters(ebpf.map(maps::COUNTERS).context("counters")?)?;
    let dropped = c.get(Counter::DropBlockedV4);
    let (mut nsp, mut nbp, mut nsd, mut nbd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..a.runs {
        nsp.push(prog_ns(&mut ebpf, programs::XDP_INGRESS, &pass_frame, 1_000_000)?);
        nbp.push(prog_ns(&mut ebpf, programs::BASELINE_XDP_PASS, &pass_frame, 1_000_000)?);
        nsd.push(prog_ns(&mut ebpf, programs::XDP_INGRESS, &drop_frame, 1_000_000)?);
        nbd.push(prog_ns(&mut ebpf, programs::BASELINE_XDP_DROP, &drop_frame, 1_000_000)?);
    }
    let (nsp, nbp, nsd, nbd) = (median(nsp), median(nbp), median(nsd), median(nbd));
    eprintln!("program-only ns/frame: sensor pass {nsp} bare pass {nbp} sensor drop {nsd} bare drop {nbd}");
    let (sp, bp, sd, bd) = (median(sp), median(bp), median(sd), median(bd));
    drop(ebpf);
    drop(net);

    eprintln!("ring decode: {} flow-start events x {} runs", a.events, a.runs);
    let mut rates = Vec::new();
    let (mut decoded, mut lost) = (0, 0);
    for _ in 0..a.runs {
        let (r, d, l) = decode_rate(a.events)?;
        rates.push(r);
        decoded = d;
        lost += l;
    }
    let decode = median(rates);

    let mut md = String::new();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(md, "Written by `cargo xtask bench` (`bench-driver`); every number below is from one run of it.\n")?;
    writeln!(md, "Machine: {}. Build: release. Median of {} runs.\n", machine(), a.runs)?;
    writeln!(
        md,
        "## XDP: sensor vs bare programs (BPF_PROG_TEST_RUN live frames, 64-byte UDP frames, veth in a namespace)\n"
    )?;
    writeln!(md, "| path | sensor frames/s | bare frames/s | ratio | target |")?;
    writeln!(md, "|---|---:|---:|---:|---:|")?;
    writeln!(
        md,
        "| pass (parse, block lookup, flow update) | {sp:.0} | {bp:.0} (XDP_PASS) | {:.2}x | >= 0.8x |",
        sp / bp
    )?;
    writeln!(md, "| drop (blocked source) | {sd:.0} | {bd:.0} (XDP_DROP) | {:.2}x | >= 0.9x |", sd / bd)?;
    writeln!(md, "\nFrames dropped by the sensor's block list during the run: {dropped}.\n")?;
    writeln!(
        md,
        "Program cost alone (BPF_PROG_TEST_RUN without live frames, kernel-measured average of 1,000,000 runs):\n"
    )?;
    writeln!(md, "| path | sensor ns/frame | bare ns/frame | added by the sensor |")?;
    writeln!(md, "|---|---:|---:|---:|")?;
    writeln!(md, "| pass | {nsp:.0} | {nbp:.0} | {:.0} ns |", nsp - nbp)?;
    writeln!(md, "| drop | {nsd:.0} | {nbd:.0} | {:.0} ns |\n", nsd - nbd)?;
    writeln!(md, "## Ring buffer: events decoded by one user-space thread\n")?;
    writeln!(md, "| events per run | decoded (last run) | lost in kernel (all runs) | events/s (median) | target |")?;
    writeln!(md, "|---:|---:|---:|---:|---:|")?;
    writeln!(md, "| {} | {decoded} | {lost} | {decode:.0} | >= 1,500,000 |", a.events)?;
    writeln!(
        md,
        "\nMethod: `sensor_xdp` writes one flow-start event per distinct flow into a 128 MiB ring \
         (BPF_PROG_TEST_RUN, one frame per flow); one thread then drains and decodes every record \
         (header tag, version and size checks, copy out) and the time of the drain is measured.\n"
    )?;
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.out, &md).with_context(|| format!("writing {}", a.out.display()))?;
    print!("{md}");
    Ok(())
}
