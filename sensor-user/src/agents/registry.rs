//! Every agent the sensor knows, one line each. Adding an agent is one file and one line
//! here; the runtime, the config loader and the default-config printer read this list.

use super::{
    agent::{Agent, DynAgent},
    beacon::Beacon,
    brute_force::BruteForce,
    config::ConfigError,
    dns_tunnel::DnsTunnel,
    event::Event,
    flood::Flood,
    intel::Intel,
    port_scan::PortScan,
    process::ProcessAgent,
    volume::Volume,
};

/// Makes instances of one configured agent (one per shard).
pub type Factory = Box<dyn Fn() -> Box<dyn DynAgent> + Send + Sync>;

/// One registry line: what the runtime needs to know about an agent type.
pub struct AgentEntry {
    /// Name and config section.
    pub name: &'static str,
    /// Runs unless the config disables it.
    pub default_enabled: bool,
    /// Event kinds it wants.
    pub interest: u16,
    /// Its aggregation key.
    pub shard_key: fn(&Event) -> u64,
    /// Builds a factory from its config section (None = defaults).
    pub build: fn(Option<toml::Value>) -> Result<Factory, ConfigError>,
    /// Its default config section.
    pub defaults: fn() -> Result<toml::Value, ConfigError>,
}

impl std::fmt::Debug for AgentEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentEntry").field("name", &self.name).finish()
    }
}

fn build<A: Agent>(section: Option<toml::Value>) -> Result<Factory, ConfigError> {
    let cfg: A::Config = match section {
        Some(v) => v
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Section { agent: A::NAME, message: e.message().to_owned() })?,
        None => A::Config::default(),
    };
    Ok(Box::new(move || Box::new(A::new(&cfg))))
}

fn defaults<A: Agent>() -> Result<toml::Value, ConfigError> {
    toml::Value::try_from(A::Config::default())
        .map_err(|e| ConfigError::Section { agent: A::NAME, message: e.to_string() })
}

const fn entry<A: Agent>() -> AgentEntry {
    AgentEntry {
        name: A::NAME,
        default_enabled: A::DEFAULT_ENABLED,
        interest: A::INTEREST,
        shard_key: A::shard_key,
        build: build::<A>,
        defaults: defaults::<A>,
    }
}

/// The registry.
pub static AGENTS: &[AgentEntry] = &[
    entry::<PortScan>(),
    entry::<Flood>(),
    entry::<Volume>(),
    entry::<DnsTunnel>(),
    entry::<Beacon>(),
    entry::<BruteForce>(),
    entry::<ProcessAgent>(),
    entry::<Intel>(),
];

/// A generator of `n` steady-state events for one agent (its module's `steady_events`).
pub type SteadyStream = fn(usize) -> Vec<Event>;

/// Every agent's steady-state stream, for the benchmarks and the no-allocation tests.
#[doc(hidden)]
pub const STEADY_STREAMS: [(&str, SteadyStream); 8] = [
    (PortScan::NAME, super::port_scan::steady_events),
    (Flood::NAME, super::flood::steady_events),
    (Volume::NAME, super::volume::steady_events),
    (DnsTunnel::NAME, super::dns_tunnel::steady_events),
    (Beacon::NAME, super::beacon::steady_events),
    (BruteForce::NAME, super::brute_force::steady_events),
    (ProcessAgent::NAME, super::process::steady_events),
    (Intel::NAME, super::intel::steady_events),
];

/// The entry named `name`.
pub fn find(name: &str) -> Option<&'static AgentEntry> {
    AGENTS.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_has_a_steady_stream() {
        for e in AGENTS {
            assert!(STEADY_STREAMS.iter().any(|(n, _)| *n == e.name), "{} has no steady stream", e.name);
        }
    }

    #[test]
    fn names_are_unique_and_defaults_serialise() {
        let mut names: Vec<_> = AGENTS.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AGENTS.len());
        for e in AGENTS {
            let d = (e.defaults)().expect("defaults serialise");
            assert!(d.is_table(), "{} defaults are a table", e.name);
            drop((e.build)(Some(d)).unwrap_or_else(|err| panic!("{}: defaults round-trip: {err}", e.name)));
        }
    }
}
