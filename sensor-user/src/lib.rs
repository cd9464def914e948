//! The sensor's user space: loads and attaches the kernel programs (`kernel/`), decodes the
//! ring-buffer events into typed values (`event/`), manages the XDP block lists (`block`),
//! and holds the pieces the `sensor` binary wires together.
//!
//! Only `kernel/` touches aya; only `sys/` contains `unsafe`.

pub mod agents;
pub mod block;
pub mod event;
pub mod kernel;
pub mod logs;
pub mod packet;
pub mod sys;
