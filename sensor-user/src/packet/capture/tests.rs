//! Tests of the capture reader: real captures checked against Wireshark's tools as the
//! oracle (capinfos, tshark, editcap, mergecap, gzip), and hand-built files for every error.
//!
//! Tests that need the shared data set or a tool skip, with a note on stderr, when it is
//! absent. The data set is `$SENSOR_TEST_DATA`, or `shared/data` in an ancestor folder of the
//! crate.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

// ---------------------------------------------------------------- helpers

/// An owned copy of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pkt {
    ts_ns: u64,
    link: LinkType,
    interface: u32,
    orig_len: u32,
    data: Vec<u8>,
}

impl From<CapturedPacket<'_>> for Pkt {
    fn from(p: CapturedPacket<'_>) -> Self {
        Self { ts_ns: p.ts_ns, link: p.link, interface: p.interface, orig_len: p.orig_len, data: p.data.to_vec() }
    }
}

/// Reads every packet; returns them, the error that ended the file if any, and the reader
/// (checked to stay finished).
fn collect(mut r: CaptureReader) -> (Vec<Pkt>, Option<CaptureError>, CaptureReader) {
    let mut pkts = Vec::new();
    let err = loop {
        match r.next_packet() {
            Ok(Some(p)) => pkts.push(Pkt::from(p)),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(matches!(r.next_packet(), Ok(None)), "reader not finished after the end or an error");
    (pkts, err, r)
}

fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_read(name, Box::new(Cursor::new(bytes)))
}

/// Reads an in-memory file to the end.
fn read_bytes(bytes: Vec<u8>) -> (Vec<Pkt>, Option<CaptureError>) {
    match from_bytes("mem", bytes) {
        Ok(r) => {
            let (p, e, _) = collect(r);
            (p, e)
        }
        Err(e) => (Vec::new(), Some(e)),
    }
}

/// Reads a file to the end, panicking if it does not open.
fn read_path(path: &Path) -> (Vec<Pkt>, Option<CaptureError>, CaptureReader) {
    match CaptureReader::open(path) {
        Ok(r) => collect(r),
        Err(e) => panic!("{e}"),
    }
}

fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("SENSOR_TEST_DATA") {
        let p = PathBuf::from(d);
        return p.join("pcaps").is_dir().then_some(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().map(|a| a.join("shared/data")).find(|p| p.join("pcaps").is_dir())
}

fn have_tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The data set and the tools, or `None` (with a note) to skip.
fn setup(tools: &[&str]) -> Option<PathBuf> {
    let Some(dir) = data_dir() else {
        eprintln!("skipped: shared/data not found (set SENSOR_TEST_DATA)");
        return None;
    };
    if let Some(t) = tools.iter().find(|t| !have_tool(t)) {
        eprintln!("skipped: {t} not installed");
        return None;
    }
    Some(dir)
}

/// A temporary folder removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("capture-test-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Self(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run tool");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// All .pcap and .pcapng files under `dir`, sorted.
fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("pcap" | "pcapng")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ------------------------------------------------------------- builders

/// A classic pcap file: (secs, frac, orig_len, data) per packet.
fn pcap_file(big: bool, nanos: bool, snaplen: u32, link: u32, pkts: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big { v.to_be_bytes() } else { v.to_le_bytes() }
    };
    let w16 = |v: u16| {
        if big { v.to_be_bytes() } else { v.to_le_bytes() }
    };
    let mut out = Vec::new();
    out.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend(w16(2));
    out.extend(w16(4));
    out.extend(w32(0));
    out.extend(w32(0));
    out.extend(w32(snaplen));
    out.extend(w32(link));
    for (secs, frac, orig, data) in pkts {
        out.extend(w32(*secs));
        out.extend(w32(*frac));
        out.extend(w32(u32::try_from(data.len()).expect("len")));
        out.extend(w32(*orig));
        out.extend_from_slice(data);
    }
    out
}

/// Record start offsets of a classic little-endian pcap, walked independently of the reader.
fn le_pcap_records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().expect("4"));
        out.push((off, caplen as usize));
        off += 16 + caplen as usize;
    }
    out
}

/// Builds pcapng sections in one byte order.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(big: bool) -> Self {
        let mut ng = Self { big, out: Vec::new() };
        let mut body = Vec::new();
        body.extend(ng.u32(0x1a2b_3c4d));
        body.extend(ng.u16(1));
        body.extend(ng.u16(0));
        body.extend(u64::MAX.to_le_bytes());
        ng.block(0x0a0d_0d0a, &body);
        ng
    }
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }
    /// Appends a block; returns its offset.
    fn block(&mut self, btype: u32, body: &[u8]) -> usize {
        let at = self.out.len();
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = u32::try_from(body.len() + 12).expect("len");
        self.out.extend(self.u32(btype));
        self.out.extend(self.u32(len));
        self.out.extend(&body);
        self.out.extend(self.u32(len));
        at
    }
    fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        o.extend(self.u16(code));
        o.extend(self.u16(u16::try_from(value.len()).expect("len")));
        o.extend(value);
        while !o.len().is_multiple_of(4) {
            o.push(0);
        }
        o
    }
    fn idb(&mut self, link: u16, snaplen: u32, tsresol: Option<u8>, tsoffset: Option<i64>) {
        let mut body = Vec::new();
        body.extend(self.u16(link));
        body.extend(self.u16(0));
        body.extend(self.u32(snaplen));
        if let Some(r) = tsresol {
            body.extend(self.option(9, &[r]));
        }
        if let Some(o) = tsoffset {
            let v = if self.big { o.to_be_bytes() } else { o.to_le_bytes() };
            body.extend(self.option(14, &v));
        }
        body.extend(self.option(0, &[]));
        self.block(1, &body);
    }
    fn packet(&mut self, btype: u32, id: u32, ticks: u64, orig: u32, data: &[u8]) -> usize {
        let mut body = Vec::new();
        if btype == 2 {
            body.extend(self.u16(u16::try_from(id).expect("id")));
            body.extend(self.u16(0));
        } else {
            body.extend(self.u32(id));
        }
        body.extend(self.u32((ticks >> 32) as u32));
        body.extend(self.u32(ticks as u32));
        body.extend(self.u32(u32::try_from(data.len()).expect("len")));
        body.extend(self.u32(orig));
        body.extend(data);
        self.block(btype, &body)
    }
    fn epb(&mut self, id: u32, ticks: u64, orig: u32, data: &[u8]) -> usize {
        self.packet(6, id, ticks, orig, data)
    }
    fn spb(&mut self, orig: u32, data: &[u8]) -> usize {
        let mut body = Vec::new();
        body.extend(self.u32(orig));
        body.extend(data);
        self.block(3, &body)
    }
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

// ------------------------------------------------- synthetic: classic pcap

#[test]
fn reader_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<CaptureReader>();
}

#[test]
fn link_type_numbers() {
    for (n, l) in [
        (0, LinkType::Null),
        (1, LinkType::Ethernet),
        (101, LinkType::Raw),
        (108, LinkType::Loop),
        (113, LinkType::LinuxSll),
        (228, LinkType::Ipv4),
        (229, LinkType::Ipv6),
        (276, LinkType::LinuxSll2),
        (147, LinkType::Other(147)),
    ] {
        assert_eq!(LinkType::from_u32(n), l);
        assert_eq!(l.as_u32(), n);
    }
    assert_eq!(LinkType::from_u32(12), LinkType::Raw);
    assert_eq!(LinkType::from_u32(14), LinkType::Raw);
}

#[test]
fn pcap_all_four_magics() {
    let a = payload(60, 1);
    let b = payload(1514, 2);
    for big in [false, true] {
        for nanos in [false, true] {
            let frac = if nanos { 123_456_789 } else { 123_456 };
            let file = pcap_file(
                big,
                nanos,
                65535,
                0x1000_0001, // FCS bits above the link type
                &[(1_700_000_000, frac, 60, &a), (1_700_000_001, 0, 1600, &b)],
            );
            let len = file.len() as u64;
            let r = from_bytes("mem", file).expect("open");
            assert_eq!(r.format(), CaptureFormat::Pcap { nanos, swapped: big });
            let (pkts, err, r) = collect(r);
            assert!(err.is_none(), "{err:?}");
            let frac_ns = if nanos { 123_456_789 } else { 123_456_000 };
            assert_eq!(pkts.len(), 2);
            assert_eq!(pkts[0].ts_ns, 1_700_000_000 * 1_000_000_000 + frac_ns);
            assert_eq!(pkts[0].link, LinkType::Ethernet);
            assert_eq!(pkts[0].data, a);
            assert_eq!(pkts[1].orig_len, 1600);
            assert_eq!(pkts[1].data, b);
            assert_eq!(r.offset(), len);
            assert_eq!(r.file_offset(), len);
            assert_eq!(r.file_len(), None);
            assert_eq!(r.warnings().total(), 0);
        }
    }
}

#[test]
fn pcap_out_of_range_fraction_is_not_normalised() {
    // Like Wireshark: 1_000_000 µs is one more second.
    let file = pcap_file(false, false, 100, 1, &[(10, 1_000_000, 4, &[1, 2, 3, 4])]);
    let r = from_bytes("mem", file).expect("open");
    let (pkts, err, r) = collect(r);
    assert!(err.is_none());
    assert_eq!(pkts[0].ts_ns, 11_000_000_000);
    assert_eq!(r.warnings().timestamp_fraction_out_of_range, 1);
}

#[test]
fn pcap_warnings_counted_not_fatal() {
    let d = payload(100, 3);
    // caplen 100 > snaplen 50 and > orig_len 80.
    let file = pcap_file(false, false, 50, 1, &[(1, 0, 80, &d), (2, 0, 100, &d)]);
    let r = from_bytes("mem", file).expect("open");
    let (pkts, err, r) = collect(r);
    assert!(err.is_none());
    assert_eq!(pkts.len(), 2);
    assert_eq!(r.warnings().caplen_over_snaplen, 2);
    assert_eq!(r.warnings().caplen_over_orig_len, 1);
}

/// A reader that hands out 1 to 13 bytes per call, to exercise every refill path.
struct Dribble {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Dribble {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = self.step % 13 + 1;
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn buffer_refill_growth_and_dribbling_reader() {
    // ~3.5 MiB: many packets crossing the 1 MiB buffer edges, and one 1.5 MiB packet.
    let mut datas: Vec<Vec<u8>> = (0..4000).map(|i| payload(i % 1500 + 1, i as u8)).collect();
    datas.insert(1234, payload(1_500_000, 9));
    let pkts: Vec<(u32, u32, u32, &[u8])> =
        datas.iter().enumerate().map(|(i, d)| (i as u32, 7, d.len() as u32, d.as_slice())).collect();
    let file = pcap_file(false, false, 2_000_000, 1, &pkts);
    let total = file.len() as u64;
    let (got, err) = read_bytes(file.clone());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), datas.len());
    for (g, d) in got.iter().zip(&datas) {
        assert_eq!(&g.data, d);
    }
    // The same through tiny reads (smaller file: the dribble is slow in debug builds).
    let small = pcap_file(false, false, 2_000_000, 1, &pkts[..300]);
    let r = CaptureReader::from_read("dribble", Box::new(Dribble { data: small, pos: 0, step: 0 })).expect("open");
    let (got2, err, _) = collect(r);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got2, got[..300]);
    let r = from_bytes("mem", file).expect("open");
    let (_, _, r) = collect(r);
    assert_eq!(r.offset(), total);
}

// ------------------------------------------------------ errors: classic

#[test]
fn empty_and_tiny_files() {
    for bytes in [vec![], vec![0xd4], vec![0xd4, 0xc3, 0xb2]] {
        let e = from_bytes("empty.pcap", bytes).err().expect("error");
        assert!(matches!(e, CaptureError::TruncatedHeader { offset: 0, .. }), "{e:?}");
    }
    // Magic present, header cut.
    let mut f = pcap_file(false, false, 65535, 1, &[]);
    f.truncate(20);
    let e = from_bytes("short.pcap", f).err().expect("error");
    assert!(matches!(e, CaptureError::TruncatedHeader { offset: 0, .. }));
}

#[test]
fn wrong_magic_and_text_file() {
    let e = from_bytes("t.txt", b"hello world\n".to_vec()).err().expect("error");
    assert!(matches!(e, CaptureError::BadMagic { found, .. } if &found == b"hell"), "{e:?}");
    assert_eq!(e.to_string(), "capture t.txt: not a pcap or pcapng file (it starts with 68 65 6c 6c (\"hell\"))");
    assert_eq!(e.offset(), Some(0));
    let e = from_bytes("x", vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]).err().expect("error");
    assert!(matches!(e, CaptureError::BadMagic { found: [0xde, 0xad, 0xbe, 0xef], .. }));
    // Modified ("Kuznetzov") pcap is not supported.
    let e = from_bytes("x", vec![0x34, 0xcd, 0xb2, 0xa1, 0, 0, 0, 0]).err().expect("error");
    assert!(matches!(e, CaptureError::BadMagic { .. }));
}

#[test]
fn absurd_snaplen_in_header() {
    let f = pcap_file(true, false, 0x0200_0000, 1, &[]);
    let e = from_bytes("big.pcap", f).err().expect("error");
    assert!(matches!(e, CaptureError::AbsurdLength { offset: 16, len: 0x0200_0000, limit: 0x0100_0000, .. }), "{e:?}");
}

#[test]
fn absurd_record_length() {
    let small = payload(10, 0);
    let mut f = pcap_file(false, false, 65535, 1, &[(1, 0, 10, &small)]);
    let rec = f.len() as u64;
    // A record header announcing 300000 bytes (> max(65535, 262144)).
    f.extend(1u32.to_le_bytes());
    f.extend(0u32.to_le_bytes());
    f.extend(300_000u32.to_le_bytes());
    f.extend(300_000u32.to_le_bytes());
    f.extend(vec![0; 1000]);
    let (pkts, err) = read_bytes(f);
    assert_eq!(pkts.len(), 1);
    let e = err.expect("error");
    assert!(
        matches!(e, CaptureError::AbsurdLength { offset, len: 300_000, limit: 262_144, .. } if offset == rec),
        "{e:?}"
    );
    // With a snaplen of 1 MiB the same length is fine.
    let big = payload(300_000, 1);
    let f = pcap_file(false, false, 1 << 20, 1, &[(1, 0, 300_000, &big)]);
    let (pkts, err) = read_bytes(f);
    assert!(err.is_none());
    assert_eq!(pkts[0].data, big);
}

#[test]
fn truncated_mid_record_and_mid_header() {
    let d: Vec<Vec<u8>> = (0..5).map(|i| payload(100 + i * 10, i as u8)).collect();
    let pk: Vec<(u32, u32, u32, &[u8])> = d.iter().map(|x| (5, 0, x.len() as u32, x.as_slice())).collect();
    let full = pcap_file(false, false, 65535, 1, &pk);
    let recs = le_pcap_records(&full);
    let (start3, caplen3) = recs[3];
    // Cut 40 bytes into packet 3's data.
    let cut = full[..start3 + 16 + 40].to_vec();
    let r = from_bytes("x.pcap", cut).expect("open");
    let (pkts, err, _) = collect(r);
    assert_eq!(pkts.len(), 3);
    assert_eq!(pkts[2].data, d[2]);
    let e = err.expect("error");
    assert!(
        matches!(e, CaptureError::TruncatedRecord { offset, wanted, available: 40, .. }
            if offset == start3 as u64 && wanted == caplen3 as u64),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!("capture x.pcap: truncated record at byte {start3}: header says {caplen3} bytes, 40 left")
    );
    // Cut inside packet 3's record header.
    let cut = full[..start3 + 7].to_vec();
    let (pkts, err) = read_bytes(cut);
    assert_eq!(pkts.len(), 3);
    assert!(matches!(err, Some(CaptureError::TruncatedHeader { offset, .. }) if offset == start3 as u64), "{err:?}");
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

#[test]
fn gzip_in_memory_and_truncated_gzip() {
    let d: Vec<Vec<u8>> = (0..2000).map(|i| payload(i % 700 + 40, i as u8)).collect();
    let pk: Vec<(u32, u32, u32, &[u8])> = d.iter().map(|x| (5, 0, x.len() as u32, x.as_slice())).collect();
    let plain = pcap_file(false, false, 65535, 1, &pk);
    let gz = gzip_bytes(&plain);
    let (want, err) = read_bytes(plain.clone());
    assert!(err.is_none());
    let r = from_bytes("x.pcap.gz", gz.clone()).expect("open");
    let (got, err, r) = collect(r);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, want);
    assert_eq!(r.offset(), plain.len() as u64);
    assert_eq!(r.file_offset(), gz.len() as u64);

    // Cut the compressed file in half: the packets before are delivered, then a Gzip error
    // at the start of the record being read.
    let cut = gz[..gz.len() / 2].to_vec();
    let (got, err) = read_bytes(cut);
    assert!(!got.is_empty() && got.len() < want.len());
    assert_eq!(got[..], want[..got.len()]);
    let recs = le_pcap_records(&plain);
    let e = err.expect("error");
    assert!(matches!(e, CaptureError::Gzip { offset, .. } if offset == recs[got.len()].0 as u64), "{e:?}");
    // A gzip header followed by garbage fails at offset 0.
    let mut bad = gz[..10].to_vec();
    bad.extend([0xff; 64]);
    let e = from_bytes("bad.gz", bad).err().expect("error");
    assert!(matches!(e, CaptureError::Gzip { offset: 0, .. }), "{e:?}");
}

// ------------------------------------------------------ synthetic pcapng

#[test]
fn pcapng_sections_interfaces_resolutions_and_skipped_blocks() {
    let a = payload(60, 1);
    let b = payload(70, 2);
    let c = payload(80, 3);
    // Section 1, big-endian.
    let mut s1 = Ng::new(true);
    s1.idb(1, 0, Some(0x80 | 20), Some(1000)); // 2^-20 s, +1000 s
    s1.idb(101, 64, None, None); // µs, snaplen 64
    s1.block(4, &[0; 8]); // NRB
    s1.epb(0, (5 << 20) | (1 << 19), 60, &a); // 5.5 s
    s1.block(5, &[0; 12]); // ISB
    s1.block(0x0BAD, &[0; 8]); // custom
    s1.block(0x1234, &[0; 4]); // unknown
    s1.spb(100, &a); // 60 bytes of 100
    s1.packet(2, 1, 1_500_000, 70, &b); // obsolete PB, interface 1, caplen 70 > snaplen 64
    // Section 2, little-endian.
    let mut s2 = Ng::new(false);
    s2.idb(113, 262_144, Some(9), None);
    s2.idb(229, 0, Some(3), Some(-10)); // ms, -10 s
    s2.block(0x0A, &[0; 8]); // DSB
    s2.epb(0, 1_700_000_000_123_456_789, 80, &c);
    s2.epb(1, 1234, 80, &c); // 1.234 s - 10 s: clamps to 0
    s2.epb(1, 20_000, 40, &c[..50]); // 20 s - 10 s; caplen 50 > orig 40
    let mut file = s1.out.clone();
    file.extend(&s2.out);
    let len = file.len() as u64;
    let r = from_bytes("mem", file).expect("open");
    assert_eq!(r.format(), CaptureFormat::PcapNg);
    let (pkts, err, r) = collect(r);
    assert!(err.is_none(), "{err:?}");
    let view: Vec<(u64, LinkType, u32, u32, usize)> =
        pkts.iter().map(|p| (p.ts_ns, p.link, p.interface, p.orig_len, p.data.len())).collect();
    assert_eq!(
        view,
        vec![
            (1_005_500_000_000, LinkType::Ethernet, 0, 60, 60),
            (0, LinkType::Ethernet, 0, 100, 60),
            (1_500_000_000, LinkType::Raw, 1, 70, 70),
            (1_700_000_000_123_456_789, LinkType::LinuxSll, 2, 80, 80),
            (0, LinkType::Ipv6, 3, 80, 80),
            (10_000_000_000, LinkType::Ipv6, 3, 40, 50),
        ]
    );
    assert_eq!(pkts[0].data, a);
    assert_eq!(pkts[2].data, b);
    assert_eq!(pkts[3].data, c);
    let w = r.warnings();
    assert_eq!(
        *w,
        CaptureWarnings {
            caplen_over_snaplen: 1,
            caplen_over_orig_len: 1,
            timestamp_fraction_out_of_range: 0,
            name_resolution_blocks: 1,
            interface_statistics_blocks: 1,
            decryption_secrets_blocks: 1,
            custom_blocks: 1,
            unknown_blocks: 1,
            bad_options: 0,
            packets_without_timestamp: 1,
        }
    );
    assert_eq!(r.offset(), len);
}

#[test]
fn pcapng_spb_caplen_is_min_of_orig_body_snaplen() {
    let d = payload(200, 5);
    let mut ng = Ng::new(false);
    ng.idb(1, 128, None, None);
    ng.spb(50, &d[..52]); // orig 50 < body 52
    ng.spb(300, &d); // snaplen 128 < body 200 < orig 300
    ng.spb(300, &d[..100]); // body 100
    let (pkts, err) = read_bytes(ng.out);
    assert!(err.is_none());
    let lens: Vec<usize> = pkts.iter().map(|p| p.data.len()).collect();
    assert_eq!(lens, vec![50, 128, 100]);
    assert_eq!(pkts[1].data, d[..128]);
}

#[test]
fn pcapng_malformed_options_are_a_warning() {
    let mut ng = Ng::new(false);
    // IDB whose option claims 200 bytes.
    let mut body = Vec::new();
    body.extend(1u16.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend(0u32.to_le_bytes());
    body.extend(2u16.to_le_bytes());
    body.extend(200u16.to_le_bytes());
    ng.block(1, &body);
    ng.epb(0, 7, 4, &[1, 2, 3, 4]);
    let r = from_bytes("mem", ng.out).expect("open");
    let (pkts, err, r) = collect(r);
    assert!(err.is_none());
    assert_eq!(pkts[0].ts_ns, 7_000);
    assert_eq!(r.warnings().bad_options, 1);
}

/// Appends raw bytes to a one-interface little-endian pcapng and reads it.
fn ng_with(big_tail: impl FnOnce(&mut Ng) -> usize) -> (Vec<Pkt>, Option<CaptureError>, u64) {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None);
    ng.epb(0, 1, 4, &[9, 9, 9, 9]);
    let at = big_tail(&mut ng) as u64;
    let (p, e) = read_bytes(ng.out);
    (p, e, at)
}

fn raw_block(ng: &mut Ng, btype: u32, len: u32, body: &[u8], trailer: u32) -> usize {
    let at = ng.out.len();
    ng.out.extend(btype.to_le_bytes());
    ng.out.extend(len.to_le_bytes());
    ng.out.extend(body);
    ng.out.extend(trailer.to_le_bytes());
    at
}

/// Appends a bad block to a valid file; returns the block's offset.
type Tail = Box<dyn FnOnce(&mut Ng) -> usize>;

#[test]
fn pcapng_bad_blocks() {
    let cases: Vec<(&str, Tail)> = vec![
        ("block length below 12", Box::new(|ng| raw_block(ng, 6, 8, &[], 8))),
        ("block length not a multiple of 4", Box::new(|ng| raw_block(ng, 6, 14, &[0, 0], 14))),
        ("trailing block length differs from leading one", Box::new(|ng| raw_block(ng, 4, 16, &[0; 4], 20))),
        ("interface id out of range", Box::new(|ng| ng.epb(5, 1, 4, &[1, 2, 3, 4]))),
        (
            "packet data runs past the end of its block",
            Box::new(|ng| {
                let at = ng.epb(0, 1, 4, &[1, 2, 3, 4]);
                ng.out[at + 8 + 12] = 200; // caplen 200 in a 4-byte block
                at
            }),
        ),
        (
            "unknown byte-order magic in section header",
            Box::new(|ng| {
                let at = ng.out.len();
                let mut s = Ng::new(false);
                s.out[8] = 0x55;
                ng.out.extend(s.out);
                at
            }),
        ),
        (
            "unsupported pcapng major version",
            Box::new(|ng| {
                let at = ng.out.len();
                let mut s = Ng::new(false);
                s.out[12] = 2;
                ng.out.extend(s.out);
                at
            }),
        ),
    ];
    for (want, build) in cases {
        let (pkts, err, at) = ng_with(build);
        assert_eq!(pkts.len(), 1, "{want}");
        assert!(
            matches!(&err, Some(CaptureError::BadBlock { offset, reason, .. }) if *offset == at && *reason == want),
            "{want}: {err:?}"
        );
    }
    // A packet before any interface.
    let mut ng = Ng::new(true);
    let at = ng.epb(0, 1, 4, &[1, 2, 3, 4]) as u64;
    let (_, err) = read_bytes(ng.out);
    assert!(
        matches!(&err, Some(CaptureError::BadBlock { offset, reason, .. })
            if *offset == at && *reason == "packet before any interface description block"),
        "{err:?}"
    );
    // A bad byte-order magic in the first section fails at open.
    let mut ng = Ng::new(false);
    ng.out[9] = 0;
    let e = from_bytes("x", ng.out).err().expect("error");
    assert!(matches!(e, CaptureError::BadBlock { offset: 0, .. }), "{e:?}");
}

#[test]
fn pcapng_absurd_and_truncated_blocks() {
    let (pkts, err, at) = ng_with(|ng| raw_block(ng, 6, 32 << 20, &[0; 64], 0));
    assert_eq!(pkts.len(), 1);
    assert!(
        matches!(err, Some(CaptureError::AbsurdLength { offset, len, limit, .. })
            if offset == at && len == 32 << 20 && limit == 16 << 20),
        "{err:?}"
    );
    // Cut in the middle of a block.
    let (pkts, err, at) = ng_with(|ng| {
        let at = ng.epb(0, 1, 100, &[7; 100]);
        ng.out.truncate(at + 50);
        at
    });
    assert_eq!(pkts.len(), 1);
    assert!(
        matches!(err, Some(CaptureError::TruncatedRecord { offset, wanted: 132, available: 50, .. }) if offset == at),
        "{err:?}"
    );
    // Cut inside a block header.
    let (pkts, err, at) = ng_with(|ng| {
        let at = ng.epb(0, 1, 100, &[7; 100]);
        ng.out.truncate(at + 5);
        at
    });
    assert_eq!(pkts.len(), 1);
    assert!(matches!(err, Some(CaptureError::TruncatedHeader { offset, .. }) if offset == at), "{err:?}");
}

// ------------------------------------------------------ real data: oracle

/// What capinfos says about a file.
enum Oracle {
    Ok { count: u64, first: String, last: String },
    Failed { after: u64, message: String },
}

fn capinfos(path: &Path) -> Oracle {
    let out =
        Command::new("capinfos").args(["-T", "-r", "-c", "-a", "-e", "-S"]).arg(path).output().expect("run capinfos");
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).into_owned();
        let after = message
            .split("after reading ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return Oracle::Failed { after, message };
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.trim_end().rsplitn(4, '\t').collect();
    assert_eq!(fields.len(), 4, "capinfos output: {text}");
    Oracle::Ok {
        count: fields[2].trim().parse().expect("count"),
        first: fields[1].trim().to_owned(),
        last: fields[0].trim().to_owned(),
    }
}

/// Nanoseconds for capinfos' "secs.frac", printed at the file's precision; `None` when
/// capinfos cannot show the time (a negative fraction from a bad nanosecond field).
fn capinfos_ns(s: &str, format: CaptureFormat) -> Option<u64> {
    let (secs, frac) = s.split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    let f: u64 = frac.parse().ok()?;
    let scale = match format {
        CaptureFormat::Pcap { nanos: true, .. } => 1,
        CaptureFormat::Pcap { nanos: false, .. } => 1_000,
        CaptureFormat::PcapNg => 10u64.pow(9u32.checked_sub(frac.len() as u32)?),
    };
    Some(secs * 1_000_000_000 + f * scale)
}

/// capinfos' (Wireshark 4.0) `nstime_cmp`: the seconds' difference is truncated to a 32-bit
/// int, so for timestamps more than 2^31 s apart its "earliest" and "latest" are not the
/// minimum and maximum. Reducing our timestamps with the same comparison checks each of them.
fn capinfos_cmp(a: u64, b: u64) -> i64 {
    let (sa, sb) = (a / 1_000_000_000, b / 1_000_000_000);
    if sa == sb {
        (a % 1_000_000_000) as i64 - (b % 1_000_000_000) as i64
    } else {
        i64::from(sa.wrapping_sub(sb) as i32)
    }
}

/// Count, capinfos-style earliest and latest timestamps, format and error of a file, read
/// with the reader.
struct Summary {
    count: u64,
    min: u64,
    max: u64,
    format: Option<CaptureFormat>,
    error: Option<CaptureError>,
}

fn summarize(path: &Path) -> Summary {
    let mut s = Summary { count: 0, min: 0, max: 0, format: None, error: None };
    let mut r = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            s.error = Some(e);
            return s;
        }
    };
    s.format = Some(r.format());
    loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                if s.count == 0 {
                    (s.min, s.max) = (p.ts_ns, p.ts_ns);
                }
                if capinfos_cmp(p.ts_ns, s.min) < 0 {
                    s.min = p.ts_ns;
                }
                if capinfos_cmp(p.ts_ns, s.max) > 0 {
                    s.max = p.ts_ns;
                }
                s.count += 1;
            }
            Ok(None) => break,
            Err(e) => {
                s.error = Some(e);
                break;
            }
        }
    }
    assert!(matches!(r.next_packet(), Ok(None)));
    s
}

/// Files where the reader knowingly disagrees with capinfos, with the error it gives.
fn known_divergence(path: &Path) -> Option<fn(&CaptureError) -> bool> {
    // snaplen 2164523008 in the header: Wireshark (and libpcap) accept it, the reader's
    // documented rule rejects a snaplen above 16 MiB.
    if path.ends_with("malformed/lisp_invalid_length.pcap") {
        return Some(|e| matches!(e, CaptureError::AbsurdLength { offset: 16, .. }));
    }
    None
}

/// Files whose timestamps knowingly differ from Wireshark's.
fn known_time_divergence(path: &Path) -> bool {
    // A µs field of 0x80000000: Wireshark multiplies it by 1000 in 32 bits (giving 0); the
    // reader adds the 2147 s it says, as libpcap's struct timeval does.
    path.ends_with("malformed/timestamp_invalid_micro.pcap")
}

/// Compares every file with capinfos; returns (files compared, capinfos errors matched).
fn compare_with_capinfos(files: &[PathBuf]) -> (usize, usize) {
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut errors = 0;
    for f in files {
        let ours = summarize(f);
        if let Some(check) = known_divergence(f) {
            assert!(ours.error.as_ref().is_some_and(check), "{}: {:?}", f.display(), ours.error);
            continue;
        }
        compared += 1;
        match capinfos(f) {
            Oracle::Ok { count, first, last } => {
                if let Some(e) = &ours.error {
                    failures.push(format!("{}: capinfos reads it, we fail: {e}", f.display()));
                    continue;
                }
                if ours.count != count {
                    failures.push(format!("{}: {} packets, capinfos {count}", f.display(), ours.count));
                }
                let Some(format) = ours.format else { continue };
                if count == 0 || known_time_divergence(f) {
                    continue;
                }
                let (Some(lo), Some(hi)) = (capinfos_ns(&first, format), capinfos_ns(&last, format)) else {
                    continue; // capinfos cannot print it (negative fraction)
                };
                if (ours.min, ours.max) != (lo, hi) {
                    failures.push(format!(
                        "{}: times {}..{}, capinfos {first}..{last}",
                        f.display(),
                        ours.min,
                        ours.max
                    ));
                }
            }
            Oracle::Failed { after, message } => {
                errors += 1;
                match &ours.error {
                    Some(e) if e.offset().is_some() && ours.count == after => {}
                    other => failures.push(format!(
                        "{}: capinfos failed after {after} ({}), we read {} then {other:?}",
                        f.display(),
                        message.trim(),
                        ours.count
                    )),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    (compared, errors)
}

#[test]
fn shared_pcaps_match_capinfos() {
    let Some(dir) = setup(&["capinfos"]) else {
        return;
    };
    let files = captures_under(&dir.join("pcaps"));
    assert!(files.len() > 250, "only {} captures found", files.len());
    let (n, e) = compare_with_capinfos(&files);
    eprintln!("pcaps: {n} files agree with capinfos ({e} that capinfos rejects)");
}

#[test]
fn suricata_verify_pcaps_match_capinfos() {
    let Some(dir) = setup(&["capinfos"]) else {
        return;
    };
    let files: Vec<PathBuf> = captures_under(&dir.join("suricata-verify/tests"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    if files.is_empty() {
        eprintln!("skipped: no suricata-verify captures");
        return;
    }
    let (n, e) = compare_with_capinfos(&files);
    assert!(e >= 1, "the known damaged suricata-verify captures were not seen");
    eprintln!("suricata-verify: {n} files agree with capinfos ({e} that capinfos rejects)");
}

/// Every timestamp and length of a file, from tshark.
fn tshark_frames(path: &Path) -> Vec<(u64, u32, usize)> {
    let out = Command::new("tshark")
        .args(["-n", "-T", "fields", "-e", "frame.time_epoch"])
        .args(["-e", "frame.len", "-e", "frame.cap_len", "-r"])
        .arg(path)
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark failed on {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (s, frac) = f[0].split_once('.').expect("time");
            assert!(frac.len() >= 9, "{l}"); // nanoseconds as %09d
            let ts = s.parse::<u64>().expect("secs") * 1_000_000_000 + frac.parse::<u64>().expect("frac");
            (ts, f[1].parse().expect("len"), f[2].parse().expect("caplen"))
        })
        .collect()
}

#[test]
fn every_timestamp_matches_tshark() {
    let Some(dir) = setup(&["tshark"]) else {
        return;
    };
    let p = dir.join("pcaps");
    let files = [
        "normal/ndpi-nfsv3.pcap",                        // big-endian
        "scans/ndpi-tcp_scan.pcapng",                    // actually a classic pcap
        "c2-and-tunnels/ndpi-tls_malicious_sha1.pcapng", // pcapng, ns resolution
        "malformed/smb_data_print-oobr.pcapng",          // pcapng, µs
        "c2-and-tunnels/ndpi-dns2tcp_tunnel.pcap",       // Linux SLL
        "c2-and-tunnels/zeek-tunnels-socks.pcap",        // BSD loopback
        "bruteforce/zeek-ldap-ldap_invalid_credentials.pcap",
    ];
    for f in files {
        let path = p.join(f);
        let (pkts, err, _) = read_path(&path);
        assert!(err.is_none(), "{f}: {err:?}");
        let ours: Vec<(u64, u32, usize)> = pkts.iter().map(|p| (p.ts_ns, p.orig_len, p.data.len())).collect();
        assert_eq!(ours, tshark_frames(&path), "{f}");
    }
    let (pkts, _, r) = read_path(&p.join("c2-and-tunnels/ndpi-dns2tcp_tunnel.pcap"));
    assert!(pkts.iter().all(|p| p.link == LinkType::LinuxSll));
    assert_eq!(r.format(), CaptureFormat::Pcap { nanos: false, swapped: false });
    let (pkts, _, r) = read_path(&p.join("c2-and-tunnels/zeek-tunnels-socks.pcap"));
    assert!(pkts.iter().all(|p| p.link == LinkType::Null));
    let _ = r;
    let (_, _, r) = read_path(&p.join("normal/ndpi-nfsv3.pcap"));
    assert_eq!(r.format(), CaptureFormat::Pcap { nanos: false, swapped: true });
    let (_, _, r) = read_path(&p.join("scans/ndpi-tcp_scan.pcapng"));
    assert_eq!(r.format(), CaptureFormat::Pcap { nanos: false, swapped: false });
}

/// Same packets, ignoring the interface number.
fn same_packets(a: &[Pkt], b: &[Pkt]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.ts_ns, x.link, x.orig_len, &x.data) == (y.ts_ns, y.link, y.orig_len, &y.data))
}

#[test]
fn conversions_give_identical_packets() {
    let Some(dir) = setup(&["editcap", "gzip"]) else {
        return;
    };
    let tmp = Scratch::new("conv");
    let all = captures_under(&dir.join("pcaps"));
    // Every 12th capture outside malformed/ (whose odd fields editcap rewrites), plus
    // named ones in each format.
    let mut files: Vec<PathBuf> =
        all.iter().filter(|p| !p.to_string_lossy().contains("/malformed/")).step_by(12).cloned().collect();
    for f in [
        "normal/ndpi-nfsv3.pcap",
        "scans/ndpi-tcp_scan.pcapng",
        "c2-and-tunnels/ndpi-tls_malicious_sha1.pcapng",
        "normal/ndpi-ocsp.pcapng",
        "c2-and-tunnels/ndpi-dns2tcp_tunnel.pcap",
    ] {
        files.push(dir.join("pcaps").join(f));
    }
    let mut checked = 0;
    for (i, f) in files.iter().enumerate() {
        let (orig, err, r) = read_path(f);
        assert!(err.is_none(), "{}: {err:?}", f.display());
        let micro_exact = orig.iter().all(|p| p.ts_ns % 1_000 == 0);
        let mut outputs = vec![("pcapng", "pcapng"), ("nsecpcap", "pcap")];
        if micro_exact {
            outputs.push(("pcap", "pcap"));
        }
        for (fmt, ext) in outputs {
            let out = tmp.path(&format!("{i}-{fmt}.{ext}"));
            run(Command::new("editcap").args(["-F", fmt]).arg(f).arg(&out));
            let (conv, err, r2) = read_path(&out);
            assert!(err.is_none(), "{fmt} of {}: {err:?}", f.display());
            assert!(same_packets(&orig, &conv), "editcap -F {fmt} of {} differs", f.display());
            let want = match fmt {
                "pcapng" => CaptureFormat::PcapNg,
                "nsecpcap" => CaptureFormat::Pcap { nanos: true, swapped: false },
                _ => CaptureFormat::Pcap { nanos: false, swapped: false },
            };
            assert_eq!(r2.format(), want);
            std::fs::remove_file(&out).ok();
        }
        let gz = tmp.path(&format!("{i}.gz"));
        let bytes = Command::new("gzip").arg("-c").arg(f).output().expect("gzip");
        assert!(bytes.status.success());
        std::fs::write(&gz, &bytes.stdout).expect("write");
        let (unz, err, r3) = read_path(&gz);
        assert!(err.is_none(), "gzip of {}: {err:?}", f.display());
        assert_eq!(unz, orig, "gzip of {}", f.display());
        assert_eq!(r3.format(), r.format());
        assert_eq!(r3.offset(), std::fs::metadata(f).expect("meta").len());
        assert_eq!(r3.file_len(), Some(bytes.stdout.len() as u64));
        assert_eq!(r3.file_offset(), bytes.stdout.len() as u64);
        std::fs::remove_file(&gz).ok();
        checked += 1;
    }
    eprintln!("conversions: {checked} captures x (pcapng, nsecpcap, pcap when exact, gzip)");
}

#[test]
fn big_endian_pcap_by_swapping_a_real_one() {
    let Some(dir) = setup(&[]) else {
        return;
    };
    let path = dir.join("pcaps/bruteforce/zeek-ldap-ldap_invalid_credentials.pcap");
    let le = std::fs::read(&path).expect("read");
    assert_eq!(le[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
    let mut be = le.clone();
    let swap = |b: &mut Vec<u8>, at: usize, n: usize| b[at..at + n].reverse();
    swap(&mut be, 0, 4);
    swap(&mut be, 4, 2);
    swap(&mut be, 6, 2);
    for at in [8, 12, 16, 20] {
        swap(&mut be, at, 4);
    }
    for (off, _) in le_pcap_records(&le) {
        for k in 0..4 {
            swap(&mut be, off + 4 * k, 4);
        }
    }
    let (want, _, _) = read_path(&path);
    let r = from_bytes("be", be).expect("open");
    assert_eq!(r.format(), CaptureFormat::Pcap { nanos: false, swapped: true });
    let (got, err, _) = collect(r);
    assert!(err.is_none());
    assert!(want.len() > 10);
    assert_eq!(got, want);
}

#[test]
fn truncated_real_pcap_and_pcapng() {
    let Some(dir) = setup(&[]) else {
        return;
    };
    // Classic: cut 5 bytes into the data of the middle record.
    let path = dir.join("pcaps/normal/ndpi-ftp.pcap");
    let bytes = std::fs::read(&path).expect("read");
    let (all, _, _) = read_path(&path);
    let recs = le_pcap_records(&bytes);
    let k = recs.len() / 2;
    let (start, caplen) = recs[k];
    let (pkts, err) = read_bytes(bytes[..start + 16 + 5].to_vec());
    assert_eq!(pkts[..], all[..k]);
    assert!(
        matches!(err, Some(CaptureError::TruncatedRecord { offset, wanted, available: 5, .. })
            if offset == start as u64 && wanted == caplen as u64),
        "{err:?}"
    );
    // pcapng (little-endian): walk the blocks, cut inside the 10th block.
    let path = dir.join("pcaps/normal/ndpi-ocsp.pcapng");
    let bytes = std::fs::read(&path).expect("read");
    let (all, _, _) = read_path(&path);
    let mut off = 0;
    let mut packets_before = 0;
    for _ in 0..9 {
        let btype = u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4"));
        packets_before += usize::from(btype == 6);
        off += u32::from_le_bytes(bytes[off + 4..off + 8].try_into().expect("4")) as usize;
    }
    let len10 = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().expect("4"));
    let (pkts, err) = read_bytes(bytes[..off + 30].to_vec());
    assert_eq!(pkts[..], all[..packets_before]);
    assert!(
        matches!(err, Some(CaptureError::TruncatedRecord { offset, wanted, available: 30, .. })
            if offset == off as u64 && wanted == u64::from(len10)),
        "{err:?}"
    );
}

#[test]
fn mixed_link_types_from_mergecap() {
    let Some(dir) = setup(&["mergecap"]) else {
        return;
    };
    let tmp = Scratch::new("merge");
    let eth = dir.join("pcaps/normal/ndpi-ftp.pcap");
    let sll = dir.join("pcaps/c2-and-tunnels/ndpi-dns2tcp_tunnel.pcap");
    let out = tmp.path("mixed.pcapng");
    run(Command::new("mergecap").args(["-F", "pcapng", "-w"]).arg(&out).arg(&eth).arg(&sll));
    let (e, _, _) = read_path(&eth);
    let (s, _, _) = read_path(&sll);
    let (m, err, r) = read_path(&out);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(r.format(), CaptureFormat::PcapNg);
    assert_eq!(m.len(), e.len() + s.len());
    let m_eth: Vec<Pkt> = m.iter().filter(|p| p.link == LinkType::Ethernet).cloned().collect();
    let m_sll: Vec<Pkt> = m.iter().filter(|p| p.link == LinkType::LinuxSll).cloned().collect();
    assert!(same_packets(&m_eth, &e));
    assert!(same_packets(&m_sll, &s));
    // One interface per link type.
    let ie = m_eth[0].interface;
    let is = m_sll[0].interface;
    assert_ne!(ie, is);
    assert!(m_eth.iter().all(|p| p.interface == ie));
    assert!(m_sll.iter().all(|p| p.interface == is));
}

#[test]
fn concatenated_pcapng_files_are_two_sections() {
    let Some(dir) = setup(&[]) else {
        return;
    };
    let a = dir.join("pcaps/c2-and-tunnels/ndpi-tls_malicious_sha1.pcapng");
    let b = dir.join("pcaps/malformed/smb_data_print-oobr.pcapng");
    let (pa, _, _) = read_path(&a);
    let (pb, _, _) = read_path(&b);
    let mut bytes = std::fs::read(&a).expect("read");
    bytes.extend(std::fs::read(&b).expect("read"));
    let (all, err) = read_bytes(bytes);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(all[..pa.len()], pa[..]);
    assert!(same_packets(&all[pa.len()..], &pb));
    // The second section's interface is numbered after the first section's one.
    assert!(all[pa.len()..].iter().all(|p| p.interface == 1));
}

// ------------------------------------------------------ robustness

/// Deterministic xorshift generator for the mutation test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_files_never_panic() {
    let d = payload(90, 7);
    let mut ng = Ng::new(false);
    ng.idb(1, 0, Some(9), Some(5));
    ng.epb(0, 123, 90, &d);
    ng.spb(90, &d);
    ng.block(4, &[0; 8]);
    let mut ng2 = Ng::new(true);
    ng2.idb(113, 64, Some(0x83), None);
    ng2.packet(2, 0, 77, 90, &d);
    ng.out.extend(ng2.out);
    let bases = [
        ng.out,
        pcap_file(false, false, 65535, 1, &[(1, 2, 90, &d), (3, 4, 90, &d)]),
        pcap_file(true, true, 64, 113, &[(1, 2, 90, &d), (3, 4, 50, &d[..50])]),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for round in 0..3000 {
        let mut f = bases[round % bases.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(f.len());
            match rng.below(4) {
                0 => f[at] = rng.next() as u8,
                1 => f[at] ^= 0x80,
                2 => f[at] = [0, 0xff, 0x0c, 0x40][rng.below(4)],
                _ => f.truncate(at),
            }
            if f.is_empty() {
                break;
            }
        }
        let len = f.len() as u64;
        let (pkts, err) = read_bytes(f);
        for p in &pkts {
            assert!(p.data.len() as u64 <= len);
        }
        if let Some(e) = err {
            assert!(e.offset().is_some_and(|o| o <= len), "{e}");
            outcomes[1] += 1;
        } else {
            outcomes[0] += 1;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
