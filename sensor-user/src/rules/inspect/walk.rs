//! The inspection walk: Suricata's `DetectEngineContentInspectionInternal` over compiled
//! steps. Content and pcre recurse into the rest of the list so that, when a later
//! position-dependent element fails, they can retry at their next occurrence; the other
//! keywords just continue. Allocation-free.

use super::super::ir::{ByteOp, ByteRead, NumBase, Value, ValueI};
use super::bytes::{apply_bitmask, read_binary, read_string};
use super::content::{WindowSpec, window};
use super::pcre::Exec;
use super::{ContentStep, PcreStep, Scratch, Step};

/// Suricata's default `inspection_recursion_limit`.
const RECURSION_LIMIT: u32 = 3000;

/// Result of inspecting from one step on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Res {
    /// The rest of the list matched.
    Match,
    /// No match; an earlier content/pcre may retry.
    NoMatch,
    /// No match and no retry can help (Suricata's "discontinue").
    Stop,
}

/// Inspection state for one buffer (Suricata's `det_ctx->buffer_offset` and
/// `pcre_match_start_offset`).
struct Walk<'a> {
    buf: &'a [u8],
    len: u32,
    vars: &'a mut [u64],
    scratch: &'a mut Scratch,
    /// End of the previous match (the relative cursor).
    off: u32,
    /// Where a retried pcre restarts (absolute match start + 1; 0 = fresh).
    pcre_start: u32,
    calls: u32,
}

/// Runs `steps` on `buf`.
pub(super) fn run(steps: &[Step], buf: &[u8], vars: &mut [u64], scratch: &mut Scratch) -> bool {
    if steps.is_empty() {
        return true;
    }
    // Buffers are far below 4 GiB; anything beyond is not inspected.
    let buf = &buf[..buf.len().min(u32::MAX as usize)];
    let mut w = Walk { buf, len: buf.len() as u32, vars, scratch, off: 0, pcre_start: 0, calls: 0 };
    w.from(steps, 0) == Res::Match
}

impl Walk<'_> {
    fn var(&self, i: u8) -> u64 {
        self.vars.get(usize::from(i)).copied().unwrap_or(0)
    }

    fn val(&self, v: Value) -> u64 {
        match v {
            Value::Lit(n) => n,
            Value::Var(i) => self.var(i),
        }
    }

    /// A signed value as Suricata's `int32_t` (a variable is truncated like its C cast).
    fn val_i32(&self, v: ValueI) -> i32 {
        match v {
            ValueI::Lit(n) => i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX }),
            ValueI::Var(i) => self.var(i) as i32,
        }
    }

    /// An unsigned value as Suricata's `uint32_t`.
    fn val_u32(&self, v: Value) -> u32 {
        match v {
            Value::Lit(n) => u32::try_from(n).unwrap_or(u32::MAX),
            Value::Var(i) => self.var(i) as u32,
        }
    }

    /// Inspects `steps[i..]`; the non-branching keywords loop, content/pcre recurse.
    fn from(&mut self, steps: &[Step], mut i: usize) -> Res {
        loop {
            let Some(step) = steps.get(i) else { return Res::Match };
            self.calls += 1;
            if self.calls >= RECURSION_LIMIT {
                return Res::Stop;
            }
            let ok = match step {
                Step::Content(c) => return self.content(steps, i, c),
                Step::Pcre(p) => return self.pcre(steps, i, p),
                Step::ByteTest { read, op, negated, value } => {
                    if self.byte_test(read, *op, *negated, *value) {
                        Res::Match
                    } else {
                        Res::NoMatch
                    }
                }
                Step::ByteJump { read, multiplier, align, from_beginning, from_end, post_offset } => {
                    if self.byte_jump(read, *multiplier, *align, *from_beginning, *from_end, *post_offset) {
                        Res::Match
                    } else {
                        Res::NoMatch
                    }
                }
                Step::ByteExtract { read, var, multiplier, align } => {
                    if self.byte_extract(read, *var, *multiplier, *align) { Res::Match } else { Res::NoMatch }
                }
                Step::IsDataAt { pos, relative, negated } => self.isdataat(*pos, *relative, *negated),
                Step::Bsize(cmp) => {
                    if cmp.test(u64::from(self.len)) {
                        Res::Match
                    } else {
                        Res::Stop
                    }
                }
            };
            if ok != Res::Match {
                return ok;
            }
            i += 1;
        }
    }

    fn content(&mut self, steps: &[Step], i: usize, c: &ContentStep) -> Res {
        let spec = WindowSpec {
            relative: c.relative,
            distance: c.distance.map(|d| self.val_i32(d)),
            // Observed in Suricata 7.0.10 (difftest): with a variable distance, a literal
            // within is not applied.
            within: match (c.distance, c.within) {
                (Some(ValueI::Var(_)), Some(Value::Lit(_))) => None,
                (_, w) => w.map(|w| self.val_u32(w)),
            },
            offset: if c.startswith && !c.relative { Some(0) } else { c.offset.map(|o| self.val_u32(o)) },
            depth: if c.startswith && !c.relative { Some(c.pattern_len) } else { c.depth.map(|d| self.val_u32(d)) },
        };
        let prev = self.off;
        let mut retry: u32 = 0;
        loop {
            let Some((offset, depth)) = window(&spec, prev, retry, self.len) else {
                return if c.negated { self.from(steps, i + 1) } else { Res::NoMatch };
            };
            let sbuf = &self.buf[offset as usize..depth as usize];
            let found = if (c.endswith && depth < self.len) || c.pattern_len as usize > sbuf.len() {
                None
            } else {
                c.finder.find(sbuf).map(|p| offset + p as u32)
            };
            let Some(start) = found else {
                if c.negated {
                    return self.from(steps, i + 1);
                }
                // An absolute content that is absent stays absent: nothing can help.
                return if c.relative { Res::NoMatch } else { Res::Stop };
            };
            let match_end = start + c.pattern_len;
            if c.negated {
                // Suricata compares the window length with the absolute match end here.
                if c.endswith && depth - offset != match_end {
                    return self.from(steps, i + 1);
                }
                return if c.single { Res::Stop } else { Res::NoMatch };
            }
            self.off = match_end;
            if !c.endswith || match_end == self.len {
                if i + 1 == steps.len() {
                    return Res::Match;
                }
                match self.from(steps, i + 1) {
                    Res::Match => return Res::Match,
                    Res::Stop => return Res::Stop,
                    Res::NoMatch => {}
                }
                if !c.retry {
                    return Res::Stop;
                }
            }
            retry = start + 1;
        }
    }

    fn pcre(&mut self, steps: &[Step], i: usize, p: &PcreStep) -> Res {
        let prev = self.off;
        self.pcre_start = 0;
        loop {
            if !self.pcre_once(p) {
                return Res::NoMatch;
            }
            if !p.relative_next {
                return self.from(steps, i + 1);
            }
            let restart = self.pcre_start;
            match self.from(steps, i + 1) {
                Res::Match => return Res::Match,
                Res::Stop => return Res::Stop,
                Res::NoMatch => {}
            }
            if restart == 0 {
                // A negated pcre: no other occurrence to try.
                return Res::NoMatch;
            }
            self.off = prev;
            self.pcre_start = restart;
        }
    }

    /// `DetectPcrePayloadMatch`: true when the (possibly negated) pcre matches; a positive
    /// match moves the cursor to the match end and records the restart position.
    fn pcre_once(&mut self, p: &PcreStep) -> bool {
        let base = if p.relative { self.off.min(self.len) } else { 0 };
        let subject = &self.buf[base as usize..];
        let start = if self.pcre_start != 0 { self.pcre_start.saturating_sub(base) } else { 0 };
        self.scratch.stats.pcre_calls += 1;
        match p.regex.exec(subject, start as usize, &mut self.scratch.pcre) {
            Exec::Match(s, e) => {
                if p.negated {
                    return false;
                }
                self.off = base + e as u32;
                self.pcre_start = base + s as u32 + 1;
                true
            }
            Exec::NoMatch => p.negated,
            Exec::Limit => {
                self.scratch.stats.pcre_limit_hits += 1;
                false
            }
            Exec::Error => {
                self.scratch.stats.pcre_errors += 1;
                false
            }
        }
    }

    /// Where a byte_* read starts: `Some((position, bytes left))`, Suricata's `ptr`/`len`
    /// (`None` when the read would start before the buffer or cannot fit `nbytes`).
    fn read_pos(&self, read: &ByteRead, nbytes: i64, relative_empty_fails: bool) -> Option<(usize, i64)> {
        let offset = i64::from(self.val_i32(read.offset));
        let len = i64::from(self.len);
        let (pos, left) = if read.relative {
            let pos = i64::from(self.off) + offset;
            let left = len - pos;
            if relative_empty_fails && left <= 0 {
                return None;
            }
            (pos, left)
        } else {
            (offset, len - offset)
        };
        if pos < 0 || nbytes > left {
            return None;
        }
        Some((pos as usize, left))
    }

    /// Reads the number at `pos`: `(value, bytes consumed)`.
    fn read_value(&self, read: &ByteRead, pos: usize) -> Option<(u64, usize)> {
        let n = usize::from(read.nbytes);
        let bytes = self.buf.get(pos..pos + n)?;
        match read.base {
            NumBase::Binary => read_binary(bytes, read.big_endian).map(|v| (v, n)),
            base => read_string(bytes, base),
        }
    }

    fn byte_test(&self, read: &ByteRead, op: ByteOp, negated: bool, value: Value) -> bool {
        if self.len == 0 {
            return false;
        }
        let Some((pos, _)) = self.read_pos(read, i64::from(read.nbytes), true) else { return false };
        let Some((mut v, _)) = self.read_value(read, pos) else { return false };
        if let Some(mask) = read.bitmask {
            v = apply_bitmask(v, mask);
        }
        let operand = self.val(value);
        let hit = match op {
            ByteOp::Lt => v < operand,
            ByteOp::Gt => v > operand,
            ByteOp::Eq => v == operand,
            ByteOp::Le => v <= operand,
            ByteOp::Ge => v >= operand,
            ByteOp::And => v & operand != 0,
            ByteOp::Xor => v ^ operand != 0,
        };
        hit != negated
    }

    fn byte_jump(
        &mut self,
        read: &ByteRead,
        multiplier: u64,
        align: bool,
        from_beginning: bool,
        from_end: bool,
        post_offset: i64,
    ) -> bool {
        if self.len == 0 {
            return false;
        }
        let nbytes = i64::from(read.nbytes);
        // Suricata: relative reads fail when nothing is left (only if nbytes > 0).
        let Some((pos, _)) = self.read_pos(read, nbytes, nbytes > 0) else { return false };
        let Some((mut v, consumed)) = self.read_value(read, pos) else { return false };
        if let Some(mask) = read.bitmask {
            v = apply_bitmask(v, mask);
        }
        v = v.wrapping_mul(multiplier);
        if align && v % 4 != 0 {
            v = v.wrapping_add(4 - v % 4);
        }
        v = v.wrapping_add(post_offset as u64);
        let jump = v as i64 as i128;
        let len = i128::from(self.len);
        let target = if from_beginning {
            jump
        } else if from_end {
            len + jump
        } else {
            pos as i128 + jump + consumed as i128
        };
        if target > len {
            return false;
        }
        self.off = target.max(0) as u32;
        true
    }

    fn byte_extract(&mut self, read: &ByteRead, var: u8, multiplier: u64, align: u8) -> bool {
        if self.len == 0 {
            return false;
        }
        let Some((pos, _)) = self.read_pos(read, i64::from(read.nbytes), true) else { return false };
        let Some((mut v, consumed)) = self.read_value(read, pos) else { return false };
        if let Some(mask) = read.bitmask {
            v = apply_bitmask(v, mask);
        }
        v = v.wrapping_mul(multiplier);
        let a = u64::from(align);
        if a > 1 && v % a != 0 {
            v = v.wrapping_add(a - v % a);
        }
        self.off = (pos + consumed) as u32;
        if let Some(slot) = self.vars.get_mut(usize::from(var)) {
            *slot = v;
        }
        true
    }

    /// `isdataat`, with Suricata's discontinue rules (a literal position that fails cannot
    /// succeed at another match position).
    fn isdataat(&self, pos: Value, relative: bool, negated: bool) -> Res {
        let is_var = matches!(pos, Value::Var(_));
        let at = self.val(pos);
        if is_var && at >= 100_000_000 {
            return if negated { Res::Match } else { Res::NoMatch };
        }
        let fail = if is_var { Res::NoMatch } else { Res::Stop };
        if relative {
            if u64::from(self.off) + at > u64::from(self.len) {
                if negated { Res::Match } else { fail }
            } else if negated {
                Res::NoMatch
            } else {
                Res::Match
            }
        } else if at < u64::from(self.len) {
            if negated { fail } else { Res::Match }
        } else if negated {
            Res::Match
        } else {
            fail
        }
    }
}
