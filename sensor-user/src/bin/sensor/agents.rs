//! Micro-agent setup shared by `run` and `replay`: the `[agents]` config, the agent
//! selection, the learned-state file, and `sensor agents list|config`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sensor_user::agents::{
    config::AgentsConfig,
    registry::AGENTS,
    runtime::{Runtime, load_state_file, save_state_file},
};

use sensor_user::lake::history::History;

use crate::cli::{AgentArgs, AgentsCmd};

/// The runtime the arguments ask for (None with `--no-agents`), and the state file to
/// write at the end. `shards` is the shard count used when the config leaves it at 0.
/// Without `--agent-state` the learned state comes from `from_lake` (the lake's newest
/// baselines) when given, else from `default_state`.
pub fn build(
    args: &AgentArgs,
    default_state: Option<PathBuf>,
    shards: Option<usize>,
    from_lake: Option<serde_json::Value>,
    history: Option<&History>,
) -> Result<Option<(Runtime, Option<PathBuf>)>> {
    if args.no_agents {
        return Ok(None);
    }
    let mut cfg = match &args.config {
        Some(p) => AgentsConfig::load(p)?,
        None => AgentsConfig::defaults(),
    };
    if !args.agents.is_empty() {
        cfg.retain(&args.agents)?;
    }
    if let Some(n) = shards.filter(|_| cfg.runtime.shards == 0) {
        cfg.runtime.shards = n;
    }
    let state_path = args.agent_state.clone().or(default_state);
    let state = match (&state_path, from_lake) {
        (None, Some(v)) => Some(v),
        (Some(p), _) => load_state_file(p).map_err(anyhow::Error::msg).context("reading the agents' learned state")?,
        (None, _) => None,
    };
    let Some(h) = history else {
        let rt = Runtime::new(cfg, state.as_ref()).context("starting the agent shards")?;
        return Ok(Some((rt, state_path)));
    };
    let (rt, warm) = Runtime::with_history(cfg, state.as_ref(), &h.events).context("starting the agent shards")?;
    for (addr, name, ts) in &h.dns_answers {
        rt.context().record_dns_answer(addr, name.as_bytes(), *ts);
    }
    let c = h.counts;
    eprintln!(
        "agents: warmed up on {} events from the lake ({} flows, {} dns, {} names, {} logins{}); \
         {} findings held back (reported before the restart)",
        warm.events,
        c.flows,
        c.dns,
        c.names,
        c.logins,
        if h.dropped > 0 { format!("; {} older events left out", h.dropped) } else { String::new() },
        warm.held_back
    );
    Ok(Some((rt, state_path)))
}

/// Writes learned state, when a state file is in use.
pub fn save(path: Option<&Path>, state: &serde_json::Value) -> Result<()> {
    if let Some(p) = path {
        save_state_file(p, state).with_context(|| format!("writing the agents' learned state {}", p.display()))?;
    }
    Ok(())
}

/// `sensor agents ...`.
pub fn command(what: &AgentsCmd) -> Result<()> {
    match what {
        AgentsCmd::List => {
            println!("{:<12} {:<8} EVENTS", "AGENT", "DEFAULT");
            for e in AGENTS {
                println!("{:<12} {:<8} {}", e.name, if e.default_enabled { "on" } else { "off" }, kinds(e.interest));
            }
        }
        AgentsCmd::Config => print!("{}", AgentsConfig::default_toml()?),
    }
    Ok(())
}

fn kinds(mask: u16) -> String {
    use sensor_user::agents::event::kind;
    let names = [
        (kind::PACKET, "packet"),
        (kind::FLOW_END, "flow_end"),
        (kind::DNS, "dns"),
        (kind::NAME, "name"),
        (kind::EXEC, "exec"),
        (kind::EXIT, "exit"),
        (kind::SOCK, "sock"),
        (kind::OPEN, "open"),
        (kind::SYSCALL, "syscall"),
        (kind::AUTH, "auth"),
    ];
    names.iter().filter(|(b, _)| mask & b != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(",")
}

/// Loads the intel feeds named in the config (if any), prints their load report, and
/// mirrors address indicators of feeds with `mirror = "watch"|"block"` into the XDP maps.
/// The returned set stays alive so the intel agents share this one load.
pub fn intel_feeds(
    args: &AgentArgs,
    blocks: &mut sensor_user::block::BlockMaps,
) -> Result<Option<std::sync::Arc<sensor_user::agents::intel::LoadedFeeds>>> {
    use sensor_user::agents::intel::{IntelConfig, Mirror, load_feeds};
    let Some(path) = args.config.as_ref().filter(|_| !args.no_agents) else { return Ok(None) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let Some(cfg) = IntelConfig::from_config_text(&text, &path.display().to_string())? else { return Ok(None) };
    if cfg.feeds.is_empty() {
        return Ok(None);
    }
    // Feeds decide blocks: one a non-root user could change is refused like the config.
    for f in cfg.feeds.iter().map(|f| std::path::Path::new(&f.path)).filter(|p| p.exists()) {
        sensor_user::trust::check(f, "intel feed")?;
    }
    let feeds = load_feeds(&cfg);
    eprint!("{}", feeds.report);
    let (mut watched, mut blocked) = (0, 0);
    for e in feeds.set.mirror_entries() {
        let cidr = sensor_user::block::Cidr { addr: e.addr, prefix: e.prefix };
        let reason = sensor_common::block::BlockReason::ThreatIntel as u16;
        match e.mirror {
            Mirror::Watch => {
                blocks.watch(cidr, None, reason)?;
                watched += 1;
            }
            Mirror::Block => {
                blocks.insert(cidr, None, reason)?;
                blocked += 1;
            }
            Mirror::Off => {}
        }
    }
    if watched + blocked > 0 {
        eprintln!("intel: mirrored {watched} address indicator(s) in watch mode, {blocked} in block mode");
    }
    Ok(Some(feeds))
}
