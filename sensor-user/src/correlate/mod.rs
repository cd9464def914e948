//! Correlation: findings from the agents (and signatures) grouped into incidents by the
//! entities they share and time, with kill-chain stages and a combined confidence.

pub mod correlator;
pub mod incident;
pub mod stage;
