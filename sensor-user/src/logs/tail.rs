//! Following a log file like `tail -F`, by polling: no thread, no inotify.
//!
//! [`Tail::poll`] reads what was appended since the last call and hands over complete
//! lines only (a partial last line waits for its newline). It starts at the end of a file
//! that exists when the tail is created (or at its start with `from_start`), and at the
//! start of a file that appears later. Between polls it notices:
//! - rotation: the path names another file (another device/inode). The old file is read to
//!   its end first (a partial last line is then handed over as is), then the new one from
//!   its start. While the path is missing (renamed, not yet re-created) the old file keeps
//!   being read.
//! - truncation (copytruncate): the file is shorter than what was read: read again from 0.
//! - a missing file: wait for it.
//! - overlong lines: cut at `max_line` bytes, handed over with [`Line::cut`] set, the rest
//!   of the line skipped, counted.
//!
//! Buffers are allocated once in [`Tail::new`]; polling allocates nothing.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

/// Bytes read per `read` call.
const CHUNK: usize = 64 * 1024;

/// One line handed over by [`Tail::poll`] (without its newline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line's bytes.
    pub bytes: &'a [u8],
    /// Whether the line was longer than the limit and cut.
    pub cut: bool,
}

/// Counters of a [`Tail`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailStats {
    /// Lines handed over.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Times the path was found naming a new file.
    pub rotations: u64,
    /// Times the file was found shorter than what was read.
    pub truncations: u64,
    /// Lines cut at the limit.
    pub cut_lines: u64,
    /// Partial last lines handed over when their file was rotated away.
    pub partial_flushed: u64,
    /// Times the file was opened.
    pub opens: u64,
}

/// A followed file.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    file: Option<File>,
    id: (u64, u64),
    pos: u64,
    /// The next open reads from the end (only the first open, without `from_start`).
    open_at_end: bool,
    buf: Box<[u8]>,
    carry: Vec<u8>,
    skipping: bool,
    max_line: usize,
    stats: TailStats,
}

impl Tail {
    /// Follows `path`, from its end now (or its start with `from_start`), cutting lines at
    /// `max_line` bytes (at least 1). The file need not exist yet (nor be readable: the
    /// next polls retry).
    pub fn new(path: impl Into<PathBuf>, from_start: bool, max_line: usize) -> Self {
        let max_line = max_line.max(1);
        let mut t = Self {
            path: path.into(),
            file: None,
            id: (0, 0),
            pos: 0,
            open_at_end: !from_start,
            buf: vec![0; CHUNK].into_boxed_slice(),
            carry: Vec::with_capacity(max_line),
            skipping: false,
            max_line,
            stats: TailStats::default(),
        };
        if matches!(t.open(), Ok(false)) {
            // Missing at start: read it from its start once it appears.
            t.open_at_end = false;
        }
        t
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counters.
    pub fn stats(&self) -> TailStats {
        self.stats
    }

    /// Whether a file is open.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Opens the path if it exists. The first successful open starts at the end unless
    /// `from_start`; a file that was missing at the first attempt is read from its start.
    fn open(&mut self) -> io::Result<bool> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let at_end = std::mem::replace(&mut self.open_at_end, false);
        let meta = file.metadata()?;
        self.id = (meta.dev(), meta.ino());
        self.pos = if at_end { file.seek(SeekFrom::End(0))? } else { 0 };
        self.carry.clear();
        self.skipping = false;
        self.file = Some(file);
        self.stats.opens += 1;
        Ok(true)
    }

    /// Hands every new complete line to `f`; returns how many.
    pub fn poll(&mut self, mut f: impl FnMut(Line<'_>)) -> io::Result<usize> {
        if self.file.is_none() && !self.open()? {
            return Ok(0);
        }
        let mut n = 0;
        // The current file, then at most a few successors if the path keeps changing.
        for _ in 0..4 {
            let Some(file) = self.file.as_ref() else { break };
            if file.metadata()?.len() < self.pos {
                self.stats.truncations += 1;
                self.restart_at_zero()?;
            }
            n += self.read_to_end(&mut f)?;
            let now = match std::fs::metadata(&self.path) {
                Ok(m) => (m.dev(), m.ino()),
                // Renamed away and not yet re-created, or unreadable: keep the old file.
                Err(_) => break,
            };
            if now == self.id {
                break;
            }
            // Rotated: the old file is finished; its partial last line is all there will be.
            n += self.read_to_end(&mut f)?;
            if !self.carry.is_empty() && !self.skipping {
                f(Line { bytes: &self.carry, cut: false });
                self.stats.partial_flushed += 1;
                self.stats.lines += 1;
                n += 1;
            }
            self.stats.rotations += 1;
            self.file = None;
            if !self.open()? {
                break;
            }
        }
        Ok(n)
    }

    fn restart_at_zero(&mut self) -> io::Result<()> {
        if let Some(file) = self.file.as_mut() {
            file.seek(SeekFrom::Start(0))?;
        }
        self.pos = 0;
        self.carry.clear();
        self.skipping = false;
        Ok(())
    }

    fn read_to_end(&mut self, f: &mut impl FnMut(Line<'_>)) -> io::Result<usize> {
        let mut n = 0;
        loop {
            let Some(file) = self.file.as_mut() else { return Ok(n) };
            let k = match file.read(&mut self.buf) {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if k == 0 {
                return Ok(n);
            }
            self.pos += k as u64;
            self.stats.bytes += k as u64;
            n += self.feed(k, f);
        }
    }

    /// Splits `buf[..k]` into lines.
    fn feed(&mut self, k: usize, f: &mut impl FnMut(Line<'_>)) -> usize {
        let max = self.max_line;
        let mut n = 0;
        let mut rest = &self.buf[..k];
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let part = &rest[..i];
            rest = &rest[i + 1..];
            if self.skipping {
                // The end of a line already handed over cut.
                self.skipping = false;
                continue;
            }
            let cut = if self.carry.is_empty() {
                let cut = part.len() > max;
                f(Line { bytes: &part[..part.len().min(max)], cut });
                cut
            } else {
                let room = max - self.carry.len().min(max);
                let cut = part.len() > room;
                self.carry.extend_from_slice(&part[..part.len().min(room)]);
                f(Line { bytes: &self.carry, cut });
                self.carry.clear();
                cut
            };
            if cut {
                self.stats.cut_lines += 1;
            }
            self.stats.lines += 1;
            n += 1;
        }
        if !rest.is_empty() && !self.skipping {
            let room = max - self.carry.len().min(max);
            if rest.len() > room {
                self.carry.extend_from_slice(&rest[..room]);
                f(Line { bytes: &self.carry, cut: true });
                self.carry.clear();
                self.skipping = true;
                self.stats.cut_lines += 1;
                self.stats.lines += 1;
                n += 1;
            } else {
                self.carry.extend_from_slice(rest);
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A unique temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("tail-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("temp dir");
            Self(p)
        }
        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn append(p: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(p).expect("open");
        f.write_all(s.as_bytes()).expect("write");
    }

    fn lines(t: &mut Tail) -> Vec<String> {
        let mut v = Vec::new();
        t.poll(|l| v.push(String::from_utf8_lossy(l.bytes).into_owned())).expect("poll");
        v
    }

    #[test]
    fn starts_at_the_end_and_reads_appended_lines() {
        let d = TempDir::new("append");
        let p = d.file("auth.log");
        append(&p, "old 1\nold 2\n");
        let mut t = Tail::new(&p, false, 1024);
        assert!(lines(&mut t).is_empty());
        append(&p, "new 1\nnew 2\n");
        assert_eq!(lines(&mut t), ["new 1", "new 2"]);
        assert!(lines(&mut t).is_empty());
        let mut t = Tail::new(&p, true, 1024);
        assert_eq!(lines(&mut t), ["old 1", "old 2", "new 1", "new 2"]);
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let d = TempDir::new("partial");
        let p = d.file("auth.log");
        append(&p, "");
        let mut t = Tail::new(&p, false, 1024);
        append(&p, "first half");
        assert!(lines(&mut t).is_empty());
        append(&p, " second half\nnext");
        assert_eq!(lines(&mut t), ["first half second half"]);
        append(&p, "\n");
        assert_eq!(lines(&mut t), ["next"]);
    }

    #[test]
    fn rotation_by_rename_and_create_finishes_the_old_file_then_reads_the_new() {
        let d = TempDir::new("rotate");
        let p = d.file("auth.log");
        append(&p, "");
        let mut t = Tail::new(&p, false, 1024);
        append(&p, "a\n");
        assert_eq!(lines(&mut t), ["a"]);
        // The writer adds to the old file, then it is renamed away.
        append(&p, "b\nunfinished");
        std::fs::rename(&p, d.file("auth.log.1")).expect("rename");
        // Missing path: the old file is still followed.
        assert_eq!(lines(&mut t), ["b"]);
        append(&d.file("auth.log.1"), " tail\n");
        assert_eq!(lines(&mut t), ["unfinished tail"]);
        append(&p, "c\nd\n");
        assert_eq!(lines(&mut t), ["c", "d"]);
        assert_eq!(t.stats().rotations, 1);
        append(&p, "e\n");
        assert_eq!(lines(&mut t), ["e"]);
    }

    #[test]
    fn a_partial_line_of_a_rotated_file_is_handed_over() {
        let d = TempDir::new("rotpartial");
        let p = d.file("auth.log");
        append(&p, "");
        let mut t = Tail::new(&p, false, 1024);
        append(&p, "x\ncut off");
        std::fs::rename(&p, d.file("auth.log.1")).expect("rename");
        append(&p, "y\n");
        assert_eq!(lines(&mut t), ["x", "cut off", "y"]);
        assert_eq!(t.stats().partial_flushed, 1);
    }

    #[test]
    fn copytruncate_restarts_from_the_beginning() {
        let d = TempDir::new("truncate");
        let p = d.file("auth.log");
        append(&p, "");
        let mut t = Tail::new(&p, false, 1024);
        append(&p, "one\ntwo\nthree\n");
        assert_eq!(lines(&mut t), ["one", "two", "three"]);
        std::fs::copy(&p, d.file("auth.log.1")).expect("copy");
        std::fs::OpenOptions::new().write(true).truncate(true).open(&p).expect("truncate");
        append(&p, "four\n");
        assert_eq!(lines(&mut t), ["four"]);
        assert_eq!(t.stats().truncations, 1);
    }

    #[test]
    fn a_missing_file_is_read_from_its_start_once_it_appears() {
        let d = TempDir::new("missing");
        let p = d.file("secure");
        let mut t = Tail::new(&p, false, 1024);
        assert!(lines(&mut t).is_empty());
        assert!(!t.is_open());
        append(&p, "hello\n");
        assert_eq!(lines(&mut t), ["hello"]);
    }

    #[test]
    fn overlong_lines_are_cut_and_counted() {
        let d = TempDir::new("long");
        let p = d.file("auth.log");
        append(&p, "");
        let mut t = Tail::new(&p, false, 8);
        append(&p, "0123456789abcdef\nshort\n");
        let mut got = Vec::new();
        t.poll(|l| got.push((l.bytes.to_vec(), l.cut))).expect("poll");
        assert_eq!(got, [(b"01234567".to_vec(), true), (b"short".to_vec(), false)]);
        // An overlong line arriving in pieces.
        append(&p, "abcd");
        assert!(lines(&mut t).is_empty());
        append(&p, "efghijkl");
        assert_eq!(lines(&mut t), ["abcdefgh"]);
        append(&p, "mnop\nok\n");
        assert_eq!(lines(&mut t), ["ok"]);
        assert_eq!(t.stats().cut_lines, 2);
        // A line of exactly the limit is not cut.
        append(&p, "12345678\n");
        let mut cut = true;
        t.poll(|l| cut = l.cut).expect("poll");
        assert!(!cut);
    }

    #[test]
    fn large_appends_cross_read_chunks() {
        let d = TempDir::new("large");
        let p = d.file("auth.log");
        append(&p, "");
        let mut t = Tail::new(&p, false, 4096);
        let body: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        append(&p, &body);
        let got = lines(&mut t);
        assert_eq!(got.len(), 20_000);
        assert_eq!(got[12_345], "line 12345");
    }
}
