//! `sensor replay`: builds the pipeline from the arguments, replays the inputs, prints the
//! summary table and fails when any input was damaged.

use std::{fs::File, io::Write, path::PathBuf};

use std::{collections::BTreeMap, sync::Arc};

use anyhow::{Context, Result, bail};
use sensor_user::packet::{
    app::AppConfig,
    decode::DecodeError,
    eve::{EveTypes, EveWriter, RecordType},
    flow::FlowConfig,
    observe::Observer,
    pipeline::{Pipeline, PipelineConfig},
    replay::{ReplayReport, expand_inputs, replay_files},
};
use sensor_user::{
    correlate::incident::Incident,
    lake::{Lake, LakeStats},
    respond::{
        actuator::DryRun,
        output::GovOutput,
        runner::{Clock, DecisionThread},
    },
};

use crate::cli::ReplayArgs;

/// Runs the command.
pub fn run(args: ReplayArgs) -> Result<()> {
    let files = expand_inputs(&args.inputs)?;
    let types = parse_types(&args.types)?;
    let out: Box<dyn Write + Send> = if args.eve == "-" {
        Box::new(std::io::stdout())
    } else {
        let path = PathBuf::from(&args.eve);
        Box::new(File::create(&path).with_context(|| format!("cannot create eve output {}", path.display()))?)
    };
    let mut cfg = PipelineConfig {
        flow: FlowConfig {
            max_flows: args.max_flows.max(1),
            vlan_tracking: !args.no_vlan_tracking,
            ..FlowConfig::default()
        },
        app: AppConfig { stream_depth: args.stream_depth, ..AppConfig::default() },
        ..PipelineConfig::default()
    };
    cfg.app.http.body_limit = args.http_body_limit;
    let lake = crate::lake::open(&args.lake, None)?;
    let mut eve = EveWriter::new(Some(out), types);
    if let Some(l) = &lake {
        eve = eve.with_lake(l.sink());
    }
    let mut pipeline = Pipeline::new(cfg, eve);
    let mut state_path = None;
    let mut gov = None;
    if let Some((rt, path)) = crate::agents::build(&args.agents, None, None, None, None)? {
        if !args.govern.no_govern {
            // Replay decides on event time and acts on nothing (a dry-run actuator).
            let shared = crate::govern::build(
                &args.govern,
                Box::new(DryRun::default()),
                args.govern.audit_log.as_deref(),
                None,
                false,
            )?;
            let out = GovOutput::new(
                lake.as_ref().map(Lake::sink),
                crate::lake::ocsf_out(&args.lake)?,
                sensor_user::lake::host_name(),
            );
            let (tap, thread) = DecisionThread::spawn(Arc::clone(&shared), Clock::Event, Some(out))?;
            rt.queue().set_tap(tap);
            gov = Some((shared, thread));
        }
        pipeline = pipeline.with_agents(Observer::new(rt));
        state_path = path;
    }
    if let Some(sig) = crate::rules::build(&args.rules, args.quiet)? {
        pipeline = pipeline.with_signatures(sig);
    }
    let report = replay_files(&mut pipeline, &files, !args.no_progress);
    pipeline.finish().with_context(|| format!("writing eve output {}", args.eve))?;
    if let Some((state, _)) = pipeline.agent_outcome() {
        crate::agents::save(state_path.as_deref(), state)?;
    }
    if !args.quiet {
        eprint!("{}", summary(&pipeline, &report));
    }
    if let Some((shared, thread)) = gov {
        // The agents are finished, so the tap is closed: the thread drains and ends.
        thread.join();
        let g = shared.lock().map_err(|_| anyhow::anyhow!("the governor panicked"))?;
        let incidents: Vec<&Incident> = g.incidents().collect();
        if !args.quiet {
            let mut by: BTreeMap<&str, usize> = BTreeMap::new();
            for d in incidents.iter().flat_map(|i| &i.decisions) {
                *by.entry(d.outcome.name()).or_default() += 1;
            }
            eprintln!(
                "governance (dry run): {} finding(s) -> {} incident(s); decisions: {}",
                g.stats.findings,
                incidents.len(),
                if by.is_empty() {
                    "none".to_owned()
                } else {
                    by.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
                }
            );
            for i in &incidents {
                eprintln!("  {}", i.summary());
            }
        }
        if let Some(p) = &args.incidents {
            std::fs::write(p, serde_json::to_vec_pretty(&incidents)?)
                .with_context(|| format!("writing {}", p.display()))?;
        }
    }
    drop(pipeline);
    if let Some(l) = lake {
        let (st, root) = (Arc::clone(l.stats()), l.config().root.clone());
        l.finish();
        if !args.quiet {
            eprintln!(
                "lake: {} row(s) in {} file(s), {:.1} MiB, in {}{}",
                LakeStats::get(&st.rows_written),
                LakeStats::get(&st.files_written),
                LakeStats::get(&st.bytes_written) as f64 / (1 << 20) as f64,
                root.display(),
                match LakeStats::get(&st.rows_dropped) {
                    0 => String::new(),
                    n => format!("; {n} row(s) could not be written"),
                }
            );
        }
    }
    let failed: Vec<_> = report.failed().collect();
    if let Some(first) = failed.first() {
        if let Some(e) = &first.error {
            bail!(
                "{} of {} input files could not be read to the end; first: {e} (packets before the damage were processed)",
                failed.len(),
                report.files.len()
            );
        }
    }
    Ok(())
}

fn parse_types(names: &[String]) -> Result<EveTypes> {
    if names.is_empty() {
        return Ok(EveTypes::default());
    }
    let mut types = Vec::new();
    for n in names {
        match RecordType::ALL.iter().find(|t| t.name() == n.trim()) {
            Some(t) => types.push(*t),
            None => bail!("unknown record type {n:?} (known: flow, http, dns, tls, ssh, anomaly, stats)"),
        }
    }
    Ok(EveTypes::only(&types))
}

/// The end-of-run table.
fn summary(p: &Pipeline, r: &ReplayReport) -> String {
    let st = p.stats();
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let mut s = String::new();
    let mut row = |k: &str, v: String| s.push_str(&format!("  {k:<15} {v}\n"));
    row("files", format!("{} ({} with errors)", r.files.len(), r.failed().count()));
    row("packets", format!("{} ({} non-IP)", st.packets, st.non_ip));
    row("bytes", st.bytes.to_string());
    row(
        "time",
        format!(
            "{:.3} s, {:.0} packets/s, {:.3} Gbit/s",
            secs,
            st.packets as f64 / secs,
            st.bytes as f64 * 8.0 / secs / 1e9
        ),
    );
    let fl = p.flows().stats;
    row("flows", format!("{} (timed out {}, evicted {}, peak {})", fl.created, fl.timed_out, fl.evicted, fl.peak));
    let records: Vec<String> = RecordType::ALL.iter().map(|t| format!("{} {}", t.name(), p.eve().count(*t))).collect();
    row("records", records.join(", "));
    if let Some((_, n)) = p.agent_outcome() {
        row("findings", n.to_string());
    }
    let errors: Vec<String> = DecodeError::ALL
        .iter()
        .filter(|e| **e != DecodeError::NonIp && st.errors[e.index()] > 0)
        .map(|e| format!("{} {}", e.name(), st.errors[e.index()]))
        .collect();
    row("decode errors", if errors.is_empty() { "none".into() } else { errors.join(", ") });
    for f in r.failed() {
        if let Some(e) = &f.error {
            row("capture error", format!("{e} (after {} packets)", f.packets));
        }
    }
    format!("replay summary\n{s}")
}
