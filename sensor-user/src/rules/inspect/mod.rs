//! Buffer inspection with Suricata 7's semantics (`DetectEngineContentInspection`): given one
//! buffer's elements in rule order ([`BufferMatch`]) and the buffer's bytes, decide whether
//! they match. Elements are compiled once ([`CompiledBuffer::new`]: content finders, PCRE2
//! with JIT); inspection allocates nothing and uses a per-worker [`Scratch`].
//!
//! Semantics kept from Suricata: absolute `offset`/`depth` windows, `distance`/`within`
//! relative to the previous match end, the retry of a content (or pcre) at its next
//! occurrence when a later element that depends on its position fails, negated contents
//! that do not move the cursor, relative pcre continuing from the match end, `byte_*`,
//! `isdataat`, `bsize`, and the recursion limit of 3000 steps.

mod bytes;
mod content;
mod pcre;
mod walk;

#[cfg(test)]
mod tests;

use super::ir::{Buffer, BufferMatch, ByteOp, ByteRead, Element, NumCmp, Value, ValueI};

pub use pcre::{DEPTH_LIMIT, MATCH_LIMIT};

/// Errors building a [`CompiledBuffer`].
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// A `pcre` pattern does not compile.
    #[error("pcre /{pattern}/ does not compile at offset {offset}: {message}")]
    Pcre {
        /// The pattern source.
        pattern: String,
        /// Offset of the error in the pattern.
        offset: usize,
        /// PCRE2's message.
        message: String,
    },
}

/// Counters kept per worker (in [`Scratch`]).
#[derive(Default, Clone, Copy, Debug)]
pub struct InspectStats {
    /// PCRE match attempts.
    pub pcre_calls: u64,
    /// Attempts stopped by the match/depth limit (treated as no match, like Suricata).
    pub pcre_limit_hits: u64,
    /// Attempts that failed with another PCRE2 error (treated as no match).
    pub pcre_errors: u64,
}

/// Per-worker reusable inspection state (PCRE2 match data and match context). `Send`, not
/// `Sync`: one per worker thread.
pub struct Scratch {
    /// Counters.
    pub stats: InspectStats,
    pcre: pcre::PcreScratch,
}

impl Scratch {
    /// Creates scratch able to hold `max_captures` PCRE capture groups (the maximum of
    /// [`CompiledBuffer::max_captures`] over all buffers; fewer still works, as only the whole
    /// match is used).
    pub fn new(max_captures: usize) -> Self {
        Scratch { stats: InspectStats::default(), pcre: pcre::PcreScratch::new(max_captures) }
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").field("stats", &self.stats).finish_non_exhaustive()
    }
}

/// ASCII lower-case copy (case folding used by `nocase`; build time only).
pub fn fold(b: &[u8]) -> Vec<u8> {
    b.to_ascii_lowercase()
}

/// One compiled content.
struct ContentStep {
    pattern_len: u32,
    finder: content::Finder,
    negated: bool,
    relative: bool,
    offset: Option<Value>,
    depth: Option<Value>,
    distance: Option<ValueI>,
    within: Option<Value>,
    startswith: bool,
    endswith: bool,
    /// A later element depends on this match's position so that another occurrence may
    /// help (Suricata's `DETECT_CONTENT_WITHIN_NEXT`, also set by `RELATIVE_NEXT`).
    retry: bool,
    /// Suricata's `DETECT_CONTENT_IS_SINGLE`: no window modifiers and nothing relative next.
    single: bool,
}

/// One compiled pcre.
struct PcreStep {
    regex: pcre::Regex,
    relative: bool,
    negated: bool,
    /// A later element is relative to this match (`DETECT_PCRE_RELATIVE_NEXT`).
    relative_next: bool,
}

/// A compiled element.
enum Step {
    Content(Box<ContentStep>),
    Pcre(PcreStep),
    ByteTest { read: ByteRead, op: ByteOp, negated: bool, value: Value },
    ByteJump { read: ByteRead, multiplier: u64, align: bool, from_beginning: bool, from_end: bool, post_offset: i64 },
    ByteExtract { read: ByteRead, var: u8, multiplier: u64, align: u8 },
    IsDataAt { pos: Value, relative: bool, negated: bool },
    Bsize(NumCmp),
}

/// One buffer's elements, compiled (pcre compiled + JITted, content finders built). Send +
/// Sync, shared read-only by all worker threads.
pub struct CompiledBuffer {
    buffer: Buffer,
    steps: Box<[Step]>,
    max_captures: usize,
}

impl std::fmt::Debug for CompiledBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledBuffer").field("buffer", &self.buffer).field("steps", &self.steps.len()).finish()
    }
}

impl CompiledBuffer {
    /// Compiles `m`: builds the content finders, compiles and JIT-compiles the pcres, and
    /// derives Suricata's "relative next" flags from the element order.
    pub fn new(m: &BufferMatch) -> Result<Self, InspectError> {
        let (retry, relative_next) = relative_flags(m);
        let mut steps = Vec::with_capacity(m.elements.len());
        let mut max_captures = 0;
        for (i, e) in m.elements.iter().enumerate() {
            steps.push(match e {
                Element::Content(c) => {
                    let relative = c.relative();
                    ContentStep {
                        pattern_len: u32::try_from(c.pattern.len()).unwrap_or(u32::MAX),
                        finder: content::Finder::new(&c.pattern, c.nocase),
                        negated: c.negated,
                        relative,
                        offset: c.offset,
                        // Suricata treats a literal depth of 0 as unset.
                        depth: c.depth.filter(|d| *d != Value::Lit(0)),
                        distance: c.distance,
                        within: c.within,
                        startswith: c.startswith,
                        endswith: c.endswith,
                        retry: retry[i],
                        single: !(relative
                            || relative_next[i]
                            || c.offset.is_some()
                            || c.depth.is_some()
                            || c.startswith),
                    }
                    .into()
                }
                Element::Pcre(p) => {
                    let regex = pcre::Regex::new(p)?;
                    max_captures = max_captures.max(regex.captures());
                    Step::Pcre(PcreStep {
                        regex,
                        relative: p.relative,
                        negated: p.negated,
                        relative_next: relative_next[i],
                    })
                }
                Element::ByteTest { read, op, negated, value } => {
                    Step::ByteTest { read: *read, op: *op, negated: *negated, value: *value }
                }
                Element::ByteJump { read, multiplier, align, from_beginning, from_end, post_offset } => {
                    Step::ByteJump {
                        read: *read,
                        multiplier: *multiplier,
                        align: *align,
                        from_beginning: *from_beginning,
                        from_end: *from_end,
                        post_offset: *post_offset,
                    }
                }
                Element::ByteExtract { read, var, multiplier, align } => {
                    Step::ByteExtract { read: *read, var: *var, multiplier: *multiplier, align: *align }
                }
                Element::IsDataAt { pos, relative, negated } => {
                    Step::IsDataAt { pos: *pos, relative: *relative, negated: *negated }
                }
                Element::Bsize(cmp) => Step::Bsize(*cmp),
            });
        }
        Ok(CompiledBuffer { buffer: m.buffer, steps: steps.into_boxed_slice(), max_captures })
    }

    /// Do the elements match `buf`? `vars` holds the rule's byte_extract slots (len >=
    /// `Signature.vars`), read and written. An empty element list matches any buffer.
    /// Allocation-free.
    pub fn inspect(&self, buf: &[u8], vars: &mut [u64], scratch: &mut Scratch) -> bool {
        walk::run(&self.steps, buf, vars, scratch)
    }

    /// The buffer.
    pub fn buffer(&self) -> Buffer {
        self.buffer
    }

    /// The largest capture-group count of this buffer's pcres (to size [`Scratch::new`]).
    pub fn max_captures(&self) -> usize {
        self.max_captures
    }
}

impl From<ContentStep> for Step {
    fn from(c: ContentStep) -> Self {
        Step::Content(Box::new(c))
    }
}

/// Suricata's setup-time flags, from the element order: for each element, `retry`
/// (`DETECT_CONTENT_WITHIN_NEXT`: a `within`, a negated `distance` content, or a relative
/// pcre/byte_*/isdataat depends on it) and `relative_next` (any relative element depends on
/// it, including a plain `distance`). The element depended on is the last content/pcre
/// before the relative one (for `byte_*`/`isdataat` on the payload, only if it is the
/// immediately preceding keyword, as Suricata looks back over those keywords too).
fn relative_flags(m: &BufferMatch) -> (Vec<bool>, Vec<bool>) {
    let n = m.elements.len();
    let mut retry = vec![false; n];
    let mut relative_next = vec![false; n];
    let mut last_pm: Option<usize> = None;
    let mut last_kw: Option<usize> = None;
    for (i, e) in m.elements.iter().enumerate() {
        let (target, is_retry) = match e {
            Element::Content(c) if c.relative() => (last_pm, c.within.is_some() || c.negated),
            Element::Pcre(p) if p.relative => (last_pm, true),
            Element::ByteTest { read, .. } | Element::ByteJump { read, .. } | Element::ByteExtract { read, .. }
                if read.relative =>
            {
                (if m.buffer == Buffer::Payload { last_kw.filter(|k| Some(*k) == last_pm) } else { last_pm }, true)
            }
            Element::IsDataAt { relative: true, .. } => {
                (if m.buffer == Buffer::Payload { last_kw.filter(|k| Some(*k) == last_pm) } else { last_pm }, true)
            }
            _ => (None, false),
        };
        if let Some(t) = target {
            relative_next[t] = true;
            retry[t] |= is_retry;
        }
        match e {
            Element::Content(_) | Element::Pcre(_) => {
                last_pm = Some(i);
                last_kw = Some(i);
            }
            Element::Bsize(_) => {}
            _ => last_kw = Some(i),
        }
    }
    (retry, relative_next)
}
