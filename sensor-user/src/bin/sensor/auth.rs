//! `sensor run`: follows auth logs (the files given with `--auth-log`, else
//! /var/log/auth.log and /var/log/secure, plus journald when it runs and no file exists)
//! and hands each login attempt to the agents.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sensor_user::{
    agents::{event::Event, runtime::Dispatcher},
    lake::LakeSink,
    logs::{AuthSource, AuthSourceConfig},
    sys,
};

/// The log reader of a running sensor.
pub struct AuthFeed {
    source: Option<AuthSource>,
    agents: Option<Dispatcher>,
    offset_ns: u64,
    lake: Option<LakeSink>,
}

impl AuthFeed {
    /// Starts following `paths` (defaults when empty) for `agents`; nothing is read
    /// without agents.
    /// Login attempts also become `log` rows of the lake when `lake` is given.
    pub fn start(
        paths: &[PathBuf],
        agents: Option<Dispatcher>,
        offset_ns: u64,
        lake: Option<LakeSink>,
    ) -> Result<Self> {
        let wants = agents.as_ref().is_some_and(|d| d.wants(sensor_user::agents::event::kind::AUTH));
        let source = if wants {
            let mut cfg = AuthSourceConfig::default();
            if !paths.is_empty() {
                cfg.files = paths.to_vec();
            }
            let s = AuthSource::new(&cfg).context("following the auth logs")?;
            eprintln!(
                "auth logs: {} file(s){}",
                cfg.files.len(),
                if s.follows_journal() { " and the systemd journal" } else { "" }
            );
            Some(s)
        } else {
            None
        };
        Ok(Self { source, agents, offset_ns, lake })
    }

    /// Reads new lines and dispatches their login attempts.
    pub fn poll(&mut self) {
        let (Some(src), Some(d)) = (self.source.as_mut(), self.agents.as_mut()) else { return };
        let now = sys::monotonic_ns() + self.offset_ns;
        let lake = &mut self.lake;
        src.poll(now, |ev| {
            if let Some(l) = lake.as_mut() {
                l.auth(&ev);
            }
            d.on_event(&Event::Auth(ev));
        });
    }

    /// Ticks the agents on wall-clock time.
    pub fn tick(&mut self, now_ns: u64) {
        if let Some(d) = self.agents.as_mut() {
            d.tick(now_ns);
        }
        if let Some(l) = self.lake.as_mut() {
            l.tick();
        }
    }

    /// Stops reading and lets go of the agents; prints what was read.
    pub fn finish(self) {
        if let Some(s) = &self.source {
            let st = s.stats();
            eprintln!(
                "auth logs: {} lines, {} login failures, {} successes, {} rejected lines",
                st.lines,
                st.failures,
                st.successes,
                st.rejected.iter().sum::<u64>()
            );
        }
    }
}
