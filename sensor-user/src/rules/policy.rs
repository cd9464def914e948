//! Suricata's exception policies, as far as the signature engine models them: what to do with
//! a TCP flow picked up midstream (`stream.midstream-policy`, or the `exception-policy`
//! master switch). The policy is applied to every packet of such a flow, as Suricata applies
//! it to every packet that would start a session without a handshake. With midstream pick-up
//! on, only the pass policies act (Suricata ignores drop policies for flows it may pick up).

use std::str::FromStr;

/// An exception policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExceptionPolicy {
    /// Inspect as usual.
    #[default]
    Ignore,
    /// Inline: drop the flow; passive: ignore.
    Auto,
    /// Do not inspect the flow any more.
    PassFlow,
    /// Do not inspect the packet.
    PassPacket,
    /// Like pass-flow (Suricata bypasses the flow).
    Bypass,
    /// Inline: drop the flow (nothing more is inspected); passive: ignore.
    DropFlow,
    /// Inline: drop the packet uninspected; passive: ignore.
    DropPacket,
    /// Inline: drop the flow and reset it; passive: ignore.
    Reject,
}

/// What a policy does to one packet, given the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyEffect {
    /// Inspect the packet.
    Inspect,
    /// Skip this packet.
    SkipPacket,
    /// Drop this packet (inline only) without inspecting it.
    DropPacket,
    /// Pass the rest of the flow.
    PassFlow,
    /// Drop the rest of the flow (inline only).
    DropFlow,
}

impl ExceptionPolicy {
    /// The policy's effect on a packet of a midstream flow when running inline (`ips`) or
    /// passively, with midstream pick-up on (`pickup`) or off. Drop and reject policies only
    /// act inline and without pick-up; `auto` is drop-flow then, ignore otherwise.
    pub fn effect(self, ips: bool, pickup: bool) -> PolicyEffect {
        let ips = ips && !pickup;
        match self {
            ExceptionPolicy::Ignore => PolicyEffect::Inspect,
            ExceptionPolicy::PassFlow | ExceptionPolicy::Bypass => PolicyEffect::PassFlow,
            ExceptionPolicy::PassPacket => PolicyEffect::SkipPacket,
            ExceptionPolicy::Auto | ExceptionPolicy::DropFlow | ExceptionPolicy::Reject if ips => {
                PolicyEffect::DropFlow
            }
            ExceptionPolicy::DropPacket if ips => PolicyEffect::DropPacket,
            ExceptionPolicy::Auto
            | ExceptionPolicy::DropFlow
            | ExceptionPolicy::Reject
            | ExceptionPolicy::DropPacket => PolicyEffect::Inspect,
        }
    }
}

impl FromStr for ExceptionPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim() {
            "ignore" => ExceptionPolicy::Ignore,
            "auto" => ExceptionPolicy::Auto,
            "pass-flow" => ExceptionPolicy::PassFlow,
            "pass-packet" => ExceptionPolicy::PassPacket,
            "bypass" => ExceptionPolicy::Bypass,
            "drop-flow" => ExceptionPolicy::DropFlow,
            "drop-packet" => ExceptionPolicy::DropPacket,
            "reject" => ExceptionPolicy::Reject,
            other => {
                return Err(format!(
                    "unknown exception policy {other:?} (ignore, auto, pass-flow, pass-packet, bypass, drop-flow, \
                     drop-packet, reject)"
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_policies_act_only_inline_and_pass_policies_always() {
        assert_eq!(ExceptionPolicy::DropFlow.effect(true, false), PolicyEffect::DropFlow);
        assert_eq!(ExceptionPolicy::DropFlow.effect(false, false), PolicyEffect::Inspect);
        assert_eq!(ExceptionPolicy::Auto.effect(true, false), PolicyEffect::DropFlow);
        assert_eq!(ExceptionPolicy::Auto.effect(false, false), PolicyEffect::Inspect);
        assert_eq!(ExceptionPolicy::Reject.effect(false, false), PolicyEffect::Inspect);
        assert_eq!(ExceptionPolicy::DropPacket.effect(true, false), PolicyEffect::DropPacket);
        assert_eq!(ExceptionPolicy::PassFlow.effect(false, false), PolicyEffect::PassFlow);
        assert_eq!(ExceptionPolicy::Bypass.effect(true, false), PolicyEffect::PassFlow);
        assert_eq!(ExceptionPolicy::PassPacket.effect(true, false), PolicyEffect::SkipPacket);
    }

    #[test]
    fn with_midstream_pickup_only_pass_policies_act() {
        assert_eq!(ExceptionPolicy::Auto.effect(true, true), PolicyEffect::Inspect);
        assert_eq!(ExceptionPolicy::DropFlow.effect(true, true), PolicyEffect::Inspect);
        assert_eq!(ExceptionPolicy::PassFlow.effect(true, true), PolicyEffect::PassFlow);
    }

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        assert_eq!("pass-flow".parse::<ExceptionPolicy>(), Ok(ExceptionPolicy::PassFlow));
        assert_eq!(" drop-packet ".parse::<ExceptionPolicy>(), Ok(ExceptionPolicy::DropPacket));
        assert!("drop".parse::<ExceptionPolicy>().unwrap_err().contains("unknown exception policy"));
    }
}
