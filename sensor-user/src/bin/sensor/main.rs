//! The `sensor` binary: a thin main over `sensor_user`.

mod agents;
mod auth;
mod cli;
mod console;
mod fleet;
mod govern;
mod lake;
mod metrics;
mod replay;
mod rules;

use std::{
    io::{BufWriter, Stdout, Write},
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Parser;
use cli::{Cli, Command, RulesCmd, RunArgs, XdpModeArg};
use sensor_user::{
    agents::{from_kernel::from_kernel, runtime::Dispatcher},
    api::{
        ControlServer,
        handler::{GovernorApi, SharedGovernor},
    },
    block::{BlockMaps, Cidr, notes, parse_ttl},
    event::{Event, write_json_line},
    kernel::{self, RingReader, Sensor, SensorOptions, XdpModeChoice, ring::EventSink},
    packet::{
        eve::{EveTypes, EveWriter, RecordType},
        live::LiveFeed,
        observe::Observer,
        pipeline::{Pipeline, PipelineConfig},
    },
    respond::{
        actuator::MapActuator,
        config::GovernanceConfig,
        output::GovOutput,
        runner::{Clock, DecisionThread},
        wall_ns,
    },
    sys,
};

/// The name of a block entry's mode.
fn mode_name(mode: u8) -> &'static str {
    use sensor_common::block::{BLOCK_MODE_ALLOW, BLOCK_MODE_DROP, BLOCK_MODE_ISOLATE, BLOCK_MODE_WATCH};
    match mode {
        BLOCK_MODE_DROP => "drop",
        BLOCK_MODE_WATCH => "watch",
        BLOCK_MODE_ISOLATE => "isolate",
        BLOCK_MODE_ALLOW => "allow",
        _ => "other",
    }
}

/// Re-reads the policy file (SIGHUP); an invalid file leaves the policy in force.
fn reload_policy(g: &SharedGovernor, path: Option<&std::path::Path>) {
    if let Some(Err(e)) = path.map(|p| sensor_user::trust::check(p, "policy file")) {
        eprintln!("error: policy reload refused, the previous policy stays in force: {e}");
        return;
    }
    let cfg = match path {
        Some(p) => GovernanceConfig::load(p),
        None => Ok(GovernanceConfig::default_config()),
    };
    match (cfg, g.lock()) {
        (Ok(cfg), Ok(mut g)) => {
            eprintln!("policy reloaded: version {}", cfg.version);
            g.reload(cfg, "SIGHUP", wall_ns());
        }
        (Err(e), _) => eprintln!("error: policy reload refused, the previous policy stays in force: {e}"),
        (_, Err(_)) => {}
    }
}

/// Events and ring losses over the last N seconds, for the loss-aware policy.
#[derive(Default)]
struct LossWindow {
    samples: std::collections::VecDeque<(u64, u64)>,
}

impl LossWindow {
    /// Adds the current totals; returns the share lost over the last `secs` samples.
    fn push(&mut self, events: u64, lost: u64, secs: usize) -> f64 {
        self.samples.push_back((events, lost));
        while self.samples.len() > secs + 1 {
            self.samples.pop_front();
        }
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else { return 0.0 };
        let (ev, lo) = (last.0.saturating_sub(first.0), last.1.saturating_sub(first.1));
        if ev + lo == 0 { 0.0 } else { lo as f64 / (ev + lo) as f64 }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let notes_path = cli.state_dir.join("block-notes.json");
    match cli.command {
        Command::Run(args) => run(&cli.pin_dir, &cli.state_dir, *args),
        Command::Replay(args) => replay::run(*args),
        Command::Agents { what } => agents::command(&what),
        Command::Rules { what: RulesCmd::Check { paths, vars, json, verbose } } => {
            rules::check(&paths, &vars, json, verbose)
        }
        Command::Rules { what: RulesCmd::Reload } => govern::rules_reload(&cli.state_dir),
        Command::Approvals { what } => govern::approvals(&cli.state_dir, &what),
        Command::Incidents { what, json } => govern::incidents(&cli.state_dir, what.as_ref(), json),
        Command::Feedback { incident, label, note, suppress } => {
            govern::feedback(&cli.state_dir, incident, label, &note, suppress.as_deref())
        }
        Command::Audit { what } => govern::audit_cmd(&cli.state_dir, &what),
        Command::Policy { what } => govern::policy_cmd(&cli.state_dir, &what),
        Command::Block { cidr, ttl, reason } => {
            let cidr: Cidr = cidr.parse()?;
            let ttl_d = parse_ttl(&ttl)?;
            // A running sensor's governor writes the block (allowlist checks, audit record
            // with your identity); without one, the pinned maps are written directly.
            let req = serde_json::json!({"cmd": "block", "cidr": cidr, "ttl": ttl, "reason": reason});
            if govern::control(&cli.state_dir, req)?.is_some() {
                let secs = ttl_d.map_or(0, |d| d.as_secs());
                println!("blocked {cidr} for {secs}s ({reason}), audited by the running sensor");
                return Ok(());
            }
            let mut maps = BlockMaps::open_pinned(&cli.pin_dir)?;
            maps.insert(cidr, ttl_d, sensor_common::block::BlockReason::Manual as u16)?;
            let mut n = notes::load(&notes_path);
            n.insert(cidr.to_string(), notes::Note { reason: reason.clone(), ttl: ttl.clone() });
            notes::save(&notes_path, &n).with_context(|| format!("writing {}", notes_path.display()))?;
            match ttl_d {
                Some(d) => println!("blocked {cidr} for {}s ({reason})", d.as_secs()),
                None => println!("blocked {cidr} until unblocked ({reason})"),
            }
            Ok(())
        }
        Command::Unblock { cidr } => {
            let cidr: Cidr = cidr.parse()?;
            if let Some(v) = govern::control(&cli.state_dir, serde_json::json!({"cmd": "unblock", "cidr": cidr}))? {
                if v["was_blocked"].as_bool() != Some(true) {
                    bail!("{cidr} was not blocked (see `sensor blocks`)");
                }
                println!("unblocked {cidr}, audited by the running sensor");
                return Ok(());
            }
            let mut maps = BlockMaps::open_pinned(&cli.pin_dir)?;
            let was = maps.remove(cidr)?;
            let mut n = notes::load(&notes_path);
            n.remove(&cidr.to_string());
            notes::save(&notes_path, &n).with_context(|| format!("writing {}", notes_path.display()))?;
            if !was {
                bail!("{cidr} was not blocked (see `sensor blocks`)");
            }
            println!("unblocked {cidr}");
            Ok(())
        }
        Command::Blocks { json } => {
            let maps = BlockMaps::open_pinned(&cli.pin_dir)?;
            let n = notes::load(&notes_path);
            let now = sys::monotonic_ns();
            let list = maps.list()?;
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|b| {
                        serde_json::json!({
                            "cidr": b.cidr.to_string(),
                            "expires_in_s": b.remaining(now).map(|d| d.as_secs()),
                            "expired": !sensor_common::block::block_applies(b.entry.expires_ns, now),
                            "reason_code": b.entry.reason,
                            "mode": mode_name(b.entry.mode),
                            "note": n.get(&b.cidr.to_string()).map(|x| x.reason.clone()),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<43} {:>12} {:<8} {:<12} NOTE", "CIDR", "EXPIRES IN", "MODE", "REASON");
                for b in &list {
                    let exp = match b.remaining(now) {
                        None => "never".to_owned(),
                        Some(d) if d.is_zero() => "expired".to_owned(),
                        Some(d) => format!("{}s", d.as_secs()),
                    };
                    let reason = sensor_common::block::BlockReason::try_from(b.entry.reason)
                        .map(|r| r.name())
                        .unwrap_or("other");
                    let note = n.get(&b.cidr.to_string()).map(|x| x.reason.as_str()).unwrap_or("");
                    println!(
                        "{:<43} {:>12} {:<8} {:<12} {}",
                        b.cidr.to_string(),
                        exp,
                        mode_name(b.entry.mode),
                        reason,
                        note
                    );
                }
                println!("{} block(s)", list.len());
            }
            Ok(())
        }
        Command::Query { sql, lake: dir, json, csv } => {
            lake::query_cmd(&sql, dir.as_deref(), &cli.state_dir, json, csv)
        }
        Command::Lake { what } => lake::command(&what, &cli.state_dir),
        Command::Status { json } => {
            let path = cli.pin_dir.join(kernel::RUN_SUBDIR).join(sensor_common::maps::COUNTERS);
            let snap = kernel::counters::read_pinned_counters(&path).with_context(|| {
                format!("no running sensor: {} is not pinned (start one with `sensor run --iface IF`)", path.display())
            })?;
            if json {
                let m: serde_json::Map<String, serde_json::Value> =
                    snap.named().into_iter().map(|(k, v)| (k, v.into())).collect();
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                for (k, v) in snap.named() {
                    println!("{k:<28} {v:>14}");
                }
            }
            Ok(())
        }
    }
}

/// Prints events as JSON lines (when asked), feeds the packet pipeline (network ring) or
/// the agents (process ring).
struct PrintSink {
    print: bool,
    out: BufWriter<Stdout>,
    failed: bool,
    live: Option<LiveFeed>,
    agents: Option<(Dispatcher, u64)>,
    /// Process and syscall events as lake rows, with the monotonic-to-wall offset.
    lake: Option<(sensor_user::lake::LakeSink, u64)>,
    /// Flow gauges for /metrics (network ring only).
    gauges: Option<Arc<metrics::PipelineGauges>>,
}

impl EventSink for PrintSink {
    fn on_event(&mut self, ev: &Event) {
        if let Some(live) = self.live.as_mut() {
            live.on_event(ev);
        }
        if let Some((d, offset)) = self.agents.as_mut() {
            if let Some(e) = from_kernel(ev, *offset) {
                d.on_event(&e);
            }
        }
        if let Some((l, offset)) = self.lake.as_mut() {
            l.kernel(ev, *offset);
        }
        if let (Some(g), Event::FlowEnd(f)) = (&self.gauges, ev) {
            g.flow_packets.fetch_add(f.packets[0] + f.packets[1], Relaxed);
            g.flow_bytes.fetch_add(f.bytes[0] + f.bytes[1], Relaxed);
        }
        if self.print && !self.failed && write_json_line(&mut self.out, ev).is_err() {
            self.failed = true;
        }
    }
    fn on_batch_end(&mut self) {
        if self.print && self.out.flush().is_err() {
            self.failed = true;
        }
    }
    fn on_idle(&mut self) {
        if let Some(live) = self.live.as_mut() {
            live.flush_findings();
            if let Some(g) = &self.gauges {
                let f = live.pipeline().flows();
                g.flows_active.store(f.len() as u64, Relaxed);
                g.flows_created.store(f.stats.created, Relaxed);
                g.flows_evicted.store(f.stats.evicted, Relaxed);
                g.flows_timed_out.store(f.stats.timed_out, Relaxed);
            }
        }
        if let Some((l, _)) = self.lake.as_mut() {
            l.tick();
        }
    }
}

/// Self-protection: re-attaches the XDP and TC programs wherever they were detached,
/// printed and audited (kind `tamper`).
fn check_programs(sensor: &mut Sensor, gov: Option<&SharedGovernor>) {
    for r in sensor.check_programs() {
        let (outcome, how) = match &r.outcome {
            Ok(mode) => ("restored", format!("re-attached ({mode})")),
            Err(e) => ("failed", format!("re-attaching failed: {e:#}")),
        };
        let found = r.found.map_or_else(|| "no program there".to_owned(), |id| format!("program id {id}"));
        eprintln!(
            "tamper: {} (program id {}) is no longer attached to {}: it runs {found}; {how}",
            r.program, r.expected, r.iface
        );
        if let Some(Ok(mut g)) = gov.map(|g| g.lock()) {
            let detail = serde_json::json!({"program": r.program, "iface": r.iface, "expected_id": r.expected,
                "found_id": r.found, "result": how});
            g.audit_tamper("program_detached", detail, outcome, wall_ns());
        }
    }
}

/// Refuses configuration, rules and policy a non-root user could change: the running
/// sensor is root and obeys them (docs/THREAT_MODEL.md).
fn check_inputs(a: &RunArgs) -> Result<()> {
    use sensor_user::trust::check;
    let v = &a.rules.vars;
    let files = [
        (a.agents.config.as_ref(), "agents config"),
        (a.govern.policy.as_ref(), "policy file"),
        (v.classification.as_ref(), "classification file"),
        (v.threshold_file.as_ref(), "threshold file"),
    ];
    for (p, what) in files.into_iter().filter_map(|(p, w)| p.map(|p| (p, w))) {
        check(p, what)?;
    }
    for p in &a.rules.rules {
        check(p, "rule file")?;
    }
    Ok(())
}

fn run(pin_dir: &std::path::Path, state_dir: &std::path::Path, a: RunArgs) -> Result<()> {
    check_inputs(&a)?;
    if a.rules.simulate_ips {
        bail!(
            "--simulate-ips is for replay: the live sensor is passive, and it blocks through its XDP \
             block maps under governance"
        );
    }
    let defaults = SensorOptions::default();
    let opts = SensorOptions {
        object: a.object.unwrap_or_else(kernel::default_object_path),
        ifaces: a.ifaces,
        xdp_mode: match a.xdp_mode {
            XdpModeArg::Auto => XdpModeChoice::Auto,
            XdpModeArg::Native => XdpModeChoice::Native,
            XdpModeArg::Generic => XdpModeChoice::Generic,
        },
        egress: !a.no_egress,
        tracepoints: !a.no_tracepoints,
        sample_bytes: a.sample_bytes,
        sample_packets: a.sample_packets,
        watch_paths: if a.watch_paths.is_empty() { defaults.watch_paths } else { a.watch_paths },
        pin_dir: pin_dir.to_owned(),
        net_ring_bytes: a.net_ring_bytes.unwrap_or(defaults.net_ring_bytes),
        proc_ring_bytes: a.proc_ring_bytes.unwrap_or(defaults.proc_ring_bytes),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handlers")?;
    }
    let mut sensor = Sensor::start(&opts)?;
    // Checked before any thread starts (an error here detaches what was just attached), and
    // after the preflight: a user who may not run the sensor learns that first.
    let console_cfg = console::prepare(&a.console, state_dir)?;
    for r in &sensor.attached {
        eprintln!("attached {:<20} {:<32} {}", r.program, r.target, r.mode);
    }
    let t = sensor.config.task;
    if t.real_parent == 0 || t.arg_start == 0 {
        eprintln!("warning: task_struct offsets not found in BTF: ppid/argv are reported as 0");
    }
    // Loaded and attached: read what needs more than the kept capabilities (other users'
    // /proc/PID/exe), then drop the rest before any thread starts (capabilities are per
    // thread; every thread started from here inherits the reduced sets).
    let proc_seed = sensor_user::agents::context::ProcSeed::read(0);
    let kept = sys::caps::drop_to(&sys::caps::KEPT.map(|k| k.0)).context("dropping capabilities")?;
    eprintln!("capabilities: kept {} (mask {kept:#x}); no_new_privs set", sys::caps::KEPT.map(|k| k.1).join(", "));
    let (net, proc_ring) = sensor.take_rings()?;
    let mut blocks = sensor.take_block_maps()?;
    let _intel = crate::agents::intel_feeds(&a.agents, &mut blocks)?;
    let lake = crate::lake::open(&a.lake, Some(state_dir))?;
    // The agents' baselines come from the lake (the newest saved by this host), unless a
    // state file is named; without a lake, from STATE_DIR/agents-state.json.
    let lake_state = match (&lake, &a.agents.agent_state) {
        (Some(l), None) => {
            let (st, skipped) = sensor_user::lake::baselines::load(&l.config().root, &l.config().host);
            for s in skipped {
                eprintln!("warning: lake: unreadable baselines file skipped: {s}");
            }
            if st.is_some() {
                eprintln!("agents: learned baselines loaded from the lake");
            }
            st.map(|(_, v)| v)
        }
        _ => None,
    };
    let default_state = if lake.is_some() { None } else { Some(state_dir.join("agents-state.json")) };
    let history = match &lake {
        Some(l) if !a.agents.no_agents => crate::lake::history(l, &a.agent_history)?,
        _ => None,
    };
    let agents = crate::agents::build(&a.agents, default_state, Some(2), lake_state, history.as_ref())?;
    drop(history);
    let agent_stats = agents.as_ref().map(|(rt, _)| Arc::clone(rt.stats()));
    // Governance: the governor owns the block maps (the only writer from now on), takes
    // findings from the agents' tap on its own thread, and answers the control socket.
    // Live, the pipeline sees payload samples, never the handshake (the kernel tracks that):
    // every flow looks picked up midstream, and without pick-up its rules would get no app
    // layer (an HTTP rule would never see a request).
    let sig = crate::rules::build(&a.rules, false)?.map(|mut s| {
        s.midstream = true;
        s
    });
    let rules_reload = sig.as_ref().map(|s| crate::rules::reloader(a.rules.clone(), s.reloader()));
    let mut gov = None;
    let mut console_gov = None;
    let mut fleet: Option<sensor_user::fleet::Fleet> = None;
    let mut blocks = Some(blocks);
    if agents.is_some() && !a.govern.no_govern {
        let audit = a.govern.audit_log.clone().unwrap_or_else(|| govern::audit_path(state_dir));
        let actuator = Box::new(MapActuator::new(blocks.take().context("block maps")?));
        let shared = govern::build(&a.govern, actuator, Some(&audit), Some(&govern::state_path(state_dir)), true)?;
        let mut out = GovOutput::new(
            lake.as_ref().map(sensor_user::lake::Lake::sink),
            crate::lake::ocsf_out(&a.lake)?,
            sensor_user::lake::host_name(),
        );
        if let Some(url) = &a.fleet {
            let f = crate::fleet::start(url, &a.site, a.fleet_id.as_deref(), state_dir, Arc::clone(&shared))?;
            out = out.with_fleet(f.handle());
            fleet = Some(f);
        }
        let (tap, thread) = DecisionThread::spawn(Arc::clone(&shared), Clock::Wall, Some(out))?;
        let mut api = GovernorApi::new(Arc::clone(&shared), a.govern.policy.clone());
        if let Some(sig) = &sig {
            api = api.with_rules_reload(crate::rules::reloader(a.rules.clone(), sig.reloader()));
        }
        let api: Arc<dyn sensor_user::api::Handler> = Arc::new(api);
        let server = ControlServer::start(&govern::socket_path(state_dir), Arc::clone(&api))?;
        eprintln!("control socket {} (root only); audit log {}", server.path().display(), audit.display());
        let changes = shared.lock().map(|g| Arc::clone(&g.changes)).unwrap_or_default();
        let key = a.govern.audit_key.as_deref().map(sensor_user::audit::load_key).transpose()?;
        console_gov = Some(((api, changes), (audit, key)));
        gov = Some((shared, tap, thread, server));
    }
    let (mut live, mut state_path, mut proc_agents, mut log_agents) = (None, None, None, None);
    if a.eve.is_some() || agents.is_some() || sig.is_some() {
        let out: Option<Box<dyn Write + Send>> = match &a.eve {
            Some(path) => Some(Box::new(
                std::fs::File::create(path).with_context(|| format!("cannot create eve output {}", path.display()))?,
            )),
            None => None,
        };
        let mut eve = EveWriter::new(out, EveTypes::default());
        if let Some(l) = &lake {
            eve = eve.with_lake(l.sink());
        }
        let mut pipeline = Pipeline::new(PipelineConfig::default(), eve);
        if let Some((rt, path)) = agents {
            let seeded = rt.context().seed(&proc_seed);
            eprintln!("agents: {} ({} processes seeded from /proc)", rt.agents().join(", "), seeded);
            if let Some((_, tap, ..)) = &gov {
                rt.queue().set_tap(tap.clone());
            }
            proc_agents = rt.dispatcher();
            log_agents = rt.dispatcher();
            state_path = path;
            pipeline = pipeline.with_agents(Observer::new(rt).printing(true));
        }
        if let Some(sig) = sig {
            pipeline = pipeline.with_signatures(sig);
        }
        live = Some(LiveFeed::new(pipeline));
    }
    let offset = live.as_ref().map_or(0, LiveFeed::offset_ns);
    let sink = || PrintSink {
        print: a.print_events,
        out: BufWriter::new(std::io::stdout()),
        failed: false,
        live: None,
        agents: None,
        lake: None,
        gauges: None,
    };
    let gauges = Arc::new(metrics::PipelineGauges::default());
    let mut net_sink = sink();
    net_sink.live = live;
    net_sink.gauges = Some(Arc::clone(&gauges));
    let mut proc_sink = sink();
    proc_sink.agents = proc_agents.take().map(|d| (d, offset));
    proc_sink.lake = lake.as_ref().map(|l| (l.sink(), offset));
    let net_reader = RingReader::spawn("ring-net", net, Arc::clone(&stop), net_sink)?;
    let proc_reader = RingReader::spawn("ring-proc", proc_ring, Arc::clone(&stop), proc_sink)?;
    let mut auth =
        crate::auth::AuthFeed::start(&a.auth_logs, log_agents.take(), offset, lake.as_ref().map(|l| l.sink()))?;
    let sources = metrics::Sources {
        counters: pin_dir.join(kernel::RUN_SUBDIR).join(sensor_common::maps::COUNTERS),
        rings: vec![("net", Arc::clone(&net_reader.stats)), ("proc", Arc::clone(&proc_reader.stats))],
        pipeline: Arc::clone(&gauges),
        agents: agent_stats,
        governor: gov.as_ref().map(|(g, ..)| Arc::clone(g)),
        lake: lake.as_ref().map(|l| Arc::clone(l.stats())),
        fleet: fleet.as_ref().map(|f| Arc::clone(f.stats())),
    };
    let collect: sensor_user::metrics::server::Collect = Arc::new(move || sources.collect());
    let metrics_server = if a.metrics == "off" {
        None
    } else {
        match sensor_user::metrics::MetricsServer::start(&a.metrics, Arc::clone(&collect)) {
            Ok(m) => {
                eprintln!("metrics: http://{}/metrics", m.addr());
                Some(m)
            }
            Err(e) => {
                eprintln!("warning: metrics: cannot listen on {}: {e}; /metrics is off", a.metrics);
                None
            }
        }
    };
    let (console_api, console_audit) = console_gov.unzip();
    let console = console::start(
        console_cfg,
        console::Sources {
            governor: console_api,
            audit: console_audit,
            health: collect,
            lake: lake.as_ref().map(|l| (l.config().root.clone(), l.config().host.clone())),
        },
    );
    eprintln!("sensor running (pid {}); pins in {}", std::process::id(), pin_dir.display());

    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup)).context("installing SIGHUP")?;
    let started = Instant::now();
    let mut last_sweep = Instant::now();
    let mut last_check = Instant::now();
    let mut loss = LossWindow::default();
    while !stop.load(Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if a.duration.is_some_and(|d| started.elapsed().as_secs_f64() >= d) {
            break;
        }
        auth.poll();
        if hup.swap(false, Relaxed) {
            if let Some((g, ..)) = &gov {
                reload_policy(g, a.govern.policy.as_deref());
            }
            if let Some(f) = &rules_reload {
                match f() {
                    Ok(summary) => eprintln!("{summary}"),
                    Err(e) => eprintln!("error: rule reload refused, the previous rule set stays in force: {e}"),
                }
            }
        }
        if last_check.elapsed() >= Duration::from_secs(2) {
            last_check = Instant::now();
            check_programs(&mut sensor, gov.as_ref().map(|(g, ..)| g));
        }
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            last_sweep = Instant::now();
            auth.tick(sys::monotonic_ns() + offset);
            let events = net_reader.stats.events.load(Relaxed) + proc_reader.stats.events.load(Relaxed);
            let lost = sensor.counters().map(|c| c.ring_losses()).unwrap_or(0);
            match (&gov, blocks.as_mut()) {
                (Some((g, ..)), _) => {
                    if let Ok(mut g) = g.lock() {
                        let share = loss.push(events, lost, g.loss_window().as_secs().max(1) as usize);
                        g.set_loss_share(share);
                    }
                }
                (None, Some(b)) => {
                    if let Ok(gone) = b.sweep_expired(sys::monotonic_ns()) {
                        if !gone.is_empty() {
                            eprintln!("expired {} block(s)", gone.len());
                        }
                    }
                }
                (None, None) => {}
            }
        }
    }
    stop.store(true, Relaxed);
    let (ns, ps) = (Arc::clone(&net_reader.stats), Arc::clone(&proc_reader.stats));
    // The agent shards stop once every dispatcher is gone: the process ring's and the
    // log reader's go first, then the pipeline finishes the runtime.
    let _ = proc_reader.join();
    auth.finish();
    let gov_parts = gov.map(|(g, tap, thread, server)| {
        server.stop();
        drop(tap);
        (g, thread)
    });
    if let Some(mut live) = net_reader.join().and_then(|s| s.live) {
        live.finish().context("writing eve output")?;
        if let Some((state, n)) = live.pipeline().agent_outcome() {
            crate::agents::save(state_path.as_deref(), state)?;
            if let (Some(l), None) = (&lake, &state_path) {
                sensor_user::lake::baselines::save(l, state, wall_ns());
            }
            eprintln!("agents: {n} finding(s)");
        }
        let p = live.pipeline();
        eprintln!(
            "packet pipeline: {} samples, {} flows, records: flow {}, http {}, dns {}, tls {}, ssh {}",
            live.samples(),
            p.flows().stats.created,
            p.eve().count(RecordType::Flow),
            p.eve().count(RecordType::Http),
            p.eve().count(RecordType::Dns),
            p.eve().count(RecordType::Tls),
            p.eve().count(RecordType::Ssh)
        );
    }
    if let Some((g, thread)) = gov_parts {
        // The tap's last senders went with the agent runtime: the thread drains and ends.
        thread.join();
        if let Ok(mut g) = g.lock() {
            g.save();
            let st = g.stats;
            eprintln!(
                "governance: {} finding(s), {} incident(s), {} decision(s), {} action(s) applied, {} approval(s) pending",
                st.findings,
                g.incidents().count(),
                st.decisions,
                st.applied,
                g.approvals().count()
            );
        }
    }
    drop(console);
    drop(metrics_server);
    if let Some(f) = fleet {
        f.stop();
    }
    if let Some(l) = lake {
        let st = Arc::clone(l.stats());
        l.finish();
        eprintln!(
            "lake: {} row(s) in {} file(s); {} row(s) dropped",
            st.rows_written.load(Relaxed),
            st.files_written.load(Relaxed),
            st.rows_dropped.load(Relaxed)
        );
    }
    let counters = sensor.counters()?;
    eprintln!(
        "stopped after {:.1}s: {} network and {} process events decoded, {} decode errors, {} lost in the kernel (ring full)",
        started.elapsed().as_secs_f64(),
        ns.events.load(Relaxed),
        ps.events.load(Relaxed),
        ns.decode_error_total() + ps.decode_error_total(),
        counters.ring_losses()
    );
    drop(sensor);
    Ok(())
}
