//! `content` search: the pattern finder (exact with a prebuilt `memmem` finder, `nocase` with a
//! prebuilt case-folded Horspool table) and the search-window computation of Suricata's
//! `DetectEngineContentInspection` (offset/depth absolute, distance/within relative to the
//! previous match end, with its 32-bit arithmetic).

use memchr::memmem;

use super::fold;

/// A pattern finder built once; searching allocates nothing.
pub(super) enum Finder {
    /// Case-sensitive.
    Exact(Box<memmem::Finder<'static>>),
    /// ASCII case-insensitive: lower-cased pattern and Horspool shift table.
    Nocase {
        /// The pattern, lower-cased.
        folded: Box<[u8]>,
        /// Horspool shift per (lower-cased) byte.
        shift: Box<[usize; 256]>,
    },
}

impl Finder {
    /// Builds the finder for `pattern`.
    pub(super) fn new(pattern: &[u8], nocase: bool) -> Self {
        if !nocase {
            return Finder::Exact(Box::new(memmem::Finder::new(pattern).into_owned()));
        }
        let folded = fold(pattern).into_boxed_slice();
        let m = folded.len();
        let mut shift = Box::new([m.max(1); 256]);
        if m > 0 {
            for (i, &b) in folded[..m - 1].iter().enumerate() {
                let s = m - 1 - i;
                shift[usize::from(b)] = s;
                shift[usize::from(b.to_ascii_uppercase())] = s;
            }
        }
        Finder::Nocase { folded, shift }
    }

    /// Position of the first occurrence of the pattern in `hay`.
    pub(super) fn find(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Finder::Exact(f) => f.find(hay),
            Finder::Nocase { folded, shift } => {
                let m = folded.len();
                if m == 0 {
                    return Some(0);
                }
                if hay.len() < m {
                    return None;
                }
                let last = m - 1;
                let mut pos = 0;
                while pos + m <= hay.len() {
                    let window = &hay[pos..pos + m];
                    if window.eq_ignore_ascii_case(folded) {
                        return Some(pos);
                    }
                    pos += shift[usize::from(window[last])];
                }
                None
            }
        }
    }
}

/// The content's resolved (runtime) window inputs, in Suricata's internal form.
#[derive(Clone, Copy, Debug)]
pub(super) struct WindowSpec {
    /// Distance/within given: window relative to the previous match end.
    pub relative: bool,
    /// `distance` value (signed, 32-bit as Suricata).
    pub distance: Option<i32>,
    /// `within` value.
    pub within: Option<u32>,
    /// `offset` value.
    pub offset: Option<u32>,
    /// `depth` value (counted from `offset`, as written in the rule).
    pub depth: Option<u32>,
}

/// Computes `[offset, depth)` for a search, exactly as Suricata does (including its clamping
/// quirks: a negative distance reaching before the buffer start clamps to 0; a negative
/// `prev + distance + within` leaves the window open to the end of the buffer).
/// `prev` is the previous match end; `retry` the restart position after an earlier
/// occurrence (0 = first search). Returns `None` when no window exists (`offset > depth` or
/// `depth == 0`).
pub(super) fn window(spec: &WindowSpec, prev: u32, retry: u32, buffer_len: u32) -> Option<(u32, u32)> {
    let mut depth = buffer_len;
    let mut offset: u32;
    if spec.relative {
        offset = prev;
        let mut distance: i32 = 0;
        if let Some(d) = spec.distance {
            distance = d;
            if distance < 0 && distance.unsigned_abs() > offset {
                offset = 0;
            } else {
                offset = offset.wrapping_add(distance as u32);
            }
        }
        if let Some(w) = spec.within {
            let limit = prev.wrapping_add(w).wrapping_add(distance as u32) as i32;
            if (depth as i32) > limit {
                depth = limit as u32;
            }
        }
        // depth/offset together with distance/within are refused by the parser (as Suricata
        // does); kept for completeness with Suricata's handling.
        if let Some(d) = spec.depth {
            let d = spec.offset.unwrap_or(0).saturating_add(d);
            if d.saturating_add(prev) < depth {
                depth = prev + d;
            }
        }
        if let Some(o) = spec.offset {
            offset = offset.max(o);
        }
    } else {
        offset = spec.offset.unwrap_or(0);
        if let Some(d) = spec.depth {
            depth = offset.saturating_add(d);
        }
    }
    if retry != 0 {
        offset = retry;
    }
    depth = depth.min(buffer_len);
    if offset > depth || depth == 0 { None } else { Some((offset, depth)) }
}
