//! Keyword dispatch: walks a rule's options in order and builds the [`Signature`].

use super::super::ir::{AppLayer, Buffer, BufferMatch, Element, FlowbitOp, Signature, Transport};
use super::buffers::{legacy_modifier, sticky};
use super::bytes::{byte_extract, byte_jump, byte_test, isdataat};
use super::content::{apply_modifier, is_modifier, parse_content};
use super::error::{RuleIssue, SkipReason, SyntaxError, bad, unsupported};
use super::header::CompiledHeader;
use super::lexer::{Options, unquote};
use super::numeric::{flow, ip_proto, num_cmp, number, stream_size, tcp_flags, threshold};
use super::pcre::parse_pcre;
use super::{FlowbitNames, RuleConfig};

/// Keywords Suricata knows that this engine does not implement, reported as unsupported options.
const UNSUPPORTED_EVENTS: &[&str] = &["app-layer-event", "stream-event", "decode-event", "engine-event"];

/// Keywords accepted and ignored (they only affect logging or are no-ops here).
const IGNORED: &[&str] = &["tag", "rawbytes"];

/// Rule-in-progress state.
struct Builder<'c> {
    cfg: &'c RuleConfig,
    sig: Signature,
    /// Elements in rule order, each with the buffer it inspects (and the buffer's dotprefix).
    elements: Vec<((Buffer, bool), Element)>,
    /// Active sticky buffer (None: no sticky buffer, or reset by `pkt_data`).
    sticky: Option<Buffer>,
    /// `dotprefix` given after the active sticky buffer.
    dotprefix: bool,
    /// Index in `elements` of the last content.
    last_content: Option<usize>,
    /// Index in `elements` of the last content / pcre / byte_* element.
    last_match: Option<usize>,
    /// byte_extract variable names, by slot.
    var_names: Vec<String>,
    /// `sid` seen.
    has_sid: bool,
    /// `priority` given (it wins over the classtype's).
    priority_given: bool,
    /// App layer from `app-layer-protocol` or implied by `urilen`.
    extra_app: Vec<(AppLayer, &'static str)>,
}

fn set_once<T>(slot: &mut Option<T>, keyword: &str, v: T) -> Result<(), SyntaxError> {
    if slot.is_some() {
        return Err(bad(keyword, "given twice"));
    }
    *slot = Some(v);
    Ok(())
}

fn u32_value(keyword: &str, v: &str) -> Result<u32, SyntaxError> {
    Ok(number(keyword, v, u64::from(u32::MAX))? as u32)
}

impl<'c> Builder<'c> {
    fn lookup_var(&self, name: &str) -> Option<u8> {
        self.var_names.iter().position(|n| n == name).map(|i| i as u8)
    }

    /// Buffer for a new element: the sticky buffer, else (relative) the previous match's, else Payload.
    fn target_buffer(&self, relative: bool) -> (Buffer, bool) {
        if let Some(b) = self.sticky {
            return (b, self.dotprefix);
        }
        match (relative, self.last_match) {
            (true, Some(i)) => self.elements[i].0,
            _ => (Buffer::Payload, false),
        }
    }

    fn push(&mut self, buffer: (Buffer, bool), e: Element) {
        let is_content = matches!(e, Element::Content(_));
        self.elements.push((buffer, e));
        let i = self.elements.len() - 1;
        if is_content {
            self.last_content = Some(i);
        }
        if !matches!(self.elements[i].1, Element::IsDataAt { .. } | Element::Bsize(_)) {
            self.last_match = Some(i);
        }
    }

    fn option(&mut self, keyword: &str, value: Option<&str>, names: &mut FlowbitNames) -> Result<(), RuleIssue> {
        let val = || value.ok_or_else(|| bad(keyword, "needs a value"));
        if is_modifier(keyword) {
            let idx = self.last_content.ok_or_else(|| bad(keyword, "no preceding content"))?;
            let var_names = &self.var_names;
            let lookup = |n: &str| var_names.iter().position(|v| v == n).map(|i| i as u8);
            if let Element::Content(c) = &mut self.elements[idx].1 {
                apply_modifier(c, keyword, value, &lookup)?;
            }
            return Ok(());
        }
        if let Some(b) = sticky(keyword) {
            if value.is_some() {
                return Err(bad(keyword, "sticky buffer takes no value").into());
            }
            self.sticky = if b == Buffer::Payload { None } else { Some(b) };
            self.dotprefix = false;
            return Ok(());
        }
        if keyword == "dotprefix" {
            if value.is_some() || self.sticky.is_none() {
                return Err(bad(keyword, "transform needs a sticky buffer and takes no value").into());
            }
            self.dotprefix = true;
            return Ok(());
        }
        if let Some(b) = legacy_modifier(keyword) {
            let idx = self.last_content.ok_or_else(|| bad(keyword, "no preceding content"))?;
            if self.sticky.is_some() {
                return Err(bad(keyword, "content modifier used while a sticky buffer is active").into());
            }
            if self.elements[idx].0 != (Buffer::Payload, false) {
                return Err(bad(keyword, "content already has a buffer").into());
            }
            self.elements[idx].0 = (b, false);
            return Ok(());
        }
        let sig = &mut self.sig;
        match keyword {
            "msg" => sig.msg = unquote(val()?)?,
            "sid" => {
                sig.sid = u32_value(keyword, val()?)?;
                if sig.sid == 0 {
                    return Err(bad(keyword, "sid 0").into());
                }
                self.has_sid = true;
            }
            "rev" => sig.rev = u32_value(keyword, val()?)?,
            "gid" => sig.gid = u32_value(keyword, val()?)?,
            "classtype" => {
                let name = val()?.trim();
                let (desc, prio) = self
                    .cfg
                    .classes
                    .get(name)
                    .ok_or_else(|| SyntaxError::UnknownClasstype { name: name.to_string() })?;
                self.sig.classtype = Some(name.to_string());
                self.sig.category = Some(desc.to_string());
                if !self.priority_given {
                    self.sig.priority = prio;
                }
            }
            "priority" => {
                let p = number(keyword, val()?, 255)?;
                if p == 0 {
                    return Err(bad(keyword, "priority 0").into());
                }
                self.sig.priority = p as u8;
                self.priority_given = true;
            }
            // ET quotes only the value part (`url,"host/path"`): drop the quotes wherever they are.
            "reference" => sig.references.push(val()?.replace('"', "").trim().to_string()),
            "metadata" => {
                for item in val()?.split(',') {
                    let item = item.trim();
                    if item.is_empty() {
                        continue;
                    }
                    let (k, v) = item.split_once(char::is_whitespace).unwrap_or((item, ""));
                    let v = v.trim();
                    if k == "mitre_technique_id" {
                        sig.mitre.push(v.to_string());
                    }
                    sig.metadata.push((k.to_string(), v.to_string()));
                }
            }
            "target" => {
                let t = match val()?.trim() {
                    "src_ip" => false,
                    "dest_ip" => true,
                    other => return Err(bad(keyword, format!("unknown target '{other}'")).into()),
                };
                sig.target_dest = Some(t);
            }
            "content" => {
                let c = parse_content(val()?)?;
                let b = self.target_buffer(false);
                self.push(b, Element::Content(c));
            }
            "pcre" => {
                let (p, flag_buffer) = parse_pcre(val()?)?;
                let b = match (self.sticky, flag_buffer) {
                    // Suricata accepts the response-body flag inside file_data (same data).
                    (Some(Buffer::FileData), Some(Buffer::HttpResponseBody | Buffer::HttpRequestBody)) => {
                        self.target_buffer(p.relative)
                    }
                    (Some(s), Some(f)) if s != f => {
                        return Err(
                            SyntaxError::BadPcre { detail: "buffer flag conflicts with sticky buffer".into() }.into()
                        );
                    }
                    (_, Some(f)) => (f, false),
                    (_, None) => self.target_buffer(p.relative),
                };
                self.push(b, Element::Pcre(p));
            }
            "byte_test" | "byte_jump" | "byte_extract" => {
                let lookup = |n: &str| self.lookup_var(n);
                let v = val()?;
                let (e, name) = match keyword {
                    "byte_test" => (byte_test(v, &lookup)?, None),
                    "byte_jump" => (byte_jump(v, &lookup)?, None),
                    _ => {
                        let (e, n) = byte_extract(v, &lookup)?;
                        (e, Some(n))
                    }
                };
                let relative = match &e {
                    Element::ByteTest { read, .. }
                    | Element::ByteJump { read, .. }
                    | Element::ByteExtract { read, .. } => read.relative,
                    _ => false,
                };
                let e = match (e, name) {
                    (Element::ByteExtract { read, multiplier, align, .. }, Some(n)) => {
                        if self.lookup_var(n).is_some() {
                            return Err(bad(keyword, format!("variable '{n}' defined twice")).into());
                        }
                        if self.var_names.len() >= usize::from(u8::MAX) {
                            return Err(bad(keyword, "too many variables").into());
                        }
                        self.var_names.push(n.to_string());
                        let var = (self.var_names.len() - 1) as u8;
                        Element::ByteExtract { read, var, multiplier, align }
                    }
                    (e, _) => e,
                };
                let b = self.target_buffer(relative);
                self.push(b, e);
            }
            "isdataat" => {
                let lookup = |n: &str| self.lookup_var(n);
                let (e, relative) = isdataat(val()?, &lookup)?;
                let b = self.target_buffer(relative);
                self.push(b, e);
            }
            "bsize" => {
                let b = (self.sticky.ok_or_else(|| bad(keyword, "needs a sticky buffer"))?, self.dotprefix);
                let cmp = num_cmp(keyword, val()?, u64::MAX)?;
                self.push(b, Element::Bsize(cmp));
            }
            "dsize" => set_once(&mut sig.dsize, keyword, num_cmp(keyword, val()?, 65535)?)?,
            "urilen" => {
                let v = val()?;
                let (cmp, raw) = match v.split_once(',') {
                    Some((c, "raw")) => (c, true),
                    Some((c, "norm")) => (c, false),
                    Some((_, o)) => return Err(bad(keyword, format!("unknown option '{o}'")).into()),
                    None => (v, false),
                };
                let cmp = num_cmp(keyword, cmp, 65535)?;
                set_once(&mut sig.urilen, keyword, (cmp, raw))?;
                self.extra_app.push((AppLayer::Http, "urilen"));
            }
            "flow" => flow(val()?, &mut sig.flow)?,
            "flowbits" => self.flowbits(val()?, names)?,
            "noalert" => sig.noalert = true,
            "threshold" => set_once(&mut sig.threshold, keyword, threshold(keyword, val()?, false)?)?,
            "detection_filter" => {
                set_once(&mut sig.detection_filter, keyword, threshold(keyword, val()?, true)?)?;
            }
            "itype" => set_once(&mut sig.itype, keyword, num_cmp(keyword, val()?, 255)?)?,
            "icode" => set_once(&mut sig.icode, keyword, num_cmp(keyword, val()?, 255)?)?,
            "icmp_id" => set_once(&mut sig.icmp_id, keyword, number(keyword, val()?, 65535)? as u16)?,
            "icmp_seq" => set_once(&mut sig.icmp_seq, keyword, number(keyword, val()?, 65535)? as u16)?,
            "ip_proto" => set_once(&mut sig.ip_proto, keyword, ip_proto(val()?)?)?,
            "ttl" => set_once(&mut sig.ttl, keyword, num_cmp(keyword, val()?, 255)?)?,
            "flags" => set_once(&mut sig.tcp_flags, keyword, tcp_flags(val()?)?)?,
            "seq" => set_once(&mut sig.tcp_seq, keyword, u32_value(keyword, val()?)?)?,
            "ack" => set_once(&mut sig.tcp_ack, keyword, u32_value(keyword, val()?)?)?,
            "window" => {
                let v = val()?.trim();
                let (neg, n) = match v.strip_prefix('!') {
                    Some(r) => (true, r),
                    None => (false, v),
                };
                set_once(&mut sig.tcp_window, keyword, (number(keyword, n, 65535)? as u16, neg))?;
            }
            "stream_size" => {
                if sig.stream_size.is_some() {
                    return Err(unsupported(keyword, "given twice").into());
                }
                sig.stream_size = Some(stream_size(val()?)?);
            }
            "app-layer-protocol" => {
                let v = val()?.trim();
                let app = match v {
                    "http" | "http1" => AppLayer::Http,
                    "tls" | "ssl" => AppLayer::Tls,
                    "dns" => AppLayer::Dns,
                    "ssh" => AppLayer::Ssh,
                    _ => return Err(unsupported(keyword, v).into()),
                };
                self.extra_app.push((app, "app-layer-protocol"));
            }
            k if IGNORED.contains(&k) => {}
            k if UNSUPPORTED_EVENTS.contains(&k) => return Err(unsupported(k, value.unwrap_or("")).into()),
            k => return Err(SkipReason::UnknownKeyword { keyword: k.to_string() }.into()),
        }
        Ok(())
    }

    fn flowbits(&mut self, v: &str, names: &mut FlowbitNames) -> Result<(), SyntaxError> {
        const K: &str = "flowbits";
        let (cmd, arg) = match v.split_once(',') {
            Some((c, a)) => (c.trim(), Some(a.trim())),
            None => (v.trim(), None),
        };
        if cmd == "noalert" {
            if arg.is_some() {
                return Err(bad(K, "noalert takes no name"));
            }
            self.sig.noalert = true;
            return Ok(());
        }
        let arg = arg.filter(|a| !a.is_empty()).ok_or_else(|| bad(K, format!("{cmd} needs a name")))?;
        let (list, all) = if arg.contains('|') {
            if arg.contains('&') {
                return Err(bad(K, format!("'|' and '&' mixed in {arg}")));
            }
            (arg.split('|').collect::<Vec<_>>(), false)
        } else {
            (arg.split('&').collect::<Vec<_>>(), true)
        };
        let mut ids = Vec::with_capacity(list.len());
        for n in list {
            let n = n.trim();
            if n.is_empty() || n.contains(char::is_whitespace) {
                return Err(bad(K, format!("invalid name '{n}'")));
            }
            ids.push(names.intern(n));
        }
        let single = |ids: &[u32]| -> Result<u32, SyntaxError> {
            match ids {
                [one] => Ok(*one),
                _ => Err(bad(K, format!("{cmd} takes a single name"))),
            }
        };
        let op = match cmd {
            "set" => FlowbitOp::Set(single(&ids)?),
            "unset" => FlowbitOp::Unset(single(&ids)?),
            "toggle" => FlowbitOp::Toggle(single(&ids)?),
            "isset" => FlowbitOp::IsSet(ids, all),
            "isnotset" => FlowbitOp::IsNotSet(ids, all),
            _ => return Err(bad(K, format!("unknown command '{cmd}'"))),
        };
        self.sig.flowbits.push(op);
        Ok(())
    }

    /// Checks app-layer consistency and groups the elements by buffer.
    fn finish(mut self) -> Result<Signature, RuleIssue> {
        if !self.has_sid {
            return Err(SyntaxError::MissingSid.into());
        }
        let mut app = self.sig.app;
        let mut agree = |want: AppLayer, why: &str| -> Result<(), RuleIssue> {
            match app {
                None => {
                    app = Some(want);
                    Ok(())
                }
                Some(have) if have == want => Ok(()),
                Some(have) => Err(SkipReason::UnsupportedCombination {
                    detail: format!("{why} needs {want:?} but the rule is {have:?}"),
                }
                .into()),
            }
        };
        for (want, why) in &self.extra_app {
            agree(*want, why)?;
        }
        let mut buffers: Vec<BufferMatch> = Vec::new();
        for ((buffer, dotprefix), e) in self.elements {
            if let Some(want) = buffer.app() {
                agree(want, &format!("{buffer:?}"))?;
            }
            match buffers.iter_mut().find(|m| m.buffer == buffer && m.dotprefix == dotprefix) {
                Some(m) => m.elements.push(e),
                None => buffers.push(BufferMatch { buffer, dotprefix, elements: vec![e] }),
            }
        }
        if let Some(a) = app {
            let ok = match a {
                AppLayer::Dns => self.sig.transport != Transport::Icmp,
                _ => matches!(self.sig.transport, Transport::Tcp | Transport::Any),
            };
            if !ok {
                return Err(SkipReason::UnsupportedCombination {
                    detail: format!("{a:?} over {:?}", self.sig.transport),
                }
                .into());
            }
            if a != AppLayer::Dns && self.sig.transport == Transport::Any {
                self.sig.transport = Transport::Tcp;
            }
        }
        self.sig.app = app;
        self.sig.buffers = buffers;
        self.sig.vars = self.var_names.len() as u8;
        Ok(self.sig)
    }
}

/// Builds a signature from a compiled header and the option text.
pub(crate) fn build(
    text: &str,
    origin: &str,
    header: CompiledHeader,
    body: &str,
    cfg: &RuleConfig,
    names: &mut FlowbitNames,
) -> Result<Signature, RuleIssue> {
    let sig = Signature {
        app: header.app,
        pkt_only: header.pkt_only,
        src: header.src,
        sport: header.sport,
        dst: header.dst,
        dport: header.dport,
        bidirectional: header.bidirectional,
        ..Signature::new(header.action, header.transport, text.to_string(), origin.to_string())
    };
    let mut b = Builder {
        cfg,
        sig,
        elements: Vec::new(),
        sticky: None,
        dotprefix: false,
        last_content: None,
        last_match: None,
        var_names: Vec::new(),
        has_sid: false,
        priority_given: false,
        extra_app: Vec::new(),
    };
    for opt in Options::new(body) {
        let opt = opt?;
        b.option(opt.keyword, opt.value, names)?;
    }
    b.finish()
}
