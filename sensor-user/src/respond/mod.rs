//! Governed response: the asset inventory, decision policy and authority matrix
//! (`config`, `inventory`), the cost-weighted rule (`policy`), the governor that turns
//! incidents into decisions (`governor`), the approval queue, analyst feedback, and the
//! containment actuators: the only writers of the XDP block maps.

pub mod actuator;
pub mod approvals;
pub mod changes;
pub mod config;
pub mod decision;
pub mod feedback;
pub mod governor;
pub mod guard;
pub mod inventory;
pub mod output;
pub mod policy;
pub mod runner;
pub mod state;

/// Wall-clock time, ns since the epoch (0 if the clock is before 1970).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests;
