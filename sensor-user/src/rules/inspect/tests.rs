//! Inspection tests: expected outcomes follow Suricata 7's content inspection code
//! (detect-engine-content-inspection.c and the byte_*/isdataat/pcre match functions).

use super::super::ir::{Buffer, BufferMatch, ByteOp, ByteRead, Content, Element, NumBase, NumCmp, Pcre, Value, ValueI};
use super::*;
use crate::rules::test_alloc::thread_allocs;

fn content(p: &[u8]) -> Content {
    Content {
        pattern: p.to_vec(),
        negated: false,
        nocase: false,
        offset: None,
        depth: None,
        distance: None,
        within: None,
        startswith: false,
        endswith: false,
        fast_pattern: false,
        fast_pattern_only: false,
        fast_pattern_chop: None,
    }
}

fn c(p: &[u8]) -> Element {
    Element::Content(content(p))
}

/// Content with `distance`/`within` (None = unset).
fn rel(p: &[u8], distance: Option<i64>, within: Option<u64>) -> Element {
    Element::Content(Content { distance: distance.map(ValueI::Lit), within: within.map(Value::Lit), ..content(p) })
}

fn abs(p: &[u8], offset: Option<u64>, depth: Option<u64>) -> Element {
    Element::Content(Content { offset: offset.map(Value::Lit), depth: depth.map(Value::Lit), ..content(p) })
}

fn neg(e: Element) -> Element {
    match e {
        Element::Content(c) => Element::Content(Content { negated: true, ..c }),
        Element::Pcre(p) => Element::Pcre(Pcre { negated: true, ..p }),
        other => other,
    }
}

fn pcre(src: &str, flags: &str) -> Element {
    Element::Pcre(Pcre {
        source: src.to_string(),
        caseless: flags.contains('i'),
        dotall: flags.contains('s'),
        multiline: flags.contains('m'),
        extended: flags.contains('x'),
        anchored: flags.contains('A'),
        dollar_endonly: flags.contains('E'),
        ungreedy: flags.contains('G'),
        relative: flags.contains('R'),
        negated: false,
    })
}

fn read(nbytes: u8, offset: i64) -> ByteRead {
    ByteRead {
        nbytes,
        offset: ValueI::Lit(offset),
        relative: false,
        big_endian: true,
        base: NumBase::Binary,
        dce: false,
        bitmask: None,
    }
}

fn bt(r: ByteRead, op: ByteOp, value: u64) -> Element {
    Element::ByteTest { read: r, op, negated: false, value: Value::Lit(value) }
}

fn jump(r: ByteRead) -> Element {
    Element::ByteJump { read: r, multiplier: 1, align: false, from_beginning: false, from_end: false, post_offset: 0 }
}

fn compile(elements: Vec<Element>) -> CompiledBuffer {
    CompiledBuffer::new(&BufferMatch { buffer: Buffer::Payload, dotprefix: false, elements }).unwrap()
}

fn run_with(elements: Vec<Element>, buf: &[u8], vars: &mut [u64]) -> bool {
    let cb = compile(elements);
    let mut s = Scratch::new(cb.max_captures());
    cb.inspect(buf, vars, &mut s)
}

fn m(elements: Vec<Element>, buf: &[u8]) -> bool {
    run_with(elements, buf, &mut [0; 4])
}

#[test]
fn empty_list_matches_anything() {
    assert!(m(vec![], b""));
    assert!(m(vec![], b"abc"));
}

#[test]
fn offset_and_depth_are_absolute_depth_counts_from_offset() {
    assert!(m(vec![abs(b"abc", Some(2), Some(3))], b"xxabc"));
    assert!(!m(vec![abs(b"abc", Some(2), Some(3))], b"xxxabc"));
    assert!(!m(vec![abs(b"abc", Some(3), None)], b"xxabc"));
    assert!(m(vec![abs(b"abc", None, Some(5))], b"xxabcd"));
    assert!(!m(vec![abs(b"abc", None, Some(4))], b"xxabcd"));
    // Window beyond the buffer: clamped.
    assert!(m(vec![abs(b"abc", Some(1), Some(100))], b"xabc"));
}

#[test]
fn distance_within_relative_to_previous_match_end() {
    // "b" must start 1..=2 bytes after "a" ends: within counts from prev_end + distance.
    let e = || vec![c(b"a"), rel(b"b", Some(1), Some(2))];
    assert!(m(e(), b"a_b"));
    assert!(m(e(), b"a__b"));
    assert!(!m(e(), b"ab"));
    assert!(!m(e(), b"a___b"));
    // distance:0 = anywhere after.
    assert!(m(vec![c(b"ab"), rel(b"cd", Some(0), None)], b"ab....cd"));
    assert!(!m(vec![c(b"cd"), rel(b"ab", Some(0), None)], b"ab....cd"));
}

#[test]
fn negative_distance_and_clamping() {
    // "bc" may start one byte before the end of "abc"... i.e. overlap.
    assert!(m(vec![c(b"abc"), rel(b"bc", Some(-2), Some(2))], b"xabcx"));
    assert!(!m(vec![c(b"abc"), rel(b"ab", Some(-2), Some(2))], b"xabcx"));
    // A negative distance reaching before the buffer start clamps to 0.
    assert!(m(vec![c(b"b"), rel(b"a", Some(-10), None)], b"ab"));
}

#[test]
fn within_retries_previous_content_at_next_occurrence() {
    assert!(m(vec![c(b"a"), rel(b"b", None, Some(1))], b"aXab"));
    assert!(!m(vec![c(b"a"), rel(b"b", None, Some(1))], b"aXaXb"));
    // Chains of three retry transitively.
    assert!(m(vec![c(b"a"), rel(b"b", None, Some(1)), rel(b"c", None, Some(1))], b"abXabc"));
}

#[test]
fn negated_relative_content_retries_previous_occurrence() {
    // First "a" is followed by "b" somewhere; the second is not.
    assert!(m(vec![c(b"a"), neg(rel(b"b", Some(0), None))], b"abXa"));
    assert!(!m(vec![c(b"a"), neg(rel(b"b", Some(0), None))], b"abXab"));
}

#[test]
fn negated_content() {
    assert!(m(vec![neg(c(b"evil"))], b"good"));
    assert!(!m(vec![neg(c(b"evil"))], b"so evil"));
    // Negated with a window: only absent inside it.
    assert!(m(vec![neg(abs(b"evil", None, Some(4)))], b"so evil"));
    // Negated relative uses the previous match end, and does not move the cursor.
    let e = || vec![c(b"GET"), neg(rel(b"X", Some(0), Some(2))), rel(b" /", Some(0), Some(2))];
    assert!(m(e(), b"GET /"));
    assert!(!m(e(), b"GETX /"));
}

#[test]
fn startswith_and_endswith() {
    let sw = |p: &[u8]| {
        Element::Content(Content {
            startswith: true,
            depth: Some(Value::Lit(p.len() as u64)),
            offset: Some(Value::Lit(0)),
            ..content(p)
        })
    };
    let ew = |p: &[u8]| Element::Content(Content { endswith: true, ..content(p) });
    assert!(m(vec![sw(b"GET")], b"GET /"));
    assert!(!m(vec![sw(b"GET")], b" GET /"));
    assert!(m(vec![ew(b".exe")], b"a.exe"));
    assert!(!m(vec![ew(b".exe")], b"a.exe "));
    // An occurrence not at the end is skipped for a later one at the end.
    assert!(m(vec![ew(b"ab")], b"ab-ab"));
    let ew_rel = Element::Content(Content { endswith: true, distance: Some(ValueI::Lit(0)), ..content(b"z") });
    assert!(m(vec![c(b"a"), ew_rel], b"a..z"));
}

#[test]
fn nocase_folds_ascii() {
    let nc = |p: &[u8]| Element::Content(Content { nocase: true, ..content(p) });
    assert!(m(vec![nc(b"User-Agent")], b"xx uSER-aGENT: y"));
    assert!(!m(vec![nc(b"User-Agent")], b"xx User_Agent"));
    assert!(!m(vec![c(b"User-Agent")], b"user-agent"));
    assert!(m(vec![nc(b"aaab")], b"AAAAAAB"));
    assert_eq!(fold(b"AbC-1"), b"abc-1".to_vec());
}

#[test]
fn pcre_flags() {
    assert!(m(vec![pcre("abc", "")], b"xabcx"));
    assert!(!m(vec![pcre("ABC", "")], b"xabcx"));
    assert!(m(vec![pcre("ABC", "i")], b"xabcx"));
    assert!(!m(vec![pcre("a.b", "")], b"a\nb"));
    assert!(m(vec![pcre("a.b", "s")], b"a\nb"));
    assert!(!m(vec![pcre("^b", "")], b"a\nb"));
    assert!(m(vec![pcre("^b", "m")], b"a\nb"));
    assert!(m(vec![pcre("a b # comment", "x")], b"ab"));
    assert!(!m(vec![pcre("b", "A")], b"ab"));
    assert!(m(vec![pcre("a", "A")], b"ab"));
    assert!(m(vec![pcre("b$", "")], b"ab\n"));
    assert!(!m(vec![pcre("b$", "E")], b"ab\n"));
    // G: ungreedy, visible through where the cursor ends.
    let after = |f: &str| vec![pcre("a.+b", &format!("s{f}")), rel(b"X", Some(0), Some(1))];
    assert!(m(after("G"), b"a1bX2b"));
    assert!(!m(after(""), b"a1bX2b"));
}

#[test]
fn pcre_relative_starts_at_cursor_and_moves_it_to_match_end() {
    assert!(m(vec![c(b"foo"), pcre("^bar", "R")], b"foobar"));
    assert!(!m(vec![c(b"foo"), pcre("^bar", "R")], b"foo bar"));
    assert!(!m(vec![c(b"bar"), pcre("foo", "R")], b"foobar"));
    // The cursor after a pcre is the match end.
    assert!(m(vec![pcre("b[0-9]+", ""), rel(b"X", None, Some(1))], b"ab123Xy"));
    assert!(!m(vec![pcre("b[0-9]+", ""), rel(b"X", None, Some(1))], b"ab123yX"));
}

#[test]
fn pcre_retries_at_next_occurrence_when_next_is_relative() {
    assert!(m(vec![pcre("a", ""), rel(b"c", None, Some(1))], b"abac"));
    assert!(!m(vec![pcre("a", ""), rel(b"c", None, Some(1))], b"abab"));
    // Content before a relative pcre is retried too.
    assert!(m(vec![c(b"k="), pcre("^[0-9]{3}", "R")], b"k=ab k=123"));
}

#[test]
fn negated_pcre() {
    assert!(m(vec![neg(pcre("evil", "i"))], b"good"));
    assert!(!m(vec![neg(pcre("evil", "i"))], b"EVIL"));
    assert!(m(vec![c(b"x"), neg(pcre("^y", "R"))], b"xz"));
    assert!(!m(vec![c(b"x"), neg(pcre("^y", "R"))], b"xy"));
}

#[test]
fn pcre_match_limit_is_no_match_and_counted() {
    let cb = compile(vec![pcre("(a+)+$", "")]);
    let mut s = Scratch::new(cb.max_captures());
    let mut buf = vec![b'a'; 40];
    buf.push(b'b');
    assert!(!cb.inspect(&buf, &mut [], &mut s));
    assert_eq!(s.stats.pcre_calls, 1);
    assert_eq!(s.stats.pcre_limit_hits, 1);
    assert!(cb.inspect(b"aaa", &mut [], &mut s));
    assert_eq!(cb.max_captures(), 1);
}

#[test]
fn pcre_compile_error_is_reported() {
    let err = CompiledBuffer::new(&BufferMatch {
        buffer: Buffer::Payload,
        dotprefix: false,
        elements: vec![pcre("a(b", "")],
    });
    match err {
        Err(InspectError::Pcre { pattern, offset, message }) => {
            assert_eq!(pattern, "a(b");
            assert_eq!(offset, 3);
            assert!(!message.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn byte_test_operators_and_negation() {
    let buf = [0x00, 0x10, 0x20];
    let r = read(2, 1);
    assert!(m(vec![bt(r, ByteOp::Eq, 0x1020)], &buf));
    assert!(m(vec![bt(r, ByteOp::Lt, 0x1021)], &buf));
    assert!(!m(vec![bt(r, ByteOp::Lt, 0x1020)], &buf));
    assert!(m(vec![bt(r, ByteOp::Le, 0x1020)], &buf));
    assert!(m(vec![bt(r, ByteOp::Gt, 0x101f)], &buf));
    assert!(m(vec![bt(r, ByteOp::Ge, 0x1020)], &buf));
    assert!(m(vec![bt(r, ByteOp::And, 0x0020)], &buf));
    assert!(!m(vec![bt(r, ByteOp::And, 0x0001)], &buf));
    assert!(m(vec![bt(r, ByteOp::Xor, 0x1021)], &buf));
    assert!(!m(vec![bt(r, ByteOp::Xor, 0x1020)], &buf));
    let negated = Element::ByteTest { read: r, op: ByteOp::Eq, negated: true, value: Value::Lit(0x1020) };
    assert!(!m(vec![negated], &buf));
    // Little endian.
    assert!(m(vec![bt(ByteRead { big_endian: false, ..r }, ByteOp::Eq, 0x2010)], &buf));
    // Reading past the end fails.
    assert!(!m(vec![bt(read(2, 2), ByteOp::Ge, 0)], &buf));
    assert!(!m(vec![bt(read(1, 0), ByteOp::Ge, 0)], b""));
}

#[test]
fn byte_test_relative_string_and_bitmask() {
    let rr = |o: i64| ByteRead { relative: true, ..read(1, o) };
    assert!(m(vec![c(b"len="), bt(rr(0), ByteOp::Eq, b'7' as u64)], b"len=7"));
    // Relative with nothing left fails.
    assert!(!m(vec![c(b"len="), bt(rr(0), ByteOp::Ge, 0)], b"len="));
    // Negative relative offset reads before the cursor.
    assert!(m(vec![c(b"=7"), bt(rr(-2), ByteOp::Eq, b'=' as u64)], b"x=7"));
    let s = |n: u8, base: NumBase| ByteRead { base, ..read(n, 0) };
    assert!(m(vec![bt(s(3, NumBase::Dec), ByteOp::Eq, 123)], b"123x"));
    assert!(m(vec![bt(s(4, NumBase::Dec), ByteOp::Eq, 12)], b"12ab"));
    assert!(!m(vec![bt(s(3, NumBase::Dec), ByteOp::Ge, 0)], b"abc"));
    assert!(m(vec![bt(s(2, NumBase::Hex), ByteOp::Eq, 0xff)], b"ff"));
    assert!(m(vec![bt(s(3, NumBase::Oct), ByteOp::Eq, 0o17)], b"017"));
    let masked = ByteRead { bitmask: Some(0x0ff0), ..read(2, 0) };
    assert!(m(vec![bt(masked, ByteOp::Eq, 0xbc)], &[0xab, 0xcd]));
}

#[test]
fn byte_jump_moves_cursor() {
    // Length byte 3, skip 3 bytes, then "X" immediately.
    let rj = ByteRead { relative: true, ..read(1, 0) };
    let after = |j: Element, buf: &[u8]| m(vec![c(b"L"), j, rel(b"X", None, Some(1))], buf);
    assert!(after(jump(rj), b"L\x03abcX"));
    assert!(!after(jump(rj), b"L\x02abcX"));
    // Multiplier and align.
    let mul = Element::ByteJump {
        read: rj,
        multiplier: 2,
        align: false,
        from_beginning: false,
        from_end: false,
        post_offset: 0,
    };
    assert!(after(mul, b"L\x02abcdX"));
    let al = Element::ByteJump {
        read: rj,
        multiplier: 1,
        align: true,
        from_beginning: false,
        from_end: false,
        post_offset: 0,
    };
    assert!(after(al, b"L\x03abc_X"));
    // post_offset (negative allowed).
    let po = Element::ByteJump {
        read: rj,
        multiplier: 1,
        align: false,
        from_beginning: false,
        from_end: false,
        post_offset: -1,
    };
    assert!(after(po, b"L\x03abX"));
    // from_beginning: jump counts from the buffer start.
    let fb = Element::ByteJump {
        read: rj,
        multiplier: 1,
        align: false,
        from_beginning: true,
        from_end: false,
        post_offset: 0,
    };
    assert!(after(fb, b"L\x03_X"));
    // from_end with a negative post_offset lands before the end.
    let fe = Element::ByteJump {
        read: read(1, 0),
        multiplier: 0,
        align: false,
        from_beginning: false,
        from_end: true,
        post_offset: -1,
    };
    assert!(m(vec![fe, rel(b"X", None, Some(1))], b"\x09abX"));
    // Jumping past the end fails; jumping exactly to the end is allowed.
    assert!(!m(vec![jump(read(1, 0))], b"\x05ab"));
    assert!(m(
        vec![jump(read(1, 0)), Element::IsDataAt { pos: Value::Lit(1), relative: true, negated: true }],
        b"\x02ab"
    ));
    // String numbers advance by the digits parsed, not nbytes ("3a": 1 digit).
    let sj = ByteRead { base: NumBase::Dec, ..read(2, 0) };
    assert!(m(vec![jump(sj), rel(b"X", None, Some(1))], b"3abcX"));
}

#[test]
fn byte_extract_stores_variables_used_later() {
    let ex = Element::ByteExtract { read: read(1, 0), var: 0, multiplier: 1, align: 0 };
    let within_var =
        Element::Content(Content { distance: Some(ValueI::Lit(0)), within: Some(Value::Var(0)), ..content(b"Z") });
    let mut vars = [0u64; 2];
    assert!(run_with(vec![ex.clone(), within_var.clone()], b"\x03abZ", &mut vars));
    assert_eq!(vars[0], 3);
    assert!(!run_with(vec![ex.clone(), within_var], b"\x02abZ", &mut vars));
    // Extract moves the cursor past the bytes read.
    assert!(m(vec![ex.clone(), rel(b"a", None, Some(1))], b"\x03abZ"));
    // Multiplier and align.
    let ex2 = Element::ByteExtract { read: read(1, 0), var: 1, multiplier: 3, align: 4 };
    let mut vars = [0u64; 2];
    assert!(run_with(vec![ex2], b"\x03", &mut vars));
    assert_eq!(vars[1], 12);
    // Value, offset and depth from variables.
    let test_var = Element::ByteTest { read: read(1, 1), op: ByteOp::Eq, negated: false, value: Value::Var(0) };
    assert!(m(vec![ex.clone(), test_var.clone()], b"\x03\x03"));
    assert!(!m(vec![ex.clone(), test_var], b"\x03\x04"));
    let depth_var = Element::Content(Content { depth: Some(Value::Var(0)), ..content(b"ab") });
    assert!(m(vec![ex.clone(), depth_var.clone()], b"\x03ab"));
    assert!(!m(vec![ex, depth_var], b"\x02ab"));
}

#[test]
fn isdataat_absolute_relative_negated() {
    let ida = |n: u64, relative: bool, negated: bool| Element::IsDataAt { pos: Value::Lit(n), relative, negated };
    assert!(m(vec![ida(3, false, false)], b"abcd"));
    assert!(!m(vec![ida(4, false, false)], b"abcd"));
    assert!(m(vec![ida(4, false, true)], b"abcd"));
    assert!(m(vec![c(b"b"), ida(2, true, false)], b"abcd"));
    assert!(!m(vec![c(b"b"), ida(3, true, false)], b"abcd"));
    assert!(m(vec![c(b"d"), ida(1, true, true)], b"abcd"));
    assert!(!m(vec![c(b"c"), ida(1, true, true)], b"abcd"));
}

#[test]
fn bsize_tests_buffer_length() {
    assert!(m(vec![Element::Bsize(NumCmp::Eq(3))], b"abc"));
    assert!(!m(vec![Element::Bsize(NumCmp::Eq(3))], b"abcd"));
    assert!(m(vec![Element::Bsize(NumCmp::Between(2, 5)), c(b"b")], b"abc"));
    assert!(m(vec![Element::Bsize(NumCmp::Eq(0))], b""));
}

#[test]
fn recursion_is_bounded() {
    // Many occurrences and a chain that never matches: terminates (recursion limit).
    let buf = vec![b'a'; 5000];
    assert!(!m(vec![c(b"a"), rel(b"a", None, Some(1)), rel(b"a", None, Some(1)), rel(b"b", None, Some(1))], &buf));
}

#[test]
fn compiled_buffer_is_send_sync_and_scratch_is_send() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<CompiledBuffer>();
    assert_send::<Scratch>();
}

#[test]
fn inspect_does_not_allocate() {
    let bufs = [
        compile(vec![c(b"a"), rel(b"b", None, Some(1))]),
        compile(vec![Element::Content(Content { nocase: true, ..content(b"HeLLo") }), pcre("w.rld", "iR")]),
        compile(vec![
            neg(pcre("zz+", "")),
            jump(read(1, 0)),
            Element::IsDataAt { pos: Value::Lit(1), relative: true, negated: false },
        ]),
        compile(vec![pcre("(a+)+$", "")]),
    ];
    let max = bufs.iter().map(CompiledBuffer::max_captures).max().unwrap_or(0);
    let mut scratch = Scratch::new(max);
    let mut vars = [0u64; 4];
    let data: [&[u8]; 3] = [b"xxaXab hello WORLD", b"\x01aaaaaaaaaaaaaaaaaaaaaaaaaaab", b"HELLO world"];
    // Warm up (lazy one-time initialisation inside libraries is not per-call cost).
    for b in &bufs {
        for d in data {
            b.inspect(d, &mut vars, &mut scratch);
        }
    }
    let before = thread_allocs();
    let mut hits = 0;
    for _ in 0..100 {
        for b in &bufs {
            for d in data {
                hits += usize::from(b.inspect(d, &mut vars, &mut scratch));
            }
        }
    }
    assert_eq!(thread_allocs(), before);
    assert!(hits > 0);
    assert!(scratch.stats.pcre_calls > 0);
}

// The cases below were checked against Suricata 7.0.10 (UDP packets, see difftest/).

#[test]
fn relative_byte_test_retries_the_content_it_follows() {
    let e = || vec![c(b"a"), rel(b"b", Some(0), None), bt(ByteRead { relative: true, ..read(1, 0) }, ByteOp::Eq, 88)];
    assert!(m(e(), b"a_b_a_bX"));
    assert!(m(vec![c(b"a"), bt(ByteRead { relative: true, ..read(1, 0) }, ByteOp::Eq, 88)], b"a_aX"));
}

#[test]
fn negative_distance_window_arithmetic() {
    // prev_end 4, distance -5 -> offset 0; within limit 4 + 2 - 5 = 1: window [0, 1).
    assert!(!m(vec![c(b"ab"), rel(b"cd", Some(-5), Some(2))], b"cdab"));
    // limit 2 + 3 - 5 = 0: empty window.
    assert!(!m(vec![c(b"ab"), rel(b"zz", Some(-5), Some(3))], b"abxxxzz"));
}

#[test]
fn negated_endswith_compares_window_length_with_match_end() {
    let nend = |distance: Option<i64>| {
        Element::Content(Content {
            negated: true,
            endswith: true,
            distance: distance.map(ValueI::Lit),
            ..content(b"ab")
        })
    };
    // Suricata's quirk: window [2,4) has length 2, match end 4 -> "not at the end" -> match.
    assert!(m(vec![c(b"ab"), nend(Some(0))], b"abab"));
    assert!(!m(vec![c(b"x"), nend(Some(0))], b"xab_"));
    assert!(!m(vec![c(b"x"), nend(Some(0))], b"xyab_"));
    assert!(m(vec![c(b"_"), nend(None)], b"ab_"));
    assert!(!m(vec![c(b"_"), nend(None)], b"_ab"));
}

#[test]
fn pcre_chains() {
    assert!(m(vec![c(b"a"), pcre("^b", "R"), rel(b"c", None, Some(1))], b"ab_abc"));
    assert!(m(vec![pcre("a.", ""), pcre("^c", "R")], b"abXadc"));
}

#[test]
fn variable_distance_ignores_literal_within_like_suricata() {
    let ex = Element::ByteExtract { read: read(1, 0), var: 0, multiplier: 1, align: 0 };
    let x = Element::Content(Content { distance: Some(ValueI::Var(0)), within: Some(Value::Lit(1)), ..content(b"X") });
    assert!(!m(vec![ex.clone(), x.clone()], b"\x01Xbcd"));
    assert!(m(vec![ex.clone(), x.clone()], b"\x01aXcd"));
    assert!(m(vec![ex, x], b"\x01abcX"));
}

#[test]
fn more_cases_checked_against_suricata() {
    let ex = Element::ByteExtract { read: read(1, 0), var: 0, multiplier: 1, align: 0 };
    let ida_var = |relative, negated| Element::IsDataAt { pos: Value::Var(0), relative, negated };
    assert!(m(vec![ex.clone(), ida_var(false, false)], b"\x03abc"));
    assert!(!m(vec![ex.clone(), ida_var(false, false)], b"\x04abc"));
    assert!(m(vec![ex, ida_var(true, true)], b"\x04abc"));
    let hex = ByteRead { base: NumBase::Hex, ..read(4, 0) };
    assert!(m(vec![bt(hex, ByteOp::Eq, 0x1f)], b"0x1f"));
    assert!(m(vec![bt(hex, ByteOp::Eq, 0x1f)], b"  1f"));
    assert!(!m(vec![bt(ByteRead { base: NumBase::Dec, ..read(3, 0) }, ByteOp::Eq, 5)], b"-5x"));
    let nc = |p: &[u8], within: Option<u64>| {
        Element::Content(Content { nocase: true, within: within.map(Value::Lit), ..content(p) })
    };
    assert!(m(vec![nc(b"HOST", None), nc(b"evil", Some(6))], b"host: EVIL"));
    assert!(m(
        vec![c(b"a"), pcre("^b", "R"), Element::IsDataAt { pos: Value::Lit(1), relative: true, negated: true }],
        b"ab_ab"
    ));
    assert!(m(vec![c(b"a"), pcre("b", "R"), rel(b"c", None, Some(1))], b"abxbc"));
    assert!(m(vec![pcre("a+", ""), rel(b"b", None, Some(1))], b"aaXaab"));
    assert!(m(vec![bt(read(1, 0), ByteOp::And, 0x80)], b"\x81"));
    let not_and = Element::ByteTest { read: read(1, 0), op: ByteOp::And, negated: true, value: Value::Lit(0x80) };
    assert!(!m(vec![not_and], b"\x81"));
    assert!(m(vec![bt(ByteRead { big_endian: false, ..read(2, 0) }, ByteOp::Le, 0x0100)], b"\x00\x01"));
    let rj = ByteRead { relative: true, ..read(1, 0) };
    assert!(m(vec![jump(rj), jump(rj), rel(b"X", None, Some(1))], b"\x01_\x00X"));
    // A jump before the buffer start clamps to the start.
    let back = Element::ByteJump {
        read: rj,
        multiplier: 1,
        align: false,
        from_beginning: false,
        from_end: false,
        post_offset: -10,
    };
    assert!(m(vec![c(b"a"), back, rel(b"a", None, Some(1))], b"a\x01xx"));
}
