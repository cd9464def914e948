//! Safe wrapper over the few Hyperscan calls the prefilter needs (through the `hyperscan-sys`
//! binding to Debian's libhs): a block-mode database of case-insensitive literals, each
//! reported at most once per scan, and the per-worker scratch space that scanning needs.
//!
//! A [`HsDatabase`] is immutable after compilation and shared by every worker; a [`HsScratch`]
//! belongs to one worker and is grown to fit every database of a rule set before the first
//! scan, so scanning allocates nothing.

use std::ffi::{CStr, c_char, c_int, c_uint, c_ulonglong, c_void};
use std::ptr;

use hyperscan_sys as hs;

/// Why Hyperscan refused a pattern set or a scratch allocation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HsError {
    /// The compiler rejected the set (message from libhs; `pattern` is the index, if one).
    #[error("hyperscan compile failed{}: {message}", pattern.map(|p| format!(" on pattern {p}")).unwrap_or_default())]
    Compile { message: String, pattern: Option<usize> },
    /// A libhs call returned an error code.
    #[error("hyperscan {call} failed with code {code}")]
    Call { call: &'static str, code: i32 },
    /// More patterns than libhs can number.
    #[error("too many patterns for one hyperscan database: {0}")]
    TooMany(usize),
}

/// A compiled block-mode database of literals.
pub(crate) struct HsDatabase {
    db: ptr::NonNull<hs::hs_database_t>,
    patterns: usize,
    bytes: usize,
}

// SAFETY: a compiled database is immutable; libhs documents databases as safe to share between
// threads (all mutable scan state lives in the caller's scratch).
unsafe impl Send for HsDatabase {}
// SAFETY: as above: `hs_scan` only reads the database.
unsafe impl Sync for HsDatabase {}

impl Drop for HsDatabase {
    fn drop(&mut self) {
        // SAFETY: `db` came from `hs_compile_lit_multi` and is freed exactly once, here.
        unsafe {
            hs::hs_free_database(self.db.as_ptr());
        }
    }
}

impl HsDatabase {
    /// Compiles `patterns` (non-empty byte strings, may hold NULs) as ASCII case-insensitive
    /// literals; a match reports the pattern's index, once per scan.
    pub(crate) fn literals(patterns: &[Vec<u8>]) -> Result<Self, HsError> {
        // libhs crashes on an empty literal rather than refusing it, so refuse here.
        if let Some(i) = patterns.iter().position(Vec::is_empty) {
            return Err(HsError::Compile { message: "empty literal".into(), pattern: Some(i) });
        }
        if patterns.is_empty() {
            return Err(HsError::Compile { message: "no patterns".into(), pattern: None });
        }
        let n = c_uint::try_from(patterns.len()).map_err(|_| HsError::TooMany(patterns.len()))?;
        let exprs: Vec<*const c_char> = patterns.iter().map(|p| p.as_ptr().cast::<c_char>()).collect();
        let lens: Vec<usize> = patterns.iter().map(Vec::len).collect();
        let flags: Vec<c_uint> = vec![hs::HS_FLAG_CASELESS | hs::HS_FLAG_SINGLEMATCH; patterns.len()];
        let ids: Vec<c_uint> = (0..n).collect();
        let mut db: *mut hs::hs_database_t = ptr::null_mut();
        let mut err: *mut hs::hs_compile_error_t = ptr::null_mut();
        // SAFETY: the four arrays have `n` elements each and outlive the call; every expression
        // pointer is valid for its given length; `db` and `err` are out-pointers.
        let rc = unsafe {
            hs::hs_compile_lit_multi(
                exprs.as_ptr(),
                flags.as_ptr(),
                ids.as_ptr(),
                lens.as_ptr(),
                n,
                hs::HS_MODE_BLOCK,
                ptr::null(),
                &mut db,
                &mut err,
            )
        };
        if rc != hs::HS_SUCCESS as hs::hs_error_t {
            return Err(compile_error(err, rc));
        }
        let db = ptr::NonNull::new(db).ok_or(HsError::Call { call: "hs_compile_lit_multi", code: rc })?;
        let mut bytes = 0usize;
        // SAFETY: `db` is a valid database; `bytes` is an out-pointer.
        unsafe {
            hs::hs_database_size(db.as_ptr(), &mut bytes);
        }
        Ok(HsDatabase { db, patterns: patterns.len(), bytes })
    }

    /// Patterns compiled.
    pub(crate) fn patterns(&self) -> usize {
        self.patterns
    }

    /// The database's size in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Calls `hit` with the index of every pattern present in `hay` (each once). `scratch`
    /// must have been grown for this database ([`HsScratch::fit`]); if it was not, or the scan
    /// fails, nothing is reported and `false` is returned.
    pub(crate) fn scan(&self, hay: &[u8], scratch: &mut HsScratch, hit: &mut dyn FnMut(u32)) -> bool {
        let Some(s) = scratch.scratch else { return false };
        let Ok(len) = c_uint::try_from(hay.len()) else { return false };
        let mut ctx: &mut dyn FnMut(u32) = hit;
        // SAFETY: `db` and `s` are valid; `hay` is valid for `len` bytes; the context pointer
        // is to `ctx`, a live `&mut dyn FnMut` that `on_match` casts back to the same type, and
        // libhs calls the handler only during this call, on this thread.
        let rc = unsafe {
            hs::hs_scan(
                self.db.as_ptr(),
                hay.as_ptr().cast::<c_char>(),
                len,
                0,
                s.as_ptr(),
                Some(on_match),
                (&mut ctx as *mut &mut dyn FnMut(u32)).cast::<c_void>(),
            )
        };
        rc == hs::HS_SUCCESS as hs::hs_error_t
    }
}

unsafe extern "C" fn on_match(
    id: c_uint,
    _from: c_ulonglong,
    _to: c_ulonglong,
    _flags: c_uint,
    ctx: *mut c_void,
) -> c_int {
    // SAFETY: `ctx` is the `&mut &mut dyn FnMut(u32)` that `scan` passed, alive for the scan.
    let hit = unsafe { &mut *ctx.cast::<&mut dyn FnMut(u32)>() };
    hit(id);
    0
}

fn compile_error(err: *mut hs::hs_compile_error_t, rc: hs::hs_error_t) -> HsError {
    if err.is_null() {
        return HsError::Call { call: "hs_compile_lit_multi", code: rc };
    }
    // SAFETY: libhs returned a compile error, valid until freed below.
    let e = unsafe { &*err };
    let message = if e.message.is_null() {
        String::from("unknown error")
    } else {
        // SAFETY: a non-null message is a NUL-terminated string owned by the error.
        unsafe { CStr::from_ptr(e.message) }.to_string_lossy().into_owned()
    };
    let pattern = usize::try_from(e.expression).ok();
    // SAFETY: freed once, after the last read of `e`.
    unsafe {
        hs::hs_free_compile_error(err);
    }
    HsError::Compile { message, pattern }
}

/// One worker's scan scratch, grown to fit every database it will scan with.
#[derive(Default)]
pub(crate) struct HsScratch {
    scratch: Option<ptr::NonNull<hs::hs_scratch_t>>,
}

// SAFETY: scratch space may move between threads; it is used by one scan at a time, which the
// `&mut` in `HsDatabase::scan` enforces.
unsafe impl Send for HsScratch {}

impl Drop for HsScratch {
    fn drop(&mut self) {
        if let Some(s) = self.scratch {
            // SAFETY: `s` came from `hs_alloc_scratch` and is freed exactly once, here.
            unsafe {
                hs::hs_free_scratch(s.as_ptr());
            }
        }
    }
}

impl HsScratch {
    /// Grows the scratch (allocating it on first use) so that `db` can be scanned with it.
    pub(crate) fn fit(&mut self, db: &HsDatabase) -> Result<(), HsError> {
        let mut s = self.scratch.map_or(ptr::null_mut(), ptr::NonNull::as_ptr);
        // SAFETY: `db` is valid; `s` is null or a scratch from an earlier call, which libhs
        // may reallocate and write back.
        let rc = unsafe { hs::hs_alloc_scratch(db.db.as_ptr(), &mut s) };
        self.scratch = ptr::NonNull::new(s);
        if rc != hs::HS_SUCCESS as hs::hs_error_t {
            return Err(HsError::Call { call: "hs_alloc_scratch", code: rc });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(db: &HsDatabase, s: &mut HsScratch, hay: &[u8]) -> Vec<u32> {
        let mut v = Vec::new();
        assert!(db.scan(hay, s, &mut |id| v.push(id)));
        v.sort_unstable();
        v
    }

    #[test]
    fn reports_each_present_literal_once_case_insensitively() {
        let pats = vec![b"abc".to_vec(), b"\x00\x01".to_vec(), b"bcd".to_vec(), b"zz".to_vec()];
        let db = HsDatabase::literals(&pats).expect("compile");
        assert_eq!(db.patterns(), 4);
        let mut s = HsScratch::default();
        s.fit(&db).expect("scratch");
        // Overlapping abc/bcd, repeated abc, a NUL pattern; zz absent.
        assert_eq!(found(&db, &mut s, b"xxABCDabc\x00\x01"), vec![0, 1, 2]);
        assert_eq!(found(&db, &mut s, b"nothing"), Vec::<u32>::new());
    }

    #[test]
    fn a_refused_pattern_set_is_an_error_with_the_pattern() {
        let err = HsDatabase::literals(&[b"ok".to_vec(), Vec::new()]).err().expect("an empty literal is refused");
        assert_eq!(err.to_string(), "hyperscan compile failed on pattern 1: empty literal");
        assert!(HsDatabase::literals(&[]).is_err());
        // libhs takes literals of up to 16,000 bytes and refuses longer ones with its message.
        assert!(HsDatabase::literals(&[vec![b'a'; 16_000]]).is_ok());
        match HsDatabase::literals(&[vec![b'a'; 16_001]]) {
            Err(HsError::Compile { message, pattern }) => {
                assert_eq!((message.as_str(), pattern), ("Pattern length exceeds limit.", Some(0)))
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted a 16,001-byte literal"),
        }
    }

    #[test]
    fn scan_without_fitted_scratch_reports_nothing() {
        let db = HsDatabase::literals(&[b"abc".to_vec()]).expect("compile");
        let mut s = HsScratch::default();
        let mut n = 0;
        assert!(!db.scan(b"abc", &mut s, &mut |_| n += 1));
        assert_eq!(n, 0);
    }

    #[test]
    fn one_scratch_serves_several_databases() {
        let small = HsDatabase::literals(&[b"a".to_vec()]).expect("compile");
        let big: Vec<Vec<u8>> = (0..2000).map(|i| format!("pattern-{i}").into_bytes()).collect();
        let big = HsDatabase::literals(&big).expect("compile");
        let mut s = HsScratch::default();
        s.fit(&small).expect("scratch");
        s.fit(&big).expect("scratch");
        assert_eq!(found(&small, &mut s, b"A"), vec![0]);
        // Every prefix pattern-1, -19, -199 is present too.
        assert_eq!(found(&big, &mut s, b"..PATTERN-1999.."), vec![1, 19, 199, 1999]);
    }
}
