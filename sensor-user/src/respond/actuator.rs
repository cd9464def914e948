//! The containment actuators, the only writers of the XDP block maps: block a prefix with a
//! TTL, lift it, isolate a host (drop everything but management addresses), kill a process
//! through a pidfd. [`MapActuator`] acts on the kernel maps; [`DryRun`] records what it
//! would do (replay, tests).

use std::{net::IpAddr, time::Duration};

use sensor_common::block::{BLOCK_MODE_ALLOW, BLOCK_MODE_DROP, BLOCK_MODE_ISOLATE, BlockReason};

use crate::{
    api::kill::{KillOutcome, kill_process},
    block::{BlockError, BlockMaps, Cidr},
    sys::monotonic_ns,
};

/// An action that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// A map operation failed.
    #[error("block map: {0}")]
    Map(#[from] BlockError),
    /// Killing failed.
    #[error("killing pid {pid}")]
    Kill {
        /// Process id.
        pid: u32,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Carries out containment.
pub trait Actuator: Send {
    /// Drops packets from `cidr` for `ttl` (`reason` is the kernel's reason code).
    fn block(&mut self, cidr: Cidr, ttl: Duration, reason: BlockReason) -> Result<(), ActError>;
    /// Lifts a block (or an isolation or allow entry); returns whether it existed.
    fn unblock(&mut self, cidr: Cidr) -> Result<bool, ActError>;
    /// Isolates `host` for `ttl`, keeping `management` reachable.
    fn isolate(&mut self, host: IpAddr, ttl: Duration, management: &[Cidr]) -> Result<(), ActError>;
    /// Marks `cidr` as never dropped (allowlist and management addresses).
    fn allow(&mut self, cidr: Cidr) -> Result<(), ActError>;
    /// Kills `pid` if it still is the process that started at `start`.
    fn kill(&mut self, pid: u32, start: Option<u64>) -> Result<KillOutcome, ActError>;
    /// Removes expired entries; returns the prefixes removed.
    fn sweep(&mut self) -> Result<Vec<Cidr>, ActError>;
    /// Whether `cidr` is still written as a block (or, with `isolate`, an isolation): the
    /// self-protection check. Actuators with nothing to inspect say yes.
    fn holds(&mut self, _cidr: Cidr, _isolate: bool) -> Result<bool, ActError> {
        Ok(true)
    }
}

/// Acts on the kernel's block maps.
pub struct MapActuator {
    maps: BlockMaps,
    isolating: bool,
}

impl MapActuator {
    /// Takes over `maps`.
    pub fn new(maps: BlockMaps) -> Self {
        Self { maps, isolating: false }
    }
}

impl Actuator for MapActuator {
    fn block(&mut self, cidr: Cidr, ttl: Duration, reason: BlockReason) -> Result<(), ActError> {
        self.maps.insert(cidr, Some(ttl), reason as u16)?;
        Ok(())
    }

    fn unblock(&mut self, cidr: Cidr) -> Result<bool, ActError> {
        Ok(self.maps.remove(cidr)?)
    }

    fn isolate(&mut self, host: IpAddr, ttl: Duration, management: &[Cidr]) -> Result<(), ActError> {
        for m in management {
            self.allow(*m)?;
        }
        let prefix = if host.is_ipv4() { 32 } else { 128 };
        self.maps.write_mode(
            Cidr { addr: host, prefix },
            Some(ttl),
            BlockReason::Isolation as u16,
            BLOCK_MODE_ISOLATE,
        )?;
        if !self.isolating {
            self.maps.set_isolating(true)?;
            self.isolating = true;
        }
        Ok(())
    }

    fn allow(&mut self, cidr: Cidr) -> Result<(), ActError> {
        self.maps.write_mode(cidr, None, BlockReason::Unspecified as u16, BLOCK_MODE_ALLOW)?;
        Ok(())
    }

    fn kill(&mut self, pid: u32, start: Option<u64>) -> Result<KillOutcome, ActError> {
        kill_process(pid, start).map_err(|source| ActError::Kill { pid, source })
    }

    fn sweep(&mut self) -> Result<Vec<Cidr>, ActError> {
        let expired = self.maps.sweep_expired(monotonic_ns())?;
        if self.isolating {
            let still = self.maps.list()?.iter().any(|b| b.entry.mode == BLOCK_MODE_ISOLATE);
            if !still {
                self.maps.set_isolating(false)?;
                self.isolating = false;
            }
        }
        Ok(expired)
    }

    fn holds(&mut self, cidr: Cidr, isolate: bool) -> Result<bool, ActError> {
        let mode = if isolate { BLOCK_MODE_ISOLATE } else { BLOCK_MODE_DROP };
        Ok(self.maps.list()?.iter().any(|b| b.cidr == cidr && b.entry.mode == mode))
    }
}

/// One thing [`DryRun`] was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum DryAction {
    /// A block.
    Block(Cidr, Duration),
    /// A lifted block.
    Unblock(Cidr),
    /// An isolation.
    Isolate(IpAddr, Duration),
    /// An allow entry.
    Allow(Cidr),
    /// A kill.
    Kill(u32),
}

/// Records actions instead of taking them; blocks expire on `now_ns` given by the caller.
#[derive(Debug, Default)]
pub struct DryRun {
    /// What was asked, in order.
    pub actions: Vec<DryAction>,
    /// Live blocks and their expiry (monotonic ns).
    pub live: Vec<(Cidr, u64)>,
}

impl Actuator for DryRun {
    fn block(&mut self, cidr: Cidr, ttl: Duration, _reason: BlockReason) -> Result<(), ActError> {
        self.actions.push(DryAction::Block(cidr, ttl));
        self.live.retain(|(c, _)| *c != cidr);
        self.live.push((cidr, monotonic_ns().saturating_add(ttl.as_nanos() as u64)));
        Ok(())
    }

    fn unblock(&mut self, cidr: Cidr) -> Result<bool, ActError> {
        self.actions.push(DryAction::Unblock(cidr));
        let n = self.live.len();
        self.live.retain(|(c, _)| *c != cidr);
        Ok(n != self.live.len())
    }

    fn isolate(&mut self, host: IpAddr, ttl: Duration, _management: &[Cidr]) -> Result<(), ActError> {
        self.actions.push(DryAction::Isolate(host, ttl));
        Ok(())
    }

    fn allow(&mut self, cidr: Cidr) -> Result<(), ActError> {
        self.actions.push(DryAction::Allow(cidr));
        Ok(())
    }

    fn kill(&mut self, pid: u32, _start: Option<u64>) -> Result<KillOutcome, ActError> {
        self.actions.push(DryAction::Kill(pid));
        Ok(KillOutcome::Killed)
    }

    fn sweep(&mut self) -> Result<Vec<Cidr>, ActError> {
        let now = monotonic_ns();
        let (gone, keep): (Vec<_>, Vec<_>) = self.live.iter().partition(|(_, exp)| now >= *exp);
        self.live = keep;
        Ok(gone.into_iter().map(|(c, _)| c).collect())
    }

    fn holds(&mut self, cidr: Cidr, isolate: bool) -> Result<bool, ActError> {
        Ok(isolate || self.live.iter().any(|(c, _)| *c == cidr))
    }
}
