//! `flowbits` (detect-flowbits.c): `isset`/`isnotset` are match conditions, `set`/`unset`/
//! `toggle` run after the whole rule matched (even with `noalert`). A packet without a flow has
//! no bits: checks fail and actions are no-ops.

use super::super::ir::FlowbitOp;

fn get(bits: &[u64], i: u32) -> bool {
    bits.get((i / 64) as usize).is_some_and(|w| w & (1u64 << (i % 64)) != 0)
}

/// Do the rule's `isset`/`isnotset` conditions hold for `bits` (None = no flow)?
/// `IsSet(names, all)`: `all` = names joined by `&` (every bit set), else `|` (any set).
/// `IsNotSet(names, all)`: `&` = every bit unset, `|` = any unset.
pub(crate) fn check(ops: &[FlowbitOp], bits: Option<&[u64]>) -> bool {
    for op in ops {
        let ok = match op {
            FlowbitOp::IsSet(names, all) => {
                let Some(b) = bits else { return false };
                if *all { names.iter().all(|&n| get(b, n)) } else { names.iter().any(|&n| get(b, n)) }
            }
            FlowbitOp::IsNotSet(names, all) => {
                let Some(b) = bits else { return false };
                if *all { names.iter().all(|&n| !get(b, n)) } else { names.iter().any(|&n| !get(b, n)) }
            }
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Does the rule change bits (`set`/`unset`/`toggle`)?
pub(crate) fn writes(ops: &[FlowbitOp]) -> bool {
    ops.iter().any(|o| matches!(o, FlowbitOp::Set(_) | FlowbitOp::Unset(_) | FlowbitOp::Toggle(_)))
}

/// Does the rule test bits (`isset`/`isnotset`)?
pub(crate) fn reads(ops: &[FlowbitOp]) -> bool {
    ops.iter().any(|o| matches!(o, FlowbitOp::IsSet(..) | FlowbitOp::IsNotSet(..)))
}

/// Suricata's ordering class (detect-engine-sigorder.c): setters first, then set+read, then
/// readers, then rules without flowbits.
pub(crate) fn order_class(ops: &[FlowbitOp]) -> u8 {
    match (writes(ops), reads(ops)) {
        (true, false) => 0,
        (true, true) => 1,
        (false, true) => 2,
        (false, false) => 3,
    }
}

/// Runs the rule's `set`/`unset`/`toggle` actions on the flow's bit words (`words` long,
/// allocated here on first use: the only allocation, once per flow).
pub(crate) fn apply(ops: &[FlowbitOp], bits: &mut Vec<u64>, words: usize) {
    for op in ops {
        let (i, f): (u32, fn(&mut u64, u64)) = match op {
            FlowbitOp::Set(i) => (*i, |w, m| *w |= m),
            FlowbitOp::Unset(i) => (*i, |w, m| *w &= !m),
            FlowbitOp::Toggle(i) => (*i, |w, m| *w ^= m),
            _ => continue,
        };
        if bits.is_empty() {
            bits.resize(words, 0);
        }
        if let Some(w) = bits.get_mut((i / 64) as usize) {
            f(w, 1u64 << (i % 64));
        }
    }
}
