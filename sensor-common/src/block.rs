//! Block list values and the expiry rule the XDP program applies.

/// Value of the `BLOCK_V4`/`BLOCK_V6` LPM tries.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BlockEntry {
    /// CLOCK_MONOTONIC time in ns after which the entry no longer drops; 0 = never expires.
    pub expires_ns: u64,
    /// CLOCK_MONOTONIC time in ns when the entry was written.
    pub created_ns: u64,
    /// Why the entry exists: a [`BlockReason`] code.
    pub reason: u16,
    /// [`BLOCK_MODE_DROP`], [`BLOCK_MODE_WATCH`], [`BLOCK_MODE_ISOLATE`] or [`BLOCK_MODE_ALLOW`].
    pub mode: u8,
    /// Explicit padding.
    pub _pad: [u8; 5],
}

/// Matching packets are dropped.
pub const BLOCK_MODE_DROP: u8 = 0;
/// Matching packets are counted ([`crate::counters::Counter::WatchHits`]) and passed: threat
/// intelligence mirrored in watch mode.
pub const BLOCK_MODE_WATCH: u8 = 1;
/// The address is an isolated host: packets from it or (while `SensorConfig::isolating` is
/// set) to it are dropped, unless the other end holds a [`BLOCK_MODE_ALLOW`] entry.
pub const BLOCK_MODE_ISOLATE: u8 = 2;
/// A management or allowlisted address: never dropped as a source, and it keeps reaching
/// isolated hosts.
pub const BLOCK_MODE_ALLOW: u8 = 3;

const _: () = assert!(core::mem::size_of::<BlockEntry>() == 24);

/// Whether a block entry drops traffic at `now_ns` (monotonic): expired entries pass.
#[inline(always)]
pub const fn block_applies(expires_ns: u64, now_ns: u64) -> bool {
    expires_ns == 0 || now_ns < expires_ns
}

/// Reason codes stored in [`BlockEntry::reason`]; drops are counted per code.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockReason {
    /// No reason recorded.
    Unspecified = 0,
    /// An operator ran `sensor block`.
    Manual = 1,
    /// The decision policy contained an incident.
    Policy = 2,
    /// A threat-intelligence indicator.
    ThreatIntel = 3,
    /// A host isolation rule.
    Isolation = 4,
}

/// Number of distinct reason codes counted (codes above are counted as the last one).
pub const BLOCK_REASONS: u16 = 8;

impl TryFrom<u16> for BlockReason {
    type Error = u16;
    fn try_from(v: u16) -> Result<Self, u16> {
        Ok(match v {
            0 => Self::Unspecified,
            1 => Self::Manual,
            2 => Self::Policy,
            3 => Self::ThreatIntel,
            4 => Self::Isolation,
            other => return Err(other),
        })
    }
}

impl BlockReason {
    /// The lower-case name used on the command line and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Manual => "manual",
            Self::Policy => "policy",
            Self::ThreatIntel => "threat_intel",
            Self::Isolation => "isolation",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_entries_always_apply() {
        assert!(block_applies(0, 0));
        assert!(block_applies(0, u64::MAX));
    }

    #[test]
    fn entries_apply_until_their_expiry_and_not_after() {
        assert!(block_applies(100, 99));
        assert!(!block_applies(100, 100));
        assert!(!block_applies(100, 1_000));
    }

    #[test]
    fn reason_codes_round_trip() {
        for code in 0..5u16 {
            let r = BlockReason::try_from(code).expect("known code");
            assert_eq!(r as u16, code);
        }
        assert_eq!(BlockReason::try_from(9), Err(9));
    }
}
