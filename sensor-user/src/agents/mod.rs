//! Micro-agents: small detectors, each precise in one domain, running on the same
//! normalised [`event::Event`]s and sharing a lock-free [`context::Context`]. Agents only
//! emit [`finding::Finding`]s; they never touch maps, sockets or each other.
//!
//! - [`agent`]: the `Agent` trait and the emitter; [`registry`]: one line per agent;
//!   [`config`]: the `[agents]` sections; [`runtime`]: inline or sharded execution.
//! - [`context`]: process tree, address -> findings, DNS names, host baselines.
//! - Agents: [`port_scan`], [`flood`], [`volume`], [`dns_tunnel`], [`beacon`],
//!   [`brute_force`], [`process`], [`intel`].

pub mod agent;
pub mod config;
pub mod context;
pub mod event;
pub mod finding;
pub mod from_kernel;
pub mod registry;
pub mod runtime;
pub mod seqtable;
pub mod sketch;
#[cfg(test)]
mod testkit;

pub mod beacon;
pub mod brute_force;
pub mod dns_tunnel;
pub mod flood;
pub mod intel;
pub mod port_scan;
pub mod process;
pub mod volume;
