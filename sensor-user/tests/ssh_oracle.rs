//! SSH identification lines and KEXINIT checked against tshark (`ssh.protocol`, `ssh.kex.hassh_algorithms`,
//! `ssh.kex.hasshserver_algorithms`) on real streams (tests/fixtures/ssh_*.tsv, see gen_tcp.py) and
//! against suricata-verify's ssh-* expectations; plus line-handling edge cases.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{Table, hex, split_list};
use sensor_user::packet::Direction;
use sensor_user::packet::app::ssh::{SshBanner, SshError, SshState, looks_like_ssh};

const SEGMENTS: &str = include_str!("fixtures/ssh_segments.tsv");
const ORACLE: &str = include_str!("fixtures/ssh_oracle.tsv");

type Segs = Vec<(Direction, Vec<u8>)>;

fn streams() -> Vec<((String, String), Segs)> {
    let t = Table::parse(SEGMENTS);
    let mut out: Vec<((String, String), Segs)> = Vec::new();
    for r in &t.rows {
        let key = (t.cell(r, "source").to_string(), t.cell(r, "stream").to_string());
        let dir = if t.cell(r, "dir") == "C" { Direction::ToServer } else { Direction::ToClient };
        let seg = (dir, hex(t.cell(r, "hex")));
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(seg),
            None => out.push((key, vec![seg])),
        }
    }
    out
}

/// Feeds segments in pieces of at most `piece` bytes (0: whole); returns the state and how many
/// feed calls returned true per direction.
fn run(segs: &Segs, piece: usize) -> (SshState, [usize; 2]) {
    let mut st = SshState::new();
    let mut done = [0, 0];
    for (dir, bytes) in segs {
        let size = if piece == 0 { bytes.len() } else { piece };
        for chunk in bytes.chunks(size) {
            if st.feed(*dir, chunk) {
                done[usize::from(*dir == Direction::ToClient)] += 1;
            }
        }
    }
    (st, done)
}

/// The line as tshark shows it in `ssh.protocol`.
fn line(b: &SshBanner) -> String {
    let mut s = format!("SSH-{}-{}", b.proto_version, b.software_version);
    if let Some(c) = &b.comment {
        s.push(' ');
        s.push_str(c);
    }
    s
}

#[test]
fn banners_and_kexinit_match_tshark() {
    let t = Table::parse(ORACLE);
    let all = streams();
    let mut compared = 0;
    for row in &t.rows {
        let key = (t.cell(row, "source").to_string(), t.cell(row, "stream").to_string());
        let segs = &all.iter().find(|(k, _)| *k == key).expect("segments for oracle row").1;
        let (st, done) = run(segs, 0);
        assert_eq!(done, [1, 1], "{key:?}");
        for piece in [1, 5, 64] {
            let (other, d) = run(segs, piece);
            assert_eq!((other.client(), other.server(), d), (st.client(), st.server(), done), "{key:?} /{piece}");
            assert_eq!((other.client_kexinit(), other.server_kexinit()), (st.client_kexinit(), st.server_kexinit()));
        }
        assert_eq!(st.client().map(line).as_deref(), Some(t.cell(row, "client_protocol")), "{key:?}");
        assert_eq!(st.server().map(line).as_deref(), Some(t.cell(row, "server_protocol")), "{key:?}");
        compared += 2;
        for (ours, col) in [
            (st.client_kexinit().map(|k| k.hassh_string()), "hassh_algorithms"),
            (st.server_kexinit().map(|k| k.hassh_server_string()), "hasshserver_algorithms"),
        ] {
            let theirs = split_list(t.cell(row, col)).join(",");
            if theirs.is_empty() {
                // tshark saw no KEXINIT (ssh-banner-only stops after the lines).
                assert_eq!(ours, None, "{key:?} {col}");
            } else {
                assert_eq!(ours.as_deref(), Some(theirs.as_str()), "{key:?} {col}");
                compared += 1;
            }
        }
        assert_eq!((st.error(Direction::ToServer), st.error(Direction::ToClient)), (None, None));
    }
    assert_eq!(t.rows.len(), 9);
    assert_eq!(compared, 9 * 2 + 8 * 2);
}

fn stream(source: &str) -> Segs {
    streams().into_iter().find(|((s, _), _)| s == source).expect("stream").1
}

/// suricata-verify ssh-banner-only / ssh-hassh: proto and software versions of both sides.
#[test]
fn suricata_verify_banner_only_and_hassh() {
    for source in ["sv-ssh-banner-only", "sv-ssh-hassh"] {
        let (st, _) = run(&stream(source), 0);
        let (c, s) = (st.client().expect("client"), st.server().expect("server"));
        assert_eq!((c.proto_version.as_str(), c.software_version.as_str()), ("2.0", "OpenSSH_for_Windows_7.7"));
        assert_eq!((s.proto_version.as_str(), s.software_version.as_str()), ("2.0", "OpenSSH_7.4"));
    }
}

/// suricata-verify ssh-hassh-reassembled: client 1.99 with a KEXINIT split over segments; Suricata
/// gives the same HASSH and HASSH-server (3cc67862...), so both input strings must be equal.
#[test]
fn suricata_verify_hassh_reassembled() {
    let (st, _) = run(&stream("sv-ssh-hassh-reassembled"), 0);
    assert_eq!(st.client().map(|b| b.proto_version.as_str()), Some("1.99"));
    assert_eq!(st.client().map(|b| b.software_version.as_str()), Some("Cisco-1.25"));
    let c = st.client_kexinit().expect("client kexinit").hassh_string();
    let s = st.server_kexinit().expect("server kexinit").hassh_server_string();
    assert_eq!(c, s);
    assert_eq!(
        c,
        "diffie-hellman-group1-sha1;aes128-cbc,3des-cbc,aes192-cbc,aes256-cbc;hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96;none"
    );
}

#[test]
fn server_pre_banner_lines_and_bare_lf() {
    let mut st = SshState::new();
    assert!(!st.feed(Direction::ToClient, b"Welcome\r\nS"));
    assert!(!st.feed(Direction::ToClient, b"orry, a line that is longer than 255 bytes is fine here: "));
    assert!(!st.feed(Direction::ToClient, &[b'x'; 400]));
    assert!(!st.feed(Direction::ToClient, b"\nSS"));
    assert!(st.feed(Direction::ToClient, b"H-2.0-srv_1.0 hello world\n\x00\x00"));
    let b = st.server().expect("banner");
    assert_eq!((b.proto_version.as_str(), b.software_version.as_str()), ("2.0", "srv_1.0"));
    assert_eq!(b.comment.as_deref(), Some("hello world"));
    assert!(!st.feed(Direction::ToClient, b"more"));
}

#[test]
fn client_lines_must_be_the_banner() {
    let mut st = SshState::new();
    assert!(!st.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n"));
    assert_eq!(st.error(Direction::ToServer), Some(&SshError::NotSsh));
    assert!(!st.feed(Direction::ToServer, b"SSH-2.0-late\r\n"));
    assert_eq!(st.client(), None);
}

#[test]
fn overlong_banner_and_gap() {
    let mut st = SshState::new();
    let mut long = b"SSH-2.0-".to_vec();
    long.extend([b'a'; 300]);
    assert!(!st.feed(Direction::ToServer, &long));
    assert_eq!(st.error(Direction::ToServer), Some(&SshError::LineTooLong));
    st.gap(Direction::ToClient);
    assert!(!st.feed(Direction::ToClient, b"SSH-2.0-x\r\n"));
    assert_eq!(st.error(Direction::ToClient), Some(&SshError::Gap));
    assert_eq!(st.server(), None);
}

#[test]
fn ssh1_stops_after_banner_and_gap_after_banner_keeps_it() {
    let mut st = SshState::new();
    assert!(st.feed(Direction::ToClient, b"SSH-1.5-old\n\x00\x00\x01\x00garbage"));
    assert_eq!(st.server().map(|b| b.proto_version.as_str()), Some("1.5"));
    assert_eq!(st.server_kexinit(), None);
    assert!(st.feed(Direction::ToServer, b"SSH-2.0-c\r\n\x00\x00"));
    st.gap(Direction::ToServer);
    assert!(st.client().is_some());
    assert_eq!(st.error(Direction::ToServer), None);
}

#[test]
fn mutated_real_streams_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (_, segs) in streams() {
        for _ in 0..40 {
            let mut segs = segs.clone();
            for _ in 0..3 {
                let s = (rand() as usize) % segs.len();
                if segs[s].1.is_empty() {
                    continue;
                }
                let i = (rand() as usize) % segs[s].1.len();
                segs[s].1[i] = rand() as u8;
            }
            let piece = 1 + (rand() as usize) % 97;
            let _ = run(&segs, piece);
        }
    }
}

#[test]
fn detection() {
    assert!(looks_like_ssh(b"SSH-2.0-OpenSSH_9.6\r\n"));
    assert!(!looks_like_ssh(b"SSH"));
    assert!(!looks_like_ssh(b"GET / HTTP/1.1\r\n"));
}

/// A KEXINIT with different lists per direction, after an SSH_MSG_IGNORE packet.
#[test]
fn kexinit_lists_by_direction() {
    let lists = ["kex1,kex2", "ssh-ed25519", "aes-c2s", "aes-s2c", "mac-c2s", "mac-s2c", "none", "zlib", "", "en"];
    let mut payload = vec![20u8];
    payload.extend([7u8; 16]);
    for l in lists {
        payload.extend(u32::try_from(l.len()).expect("short").to_be_bytes());
        payload.extend(l.as_bytes());
    }
    payload.extend([1, 0, 0, 0, 0]);
    let packet = |payload: &[u8]| {
        let pad = 8 - (payload.len() + 5) % 8 + 4;
        let mut p = u32::try_from(payload.len() + pad + 1).expect("short").to_be_bytes().to_vec();
        p.push(u8::try_from(pad).expect("pad"));
        p.extend(payload);
        p.extend(vec![0u8; pad]);
        p
    };
    let mut data = b"SSH-2.0-x\r\n".to_vec();
    data.extend(packet(&[2, 0, 0, 0, 0]));
    data.extend(packet(&payload));
    for piece in [1, 3, data.len()] {
        let mut st = SshState::new();
        for c in data.chunks(piece) {
            st.feed(Direction::ToServer, c);
        }
        let k = st.client_kexinit().expect("kexinit");
        assert_eq!(k.hassh_string(), "kex1,kex2;aes-c2s;mac-c2s;none");
        assert_eq!(k.hassh_server_string(), "kex1,kex2;aes-s2c;mac-s2c;zlib");
        assert_eq!(
            (k.cookie, k.first_kex_packet_follows, k.languages_server_to_client.as_str()),
            ([7; 16], true, "en")
        );
    }
    // A packet length over 35000 stops the direction.
    let mut st = SshState::new();
    st.feed(Direction::ToServer, b"SSH-2.0-x\r\n\x00\x01\x00\x00\x04");
    assert_eq!(st.error(Direction::ToServer), Some(&SshError::BadPacket));
}
