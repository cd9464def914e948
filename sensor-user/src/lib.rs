//! The sensor's user space: loads and attaches the kernel programs (`kernel/`), decodes the
//! ring-buffer events into typed values (`event/`), manages the XDP block lists (`block`),
//! correlates findings into incidents (`correlate/`), governs containment (`respond/`),
//! records decisions (`audit/`), answers the control socket (`api/`), and holds the pieces
//! the `sensor` binary wires together.
//!
//! Only `kernel/` touches aya; only `sys/` and the PCRE2 binding (`rules/inspect/pcre.rs`)
//! contain `unsafe`.

pub mod agents;
pub mod api;
pub mod audit;
pub mod block;
pub mod console;
pub mod correlate;
pub mod event;
pub mod fleet;
pub mod fuzzing;
pub mod kernel;
pub mod lake;
pub mod logs;
pub mod metrics;
pub mod packet;
pub mod respond;
pub mod rules;
pub mod sys;
pub mod trust;
