//! Prometheus metrics: a text exposition builder ([`Exposition`]), lock-free histograms
//! ([`Histogram`]) for latencies measured on the hot path, and a small HTTP server
//! ([`MetricsServer`]) answering `GET /metrics` from its own thread. What is exported is
//! gathered at scrape time by the binary (docs/METRICS.md lists every family).

mod exposition;
mod histogram;
pub mod server;

pub use exposition::Exposition;
pub use histogram::{Histogram, LATENCY_BOUNDS_NS};
pub use server::MetricsServer;
