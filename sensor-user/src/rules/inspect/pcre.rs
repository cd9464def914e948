//! PCRE2 through the `pcre2-sys` FFI: a compiled (and JIT-compiled) pattern shared read-only
//! by all workers, and the per-worker match data and match context (match limit 3500, depth
//! limit 1500: Suricata's defaults). All of this module's `unsafe` lives here.

use std::ffi::c_int;
use std::ptr::{self, NonNull};

use pcre2_sys::{
    PCRE2_ANCHORED, PCRE2_CASELESS, PCRE2_DOLLAR_ENDONLY, PCRE2_DOTALL, PCRE2_ERROR_DEPTHLIMIT, PCRE2_ERROR_HEAPLIMIT,
    PCRE2_ERROR_JIT_STACKLIMIT, PCRE2_ERROR_MATCHLIMIT, PCRE2_ERROR_NOMATCH, PCRE2_EXTENDED, PCRE2_INFO_CAPTURECOUNT,
    PCRE2_JIT_COMPLETE, PCRE2_MULTILINE, PCRE2_UNGREEDY, pcre2_code_8, pcre2_code_free_8, pcre2_compile_8,
    pcre2_get_error_message_8, pcre2_get_ovector_pointer_8, pcre2_jit_compile_8, pcre2_match_8, pcre2_match_context_8,
    pcre2_match_context_create_8, pcre2_match_context_free_8, pcre2_match_data_8, pcre2_match_data_create_8,
    pcre2_match_data_free_8, pcre2_pattern_info_8, pcre2_set_depth_limit_8, pcre2_set_match_limit_8,
};

use super::super::ir::Pcre;
use super::InspectError;

/// Suricata's default PCRE match limit (`SC_MATCH_LIMIT_DEFAULT`).
pub const MATCH_LIMIT: u32 = 3500;
/// Suricata's default PCRE recursion (depth) limit (`SC_MATCH_LIMIT_RECURSION_DEFAULT`).
pub const DEPTH_LIMIT: u32 = 1500;

/// A compiled pattern. Read-only after construction.
pub(super) struct Regex {
    code: NonNull<pcre2_code_8>,
    captures: usize,
}

// SAFETY: the compiled code (and its JIT code) is never mutated after `new`; PCRE2 documents
// that a compiled pattern may be used by several threads at once for matching, each with its
// own match data (which lives in the per-worker `PcreScratch`).
unsafe impl Send for Regex {}
// SAFETY: as above: matching only reads the code.
unsafe impl Sync for Regex {}

/// Outcome of one match attempt.
pub(super) enum Exec {
    /// Matched: `[start, end)` relative to the subject passed in.
    Match(usize, usize),
    /// No match.
    NoMatch,
    /// A match, depth, heap or JIT-stack limit was hit.
    Limit,
    /// Any other PCRE2 error (or missing scratch).
    Error,
}

impl Regex {
    /// Compiles `p` with its flags and JIT-compiles it (the interpreter is used if JIT fails).
    pub(super) fn new(p: &Pcre) -> Result<Self, InspectError> {
        let mut options = 0u32;
        for (on, flag) in [
            (p.caseless, PCRE2_CASELESS),
            (p.dotall, PCRE2_DOTALL),
            (p.multiline, PCRE2_MULTILINE),
            (p.extended, PCRE2_EXTENDED),
            (p.anchored, PCRE2_ANCHORED),
            (p.dollar_endonly, PCRE2_DOLLAR_ENDONLY),
            (p.ungreedy, PCRE2_UNGREEDY),
        ] {
            if on {
                options |= flag;
            }
        }
        let mut errcode: c_int = 0;
        let mut erroffset: usize = 0;
        // SAFETY: the pattern pointer/length describe a live byte slice; the error out-params
        // point to live locals; a null compile context selects the defaults.
        let raw = unsafe {
            pcre2_compile_8(p.source.as_ptr(), p.source.len(), options, &mut errcode, &mut erroffset, ptr::null_mut())
        };
        let Some(code) = NonNull::new(raw) else {
            return Err(InspectError::Pcre {
                pattern: p.source.clone(),
                offset: erroffset,
                message: error_message(errcode),
            });
        };
        // JIT failure is not fatal: pcre2_match falls back to the interpreter.
        // SAFETY: `code` is a valid compiled pattern owned by us.
        let _ = unsafe { pcre2_jit_compile_8(code.as_ptr(), PCRE2_JIT_COMPLETE) };
        let mut count: u32 = 0;
        // SAFETY: CAPTURECOUNT writes one u32 to the pointer, which points to a live local.
        let rc = unsafe { pcre2_pattern_info_8(code.as_ptr(), PCRE2_INFO_CAPTURECOUNT, (&raw mut count).cast()) };
        let captures = if rc == 0 { count as usize } else { 0 };
        Ok(Regex { code, captures })
    }

    /// Number of capture groups in the pattern.
    pub(super) fn captures(&self) -> usize {
        self.captures
    }

    /// Runs the pattern on `subject` starting at `start` (the subject start is what `^` and
    /// lookbehinds see). Allocation-free (uses the worker's match data).
    pub(super) fn exec(&self, subject: &[u8], start: usize, scratch: &mut PcreScratch) -> Exec {
        let (Some(md), Some(mctx)) = (scratch.match_data, scratch.match_ctx) else {
            return Exec::Error;
        };
        if start > subject.len() {
            return Exec::NoMatch;
        }
        // SAFETY: code, match data and match context are valid and owned (the latter two
        // exclusively by this worker, through `&mut`); the subject pointer/length describe a
        // live slice that outlives the call.
        let rc = unsafe {
            pcre2_match_8(self.code.as_ptr(), subject.as_ptr(), subject.len(), start, 0, md.as_ptr(), mctx.as_ptr())
        };
        match rc {
            rc if rc >= 0 => {
                // rc == 0 means the ovector was too small for all captures: still a match,
                // and pair 0 (the whole match) is always set.
                // SAFETY: `md` is valid; the returned pointer addresses its ovector.
                let ov = unsafe { pcre2_get_ovector_pointer_8(md.as_ptr()) };
                // SAFETY: the ovector has at least one pair (created with >= 1 pair) and was
                // filled by the successful match above: index 0 is the match start...
                let s = unsafe { *ov };
                // SAFETY: index 1 is in the same (first) pair of the ovector.
                let end_ptr = unsafe { ov.add(1) };
                // SAFETY: ...and holds the match end.
                let e = unsafe { *end_ptr };
                Exec::Match(s, e)
            }
            PCRE2_ERROR_NOMATCH => Exec::NoMatch,
            PCRE2_ERROR_MATCHLIMIT | PCRE2_ERROR_DEPTHLIMIT | PCRE2_ERROR_HEAPLIMIT | PCRE2_ERROR_JIT_STACKLIMIT => {
                Exec::Limit
            }
            _ => Exec::Error,
        }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: `code` came from pcre2_compile_8, is owned by us and freed exactly once.
        unsafe { pcre2_code_free_8(self.code.as_ptr()) }
    }
}

/// Per-worker PCRE2 state: match data and a match context carrying the limits.
pub(super) struct PcreScratch {
    match_data: Option<NonNull<pcre2_match_data_8>>,
    match_ctx: Option<NonNull<pcre2_match_context_8>>,
}

// SAFETY: the match data and context are owned exclusively by this value and only used
// through `&mut self`; moving them to another thread is fine (PCRE2 has no thread affinity).
unsafe impl Send for PcreScratch {}

impl PcreScratch {
    /// Creates match data for `max_captures` groups (plus the whole match) and the match
    /// context with Suricata's limits. On allocation failure the scratch is empty and every
    /// match attempt reports an error.
    pub(super) fn new(max_captures: usize) -> Self {
        let pairs = u32::try_from(max_captures.saturating_add(1)).unwrap_or(u32::MAX).min(65535);
        // SAFETY: a null general context selects malloc/free; the result is checked for null.
        let md = NonNull::new(unsafe { pcre2_match_data_create_8(pairs, ptr::null_mut()) });
        // SAFETY: as above.
        let mctx = NonNull::new(unsafe { pcre2_match_context_create_8(ptr::null_mut()) });
        if let Some(c) = mctx {
            // SAFETY: `c` is a valid match context we own.
            unsafe { pcre2_set_match_limit_8(c.as_ptr(), MATCH_LIMIT) };
            // SAFETY: as above.
            unsafe { pcre2_set_depth_limit_8(c.as_ptr(), DEPTH_LIMIT) };
        }
        PcreScratch { match_data: md, match_ctx: mctx }
    }
}

impl Drop for PcreScratch {
    fn drop(&mut self) {
        if let Some(md) = self.match_data.take() {
            // SAFETY: created by pcre2_match_data_create_8, owned, freed once.
            unsafe { pcre2_match_data_free_8(md.as_ptr()) }
        }
        if let Some(c) = self.match_ctx.take() {
            // SAFETY: created by pcre2_match_context_create_8, owned, freed once.
            unsafe { pcre2_match_context_free_8(c.as_ptr()) }
        }
    }
}

/// PCRE2's text for an error code (build time only).
fn error_message(code: c_int) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer pointer/length describe a live local array.
    let n = unsafe { pcre2_get_error_message_8(code, buf.as_mut_ptr(), buf.len()) };
    match usize::try_from(n) {
        Ok(n) => String::from_utf8_lossy(&buf[..n.min(buf.len())]).into_owned(),
        Err(_) => format!("PCRE2 error {code}"),
    }
}
