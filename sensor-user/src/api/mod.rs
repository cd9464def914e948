//! The root-only local control API: a Unix stream socket through which the `sensor`
//! subcommands (`approvals`, `incidents`, `feedback`, `block`/`unblock`) talk to the running
//! sensor, plus pid-reuse-safe process killing for the responders.
//!
//! Protocol: the client connects and writes ONE JSON object terminated by `'\n'` (at most
//! [`MAX_REQUEST`] bytes); the server answers ONE JSON object plus `'\n'` and closes.

pub mod client;
pub mod control;
pub mod error;
pub mod handler;
pub mod kill;
pub mod peer;
mod wire;

pub use client::request;
pub use control::{ControlServer, Handler};
pub use error::ControlError;
pub use kill::{KillOutcome, kill_process, start_ticks};
pub use peer::{Peer, peer_of, user_name};

/// The longest request the server reads, in bytes, not counting the terminating `'\n'`.
pub const MAX_REQUEST: usize = 64 * 1024;

#[cfg(test)]
mod tests;
