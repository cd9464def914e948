//! The `[agents]` config: runtime sizes, and one section per agent (`[agents.port_scan]`)
//! whose keys are that agent's typed config plus `enabled`. Unknown agents and unknown keys
//! are errors naming the section and the key, never silently ignored.

use super::registry::{AGENTS, AgentEntry, Factory};

/// A bad `[agents]` config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse.
    #[error("{path}: {message}")]
    Toml {
        /// File.
        path: String,
        /// Parser message with line and column.
        message: String,
    },
    /// An agent section has a bad key or value.
    #[error("[agents.{agent}]: {message}")]
    Section {
        /// Agent.
        agent: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A section names no known agent.
    #[error("[agents.{name}]: no such agent (known: {known})")]
    UnknownAgent {
        /// The section name.
        name: String,
        /// Known names.
        known: String,
    },
    /// A runtime key has a bad value.
    #[error("[agents] {key}: {message}")]
    Runtime {
        /// Key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Runtime sizes of the agent host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Shard threads (0 = run agents inline on the caller's thread, as replay does).
    pub shards: usize,
    /// Events queued per shard before new ones are dropped (counted).
    pub shard_queue: usize,
    /// Findings queued before new ones are dropped (counted).
    pub finding_queue: usize,
    /// Event-time period between ticks, ms.
    pub tick_ms: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self { shards: 0, shard_queue: 65_536, finding_queue: 16_384, tick_ms: 1_000 }
    }
}

/// One enabled agent, configured.
pub struct Enabled {
    /// Its registry entry.
    pub entry: &'static AgentEntry,
    /// Makes instances.
    pub factory: Factory,
}

impl std::fmt::Debug for Enabled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enabled").field("agent", &self.entry.name).finish()
    }
}

/// The parsed `[agents]` config.
#[derive(Debug)]
pub struct AgentsConfig {
    /// Runtime sizes.
    pub runtime: RuntimeConfig,
    /// Enabled agents in registry order.
    pub enabled: Vec<Enabled>,
}

impl AgentsConfig {
    /// Every agent enabled by default, with default settings.
    pub fn defaults() -> Self {
        Self::from_table(&toml::Table::new()).unwrap_or(Self { runtime: RuntimeConfig::default(), enabled: Vec::new() })
    }

    /// No agent at all.
    pub fn none() -> Self {
        Self { runtime: RuntimeConfig::default(), enabled: Vec::new() }
    }

    /// Reads a TOML file whose `[agents]` table configures the agents.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses TOML text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Toml { path: origin.to_owned(), message: e.to_string() })?;
        match doc.get("agents") {
            Some(toml::Value::Table(t)) => Self::from_table(t),
            Some(_) => Err(ConfigError::Runtime { key: "agents", message: "must be a table".into() }),
            None => Self::from_table(&toml::Table::new()),
        }
    }

    /// Builds from the `[agents]` table.
    pub fn from_table(t: &toml::Table) -> Result<Self, ConfigError> {
        let mut runtime = RuntimeConfig::default();
        let mut sections = Vec::new();
        for (key, value) in t {
            match (key.as_str(), value) {
                ("shards", v) => runtime.shards = uint(v, "shards", 0, 64)? as usize,
                ("shard_queue", v) => runtime.shard_queue = uint(v, "shard_queue", 16, 1 << 24)? as usize,
                ("finding_queue", v) => runtime.finding_queue = uint(v, "finding_queue", 16, 1 << 24)? as usize,
                ("tick_ms", v) => runtime.tick_ms = uint(v, "tick_ms", 10, 60_000)?,
                (name, toml::Value::Table(section)) => sections.push((name.to_owned(), section.clone())),
                (name, _) => {
                    return Err(ConfigError::UnknownAgent {
                        name: name.to_owned(),
                        known: AGENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
                    });
                }
            }
        }
        for (name, _) in &sections {
            if !AGENTS.iter().any(|e| e.name == name) {
                return Err(ConfigError::UnknownAgent {
                    name: name.clone(),
                    known: AGENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
                });
            }
        }
        let mut enabled = Vec::new();
        for entry in AGENTS {
            let mut section = sections.iter().find(|(n, _)| n == entry.name).map(|(_, s)| s.clone());
            let on = match section.as_mut().and_then(|s| s.remove("enabled")) {
                Some(toml::Value::Boolean(b)) => b,
                Some(_) => {
                    return Err(ConfigError::Section {
                        agent: entry.name,
                        message: "enabled: expected true or false".into(),
                    });
                }
                None => entry.default_enabled,
            };
            if on {
                enabled.push(Enabled { entry, factory: (entry.build)(section.map(toml::Value::Table))? });
            }
        }
        Ok(Self { runtime, enabled })
    }

    /// Keeps only the agents named in `names` (for `--agents a,b`); unknown names are errors.
    pub fn retain(&mut self, names: &[String]) -> Result<(), ConfigError> {
        for n in names {
            if !AGENTS.iter().any(|e| e.name == n) {
                return Err(ConfigError::UnknownAgent {
                    name: n.clone(),
                    known: AGENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
                });
            }
        }
        self.enabled.retain(|e| names.iter().any(|n| n == e.entry.name));
        Ok(())
    }

    /// The commented default `[agents]` config, as TOML text.
    pub fn default_toml() -> Result<String, ConfigError> {
        let r = RuntimeConfig::default();
        let mut out = String::from("[agents]\n");
        out.push_str(&format!("# Shard threads for agents in live mode (0 = inline).\nshards = {}\n", r.shards));
        out.push_str(&format!(
            "shard_queue = {}\nfinding_queue = {}\ntick_ms = {}\n",
            r.shard_queue, r.finding_queue, r.tick_ms
        ));
        for e in AGENTS {
            let mut t = match (e.defaults)()? {
                toml::Value::Table(t) => t,
                _ => toml::Table::new(),
            };
            t.insert("enabled".into(), toml::Value::Boolean(e.default_enabled));
            let mut doc = toml::Table::new();
            let mut agents = toml::Table::new();
            agents.insert(e.name.into(), toml::Value::Table(t));
            doc.insert("agents".into(), toml::Value::Table(agents));
            out.push('\n');
            out.push_str(
                &toml::to_string(&doc)
                    .map_err(|err| ConfigError::Section { agent: e.name, message: err.to_string() })?,
            );
        }
        Ok(out)
    }
}

fn uint(v: &toml::Value, key: &'static str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match v {
        toml::Value::Integer(i) if (*i as i128) >= min as i128 && (*i as i128) <= max as i128 => Ok(*i as u64),
        _ => Err(ConfigError::Runtime { key, message: format!("expected an integer in {min}..={max}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_enable_every_default_agent() {
        let c = AgentsConfig::defaults();
        let want = AGENTS.iter().filter(|e| e.default_enabled).count();
        assert_eq!(c.enabled.len(), want);
    }

    #[test]
    fn a_section_can_disable_an_agent_and_tune_another() {
        let c = AgentsConfig::parse("[agents]\nshards = 2\n[agents.flood]\nenabled = false\n", "t").expect("parses");
        assert_eq!(c.runtime.shards, 2);
        assert!(c.enabled.iter().all(|e| e.entry.name != "flood"));
    }

    #[test]
    fn unknown_agents_and_keys_are_named_in_the_error() {
        let e = AgentsConfig::parse("[agents.nosuch]\nx = 1\n", "t").expect_err("unknown agent");
        assert!(e.to_string().contains("nosuch"), "{e}");
        let e = AgentsConfig::parse("[agents.port_scan]\nbogus_key = 1\n", "t").expect_err("unknown key");
        assert!(e.to_string().contains("port_scan") && e.to_string().contains("bogus_key"), "{e}");
        let e = AgentsConfig::parse("[agents]\nshards = -1\n", "t").expect_err("bad shards");
        assert!(e.to_string().contains("shards"), "{e}");
    }

    #[test]
    fn the_printed_default_config_parses_back() {
        let text = AgentsConfig::default_toml().expect("prints");
        let c = AgentsConfig::parse(&text, "default").expect("parses back");
        assert_eq!(c.enabled.len(), AgentsConfig::defaults().enabled.len());
    }
}
