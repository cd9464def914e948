//! The ABI shared by the sensor's kernel programs (`sensor-ebpf`) and user space
//! (`sensor-user`): event structs written to the ring buffers, map keys and values, map and
//! program names, and the pure decision helpers both sides rely on.
//!
//! Every wire type is `#[repr(C)]`, `Copy`, made only of integers and byte arrays (any bit
//! pattern is valid), has explicit padding, and has its size locked by a `const` assertion so
//! that a change on one side of the kernel boundary cannot silently break the other. Tags are
//! `u16` values decoded with `TryFrom`, never transmuted.
#![no_std]
#![deny(missing_docs)]

pub mod block;
pub mod config;
pub mod counters;
pub mod event;
pub mod flow;
pub mod maps;
pub mod programs;

#[cfg(feature = "user")]
mod pod;
