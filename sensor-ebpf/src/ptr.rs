//! Bounds-checked access to packet bytes: the only way the parsers read a packet.

/// A pointer to a `T` at `offset` from `start`, if the whole `T` lies before `end`.
#[inline(always)]
pub fn ptr_at<T>(start: usize, end: usize, offset: usize) -> Option<*const T> {
    let len = core::mem::size_of::<T>();
    if start + offset + len > end {
        return None;
    }
    Some((start + offset) as *const T)
}

/// Reads a `T` (unaligned) at `offset`, if it lies within the packet.
#[inline(always)]
pub fn read_at<T: Copy>(start: usize, end: usize, offset: usize) -> Option<T> {
    let p = ptr_at::<T>(start, end, offset)?;
    // SAFETY: `ptr_at` checked that `size_of::<T>()` bytes from `p` are inside the packet,
    // and `T: Copy` is plain data read without alignment assumptions.
    Some(unsafe { core::ptr::read_unaligned(p) })
}

/// Stores `v` at `dst` with a volatile write, so LLVM cannot merge neighbouring stores into
/// a `memset`/`memcpy` call (which the BPF backend emits out of line as a byte loop).
#[inline(always)]
pub fn put<T>(dst: *mut T, v: T) {
    // SAFETY: callers pass pointers to fields of live, writable memory they own for this
    // program run (scratch, map values, reserved ring records).
    unsafe { core::ptr::write_volatile(dst, v) }
}
