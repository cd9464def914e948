//! Helpers shared by the agents' unit tests: parse an address, run events through one
//! agent and collect its findings.

use std::net::IpAddr;

use super::{
    agent::{Agent, Emitter},
    context::Context,
    event::Event,
    finding::{Finding, FindingQueue},
};

/// One second in ns.
pub const S: u64 = 1_000_000_000;

/// `s` as an address (tests only).
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// Feeds `events` to `agent` with a fresh context and returns what it found.
pub fn run<A: Agent>(agent: &mut A, events: &[Event]) -> Vec<Finding> {
    let cx = Context::default();
    let (q, rx) = FindingQueue::bounded(4096);
    let mut out = Emitter::new(&q, &cx);
    for e in events {
        agent.on_event(e, &cx, &mut out);
    }
    rx.try_iter().collect()
}
