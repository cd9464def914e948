//! Fleet mode on NATS JetStream: sensors share findings, incidents and decisions through
//! one JetStream stream (`SENSOR`, subjects `sensor.<site>.<host>.<kind>`), and a block
//! decided and applied by one sensor is offered to the others, which decide on it through
//! their own governance (the same decision rule and authority matrix as for their own
//! findings; both the offer and the decision are audited).
//!
//! The engine is the NATS server (Debian's `nats-server -js`), not this code: each sensor
//! owns a durable pull consumer named after itself, so a sensor that was offline catches
//! up from the stream where it left off. Decisions to publish are kept in a file outbox
//! (`STATE_DIR/fleet-outbox.jsonl`) until the server acknowledges them, with a message id
//! the server deduplicates, so a sensor restarted while the server is down publishes them
//! when it returns. With the server down, local detection and containment go on as usual.

mod client;
mod message;
mod outbox;

use std::{path::PathBuf, time::Duration};

pub use client::{Fleet, FleetHandle, FleetStats, OfferSink};
pub use message::{FleetMessage, FleetOffer, IncidentBrief, intern_technique};
pub use outbox::{Outbox, OutboxEntry};

/// The stream every sensor of a fleet writes to.
pub const STREAM: &str = "SENSOR";

/// How a sensor joins its fleet.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    /// NATS server URL(s), comma separated (nats://host:4222).
    pub url: String,
    /// The site (subject level), e.g. a data centre or branch.
    pub site: String,
    /// This sensor's name in the fleet (subject level and consumer name).
    pub id: String,
    /// The durable outbox file.
    pub outbox: PathBuf,
    /// How long the stream keeps messages.
    pub max_age: Duration,
    /// Volatile messages (findings, incidents) held while the server is unreachable.
    pub max_volatile: usize,
    /// Offers older than this (a sensor catching up after a long absence) are ignored.
    pub offer_max_age: Duration,
}

impl FleetConfig {
    /// The subject this sensor publishes `kind` messages on.
    pub fn subject(&self, kind: &str) -> String {
        format!("sensor.{}.{}.{kind}", self.site, self.id)
    }
}

/// A subject token: letters, digits, `-` and `_` only (NATS subjects split on `.` and treat
/// `*`, `>` and spaces specially).
pub fn valid_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Errors of the fleet link.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A site or id that cannot be a subject token.
    #[error("fleet {what} {value:?} must be 1-64 letters, digits, '-' or '_'")]
    Token {
        /// "site" or "id".
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// The outbox file could not be read or written.
    #[error("fleet outbox {path}: {source}")]
    Outbox {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The fleet thread could not start.
    #[error("cannot start the fleet thread")]
    Thread(#[source] std::io::Error),
}
