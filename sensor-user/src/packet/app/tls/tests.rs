//! Tests of the TLS parser against real captures (expected values are what
//! Suricata 7.0.10 logged for the same flows) and against hostile input.

#[path = "fixtures.rs"]
mod fixtures;

use super::*;
use fixtures::Flow;

/// Decodes a hex fixture.
fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex fixture")).collect()
}

/// The flow as (direction, bytes) chunks.
fn chunks(flow: Flow) -> Vec<(Direction, Vec<u8>)> {
    flow.iter().map(|(d, h)| (*d, unhex(h))).collect()
}

/// Feeds a flow chunk by chunk (as segmented in the capture).
fn run(flow: Flow) -> (TlsState, Vec<TlsProgress>) {
    let mut st = TlsState::new();
    let progress = chunks(flow).iter().map(|(d, b)| st.feed(*d, b)).collect();
    (st, progress)
}

/// Feeds a flow one byte at a time.
fn run_bytewise(flow: Flow) -> TlsState {
    let mut st = TlsState::new();
    for (d, b) in chunks(flow) {
        for byte in b.chunks(1) {
            st.feed(d, byte);
        }
    }
    st
}

/// Feeds each direction as one big chunk, client first.
fn run_joined(flow: Flow) -> TlsState {
    let mut st = TlsState::new();
    for dir in [Direction::ToServer, Direction::ToClient] {
        let all: Vec<u8> = chunks(flow).into_iter().filter(|(d, _)| *d == dir).flat_map(|(_, b)| b).collect();
        st.feed(dir, &all);
    }
    st
}

struct Expected {
    flow: Flow,
    sni: Option<&'static str>,
    client_version: u16,
    version: u16,
    ja3: Option<(&'static str, &'static str)>,
    ja3s: (&'static str, &'static str),
    ja4: Option<&'static str>,
    alpn: &'static [&'static str],
    /// subject, issuer, serial, fingerprint, not_before, not_after
    cert: Option<[&'static str; 6]>,
}

const TOR_JA3: &str = "769,49162-49172-136-135-57-56-49167-49157-132-53-49159-49161-49169-49171-69-68-51-50-49164-49166-49154-49156-150-65-4-5-47-49160-49170-22-19-49165-49155-65279-10-255,0-11-10,1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16-17-18-19-20-21-22-23-24-25,0-1-2";

/// Expected values, as logged by Suricata 7.0.10 (`eve.json` tls events).
fn expectations() -> Vec<Expected> {
    vec![
        Expected {
            flow: fixtures::JA4_RULES,
            sni: Some("cloudflare-quic.com"),
            client_version: 0x0303,
            version: 0x0304,
            ja3: Some((
                "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513-21,29-23-24,0",
                "cd08e31494f9531f560d64c695473da9",
            )),
            ja3s: ("771,4865,51-43", "eb1d94daa7e0344597e756a1fb6e7054"),
            ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1"),
            alpn: &["h2", "http/1.1"],
            cert: None,
        },
        Expected {
            flow: fixtures::TOR,
            sni: Some("www.t3i3ru.com"),
            client_version: 0x0301,
            version: 0x0301,
            ja3: Some((TOR_JA3, "581a3c7f54555512b8cd16e87dfe165b")),
            ja3s: ("769,49171,65281-11", "184d532a16876b78846ae6a03f654890"),
            // Suricata 7.0.10 logs t10d360300_77f462745360_c2f961105e84: it keeps the
            // '_' before an empty signature algorithm list, which the FoxIO spec omits.
            ja4: Some("t10d360300_77f462745360_33a13ba74d1c"),
            alpn: &[],
            cert: Some([
                "CN=www.7d43ah2kikrabj.net",
                "CN=www.wohgpas45j6ucw.com",
                "20:59:7B:1B:F3:6C:95:15",
                "f9:1d:5f:89:8f:d8:58:1e:45:e7:9b:a6:fd:90:95:77:ff:dd:e8:1b",
                "2013-09-11T00:00:00",
                "2013-11-24T23:59:59",
            ]),
        },
        Expected {
            flow: fixtures::SSLV2_UPGRADE,
            sni: None,
            client_version: 0x0301,
            version: 0x0301,
            ja3: None,
            ja3s: ("769,57,", "9a2c6bfd476184689a786457f33ece3a"),
            ja4: None,
            alpn: &[],
            cert: Some([
                "C=US, ST=California, L=Sunnyvale, O=NetScreen Technologies, Inc., OU=Security Team, CN=sigdb.secteam.netscreen.com, Email=aturner@netscreen.com",
                "C=US, ST=California, L=Sunnyvale, O=OneSecure, Inc., OU=Fulfillment, CN=jumper.sv-staging.onesecure.com, Email=fulfillment@onesecure.com",
                "55",
                "8c:90:bd:2a:b3:ae:e6:0b:d0:ea:b7:86:b0:1a:e4:b1:cc:57:ef:22",
                "2003-03-29T00:57:44",
                "2008-03-27T00:57:44",
            ]),
        },
        Expected {
            flow: fixtures::NO_ISSUER,
            sni: None,
            client_version: 0x0303,
            version: 0x0303,
            ja3: Some((
                "771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,11-10-13172-16-22-23-13,29-23-30-25-24,0-1-2",
                "bcd93fc89dba4639942325c540ce598c",
            )),
            ja3s: ("771,49199,65281-16-11", "2de81c22ea32a57162df5cb08d4a2795"),
            ja4: Some("t12i2807h2_d943125447b4_dd0a478c1db3"),
            alpn: &["h2", "http/1.1"],
            cert: Some([
                "C=US, ST=Arizona, L=Scottsdale, streetAddress=, postalCode=6565, CN=localhost",
                "",
                "00:99:EB:86:2A:01:F8:48:DD:B2:A6:39:F2:1A:FC:03:54",
                "fa:5f:67:f7:3e:6e:24:53:e8:17:5d:7f:bc:a6:bc:20:66:fb:62:12",
                "2021-12-26T00:39:18",
                "2024-12-25T00:39:18",
            ]),
        },
        Expected {
            flow: fixtures::SUBJECT_ALT_NAME,
            sni: Some("mamzon.ru"),
            client_version: 0x0303,
            version: 0x0303,
            ja3: Some((
                "771,49192-49191-49172-49171-159-158-57-51-157-156-61-60-53-47-49196-49195-49188-49187-49162-49161-106-64-56-50-10-19,0-5-10-11-13-23-65281,23-24,0",
                "5182f54f9c6e99d117d9dde3fa2b4cff",
            )),
            ja3s: ("771,49191,0-65281-11", "0a1e44e4181198b5d2075f68539bf09e"),
            ja4: Some("t12d260700_db6bc8f7861c_595eacc76d13"),
            alpn: &[],
            cert: Some([
                "C=XX, CN=mamzon.ru, L=XX, O=XX, OU=XX, ST=XX, Email=webmaster@mamzon.ru, subjectAltName=*.mamzon.ru www.mamzon.ru",
                "C=XX, CN=mamzon.ru, L=XX, O=XX, OU=XX, ST=XX, Email=webmaster@mamzon.ru, subjectAltName=*.mamzon.ru www.mamzon.ru",
                "00:96:DF:47:0E:A5:7E:70:9D",
                "29:74:0a:40:88:5b:8a:41:ba:ab:a4:e5:af:34:53:7a:2e:1d:d8:d7",
                "2016-12-29T15:26:53",
                "2017-12-28T15:26:53",
            ]),
        },
        Expected {
            flow: fixtures::EMOTET_RESUMED,
            sni: None,
            client_version: 0x0303,
            version: 0x0303,
            ja3: Some((
                "771,49196-49195-49200-49199-49188-49187-49192-49191-49162-49161-49172-49171-157-156-61-60-53-47-10,10-11-13-35-23-65281,29-23-24,0",
                "51c64c77e60f3980eea90869b68c58a8",
            )),
            ja3s: ("771,49200,65281-23", "fd4bc6cea4877646ccd62f0792ec0b62"),
            ja4: Some("t12i190600_d83cc789557e_2dae41c691ec"),
            alpn: &[],
            cert: None,
        },
        Expected {
            flow: fixtures::DRAFT28,
            sni: Some("localhost"),
            client_version: 0x0303,
            version: 0x7f1c,
            ja3: Some((
                "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0",
                "43202faa1c8c1760d6f7f4bd9adde4ab",
            )),
            ja3s: ("771,4866,43-51", "15af977ce25de452b96affa2addb1036"),
            ja4: Some("t00d291200_723694b0fccc_aaaa04918165"),
            alpn: &[],
            cert: None,
        },
        Expected {
            flow: fixtures::DRAFT28_PSK,
            sni: Some("localhost"),
            client_version: 0x0303,
            version: 0x7f1c,
            ja3: Some((
                "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45-41,23,0",
                "d00857e0c8e7a7f35e446508c6233460",
            )),
            ja3s: ("771,4866,43-51-41", "2253c82f03b621c5144709b393fde2c9"),
            ja4: Some("t00d291300_723694b0fccc_4c6658849c25"),
            alpn: &[],
            cert: None,
        },
        Expected {
            flow: fixtures::DUPLICATE_HELLO,
            sni: Some("localhost"),
            client_version: 0x0303,
            version: 0x0304,
            // The first ClientHello (extension 43, not the 44 of the second) wins.
            ja3: Some((
                "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0",
                "43202faa1c8c1760d6f7f4bd9adde4ab",
            )),
            ja3s: ("771,4865,43-51", "f4febc55ea12b31ae17cfb7e614afda8"),
            // Suricata 7.0.10 logs t13d582400_6d6243a3a798_468664775a54: it adds the
            // ciphers and extensions of both hellos into one JA4. This is the JA4 of
            // the first hello alone (same as DRAFT28 but TLS 1.3 final).
            ja4: Some("t13d291200_723694b0fccc_aaaa04918165"),
            alpn: &[],
            cert: None,
        },
        Expected {
            flow: fixtures::TROJAN_TLS13,
            sni: Some("test.lan"),
            client_version: 0x0303,
            version: 0x0304,
            ja3: Some((
                "771,49195-49199-49196-49200-52393-52392-49161-49171-49162-49172-156-157-47-53-49170-10-4865-4866-4867,0-5-10-11-13-65281-23-16-18-43-51,29-23-24-25,0",
                "7a15285d4efc355608b304698cd7f9ab",
            )),
            ja3s: ("771,4865,43-51", "f4febc55ea12b31ae17cfb7e614afda8"),
            ja4: Some("t13d1911h2_9dc949149365_e7c285222651"),
            alpn: &["h2", "http/1.1"],
            cert: None,
        },
    ]
}

fn check(st: &TlsState, e: &Expected, how: &str) {
    let i = st.info();
    let ctx = format!("{how} {:?}", e.sni);
    assert_eq!(i.sni.as_deref(), e.sni, "{ctx} sni");
    assert_eq!(i.client_version, e.client_version, "{ctx} client_version");
    assert_eq!(i.version, Some(e.version), "{ctx} version");
    assert_eq!(i.ja3_string.as_deref().zip(i.ja3_hash.as_deref()), e.ja3, "{ctx} ja3");
    assert_eq!(i.ja3s_string.as_deref().zip(i.ja3s_hash.as_deref()), Some(e.ja3s), "{ctx} ja3s");
    assert_eq!(i.ja4.as_deref(), e.ja4, "{ctx} ja4");
    assert_eq!(i.alpn, e.alpn, "{ctx} alpn");
    let cert = i
        .cert
        .as_ref()
        .map(|c| [c.subject.as_str(), &c.issuer, &c.serial, &c.fingerprint, &c.not_before, &c.not_after]);
    assert_eq!(cert, e.cert, "{ctx} cert");
    assert!(st.handshake_done(), "{ctx} handshake_done");
    assert_eq!(st.anomalies(), &[], "{ctx} anomalies");
}

#[test]
fn real_flows_match_suricata() {
    for e in expectations() {
        let (st, _) = run(e.flow);
        check(&st, &e, "segments");
    }
}

#[test]
fn chunking_does_not_matter() {
    for e in expectations() {
        let (st, _) = run(e.flow);
        let bytewise = run_bytewise(e.flow);
        let joined = run_joined(e.flow);
        check(&bytewise, &e, "bytewise");
        check(&joined, &e, "joined");
        assert_eq!(bytewise.info(), st.info());
        assert_eq!(joined.info(), st.info());
    }
}

#[test]
fn progress_is_reported_in_order() {
    // TLS 1.3: ClientHello, then ServerHello completes the handshake.
    let (_, p) = run(fixtures::JA4_RULES);
    let reported: Vec<_> = p.into_iter().filter(|p| *p != TlsProgress::Nothing).collect();
    assert_eq!(reported, [TlsProgress::ClientHello, TlsProgress::HandshakeDone]);

    // TLS 1.0 with a certificate: the certificate completes the handshake.
    let (st, p) = run(fixtures::TOR);
    let reported: Vec<_> = p.into_iter().filter(|p| *p != TlsProgress::Nothing).collect();
    assert_eq!(reported, [TlsProgress::ClientHello, TlsProgress::HandshakeDone]);
    assert!(st.handshake_done());

    // Byte by byte every milestone gets its own call.
    let mut st = TlsState::new();
    let mut seen = Vec::new();
    for (d, b) in chunks(fixtures::TOR) {
        for byte in b.chunks(1) {
            let p = st.feed(d, byte);
            if p != TlsProgress::Nothing {
                seen.push(p);
            }
        }
    }
    assert_eq!(seen, [TlsProgress::ClientHello, TlsProgress::ServerHello, TlsProgress::HandshakeDone]);

    // Resumed TLS 1.2 (no certificate): done once both sides sent ChangeCipherSpec.
    let mut st = TlsState::new();
    let mut seen = Vec::new();
    for (d, b) in chunks(fixtures::EMOTET_RESUMED) {
        seen.push(st.feed(d, &b));
    }
    assert_eq!(seen.last(), Some(&TlsProgress::HandshakeDone));
    assert!(seen.contains(&TlsProgress::ServerHello));
}

#[test]
fn client_certificate_is_decoded() {
    let (st, _) = run(fixtures::CLIENT_AUTH_TO_SERVER);
    let cert = st.info().client_cert.as_ref().expect("client certificate");
    // Values of suricata-verify tls-client-cert-01's rule.
    assert!(cert.subject.contains("O=TLSClientAuthSampleClient"), "{}", cert.subject);
    assert!(cert.issuer.contains("O=TLSClientAuthSampleCA"), "{}", cert.issuer);
    assert_eq!(cert.fingerprint, "32:56:41:d0:6a:ff:47:cb:21:e4:89:c5:ae:2a:a2:d8:1b:c9:70:0c");
    assert_eq!(st.info().cert, None);
    assert_eq!(st.anomalies(), &[]);
}

#[test]
fn gap_stops_one_direction_and_keeps_what_was_learned() {
    let flow = chunks(fixtures::TOR);
    let mut st = TlsState::new();
    let (d, first) = &flow[0];
    assert_eq!(*d, Direction::ToServer);
    st.feed(*d, first);
    assert!(st.info().ja3_hash.is_some());
    st.gap(Direction::ToClient);
    for (d, b) in &flow[1..] {
        st.feed(*d, b);
    }
    assert!(st.info().ja3_hash.is_some());
    assert_eq!(st.info().version, None);
    assert_eq!(st.info().cert, None);
    assert!(!st.handshake_done());
    assert_eq!(st.anomalies(), &[]);
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn truncated_and_corrupted_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for e in expectations() {
        let flow = chunks(e.flow);
        // Every prefix of every chunk, fed on its own after the preceding chunks.
        for (n, (d, b)) in flow.iter().enumerate() {
            for cut in 0..=b.len() {
                let mut st = TlsState::new();
                for (d2, b2) in &flow[..n] {
                    st.feed(*d2, b2);
                }
                st.feed(*d, &b[..cut]);
                assert!(st.anomalies().len() <= MAX_ANOMALIES);
            }
        }
        // Random byte flips and random chunk sizes.
        for _ in 0..200 {
            let mut st = TlsState::new();
            for (d, b) in &flow {
                let mut b = b.clone();
                for _ in 0..(rng.next() % 4) {
                    let i = (rng.next() as usize) % b.len().max(1);
                    if let Some(x) = b.get_mut(i) {
                        *x ^= 1 << (rng.next() % 8);
                    }
                }
                let mut rest = &b[..];
                while !rest.is_empty() {
                    let n = 1 + (rng.next() as usize) % 64;
                    let (now, later) = rest.split_at(n.min(rest.len()));
                    st.feed(*d, now);
                    rest = later;
                }
            }
            assert!(st.anomalies().len() <= MAX_ANOMALIES);
        }
    }
    // Pure garbage.
    for _ in 0..500 {
        let len = (rng.next() % 300) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.next().is_multiple_of(2) && b.len() > 5 {
            b[..3].copy_from_slice(&[0x16, 0x03, 0x01]);
        }
        let mut st = TlsState::new();
        st.feed(Direction::ToServer, &b);
        st.feed(Direction::ToClient, &b);
        assert!(st.anomalies().len() <= MAX_ANOMALIES);
    }
}

#[test]
fn invalid_records_stop_the_direction() {
    let mut st = TlsState::new();
    st.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(st.anomalies(), &[TlsAnomaly::InvalidRecord]);
    assert!(st.client.stopped);
    // A valid ClientHello afterwards is ignored: the direction is stopped.
    let hello = chunks(fixtures::JA4_RULES).remove(0).1;
    st.feed(Direction::ToServer, &hello);
    assert_eq!(st.info().ja3_hash, None);

    // Oversized record.
    let mut st = TlsState::new();
    st.feed(Direction::ToClient, &[0x17, 0x03, 0x03, 0xff, 0xff]);
    assert_eq!(st.anomalies(), &[TlsAnomaly::RecordTooLarge]);
}

#[test]
fn handshake_buffer_is_bounded() {
    // A handshake message announcing 16 MiB.
    let mut st = TlsState::new();
    st.feed(Direction::ToClient, &[0x16, 0x03, 0x03, 0x00, 0x04, 0x0b, 0xff, 0xff, 0xff]);
    assert_eq!(st.anomalies(), &[TlsAnomaly::RecordTooLarge]);
    assert!(st.server.stopped && st.server.hs.capacity() == 0);

    // A 65532-byte message spread over many records: buffered up to the cap,
    // then parsed (as an undecodable certificate).
    let mut st = TlsState::new();
    let mut msg = vec![0x0b, 0x00, 0xff, 0xfc];
    msg.resize(4 + 0xfffc, 0x41);
    for rec in msg.chunks(16384) {
        let mut r = vec![0x16, 0x03, 0x03];
        r.extend_from_slice(&(rec.len() as u16).to_be_bytes());
        r.extend_from_slice(rec);
        st.feed(Direction::ToClient, &r);
        assert!(st.server.hs.len() <= MAX_HANDSHAKE_BUFFER);
    }
    assert_eq!(st.anomalies(), &[TlsAnomaly::InvalidCertificate]);
    assert!(st.server.hs.is_empty());

    // One byte more than the cap.
    let mut st = TlsState::new();
    st.feed(Direction::ToClient, &[0x16, 0x03, 0x03, 0x00, 0x04, 0x0b, 0x00, 0xff, 0xfd]);
    assert_eq!(st.anomalies(), &[TlsAnomaly::RecordTooLarge]);
}

#[test]
fn application_data_is_not_buffered() {
    let (mut st, _) = run(fixtures::EMOTET_RESUMED);
    let cap = st.client.hs.capacity();
    let mut rec = vec![0x17, 0x03, 0x03, 0x40, 0x00];
    rec.resize(5 + 0x4000, 0xaa);
    for _ in 0..64 {
        assert_eq!(st.feed(Direction::ToServer, &rec), TlsProgress::Nothing);
        assert_eq!(st.feed(Direction::ToClient, &rec), TlsProgress::Nothing);
    }
    assert_eq!(st.client.hs.capacity(), cap);
    assert!(st.client.hs.capacity() == 0 && st.server.hs.capacity() == 0);
    // Encrypted handshake records after ChangeCipherSpec are skipped, not parsed.
    st.feed(Direction::ToClient, &[0x16, 0x03, 0x03, 0x00, 0x04, 0xee, 0x00, 0x00, 0x00]);
    assert_eq!(st.anomalies(), &[]);
}

#[test]
fn malformed_hello_is_an_anomaly() {
    let mut st = TlsState::new();
    // ClientHello whose cipher list claims more bytes than the message has.
    st.feed(
        Direction::ToServer,
        &[0x16, 0x03, 0x01, 0x00, 0x29, 0x01, 0x00, 0x00, 0x25, 0x03, 0x03]
            .iter()
            .copied()
            .chain([0u8; 32])
            .chain([0x00, 0xff, 0xff])
            .collect::<Vec<_>>(),
    );
    assert_eq!(st.anomalies(), &[TlsAnomaly::InvalidHandshake]);
    assert_eq!(st.info().ja3_hash, None);
    // A ClientHello sent by the server is also an anomaly (recorded once).
    let hello = chunks(fixtures::JA4_RULES).remove(0).1;
    st.feed(Direction::ToClient, &hello);
    assert_eq!(st.anomalies(), &[TlsAnomaly::InvalidHandshake]);
}

#[test]
fn protocol_detection() {
    for e in expectations() {
        let first = chunks(e.flow).remove(0);
        assert_eq!(first.0, Direction::ToServer);
        assert!(looks_like_tls(&first.1), "{:?}", e.sni);
    }
    assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_tls(b"SSH-2.0-OpenSSH_9.6\r\n"));
    assert!(!looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0x10, 0x02])); // ServerHello
    assert!(!looks_like_tls(&[0x16, 0x03, 0x01]));
    assert!(!looks_like_tls(&[0x17, 0x03, 0x03, 0x00, 0x10, 0x01]));
    // Pure SSLv2 CLIENT-HELLO.
    assert!(looks_like_tls(&[0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15]));
}
