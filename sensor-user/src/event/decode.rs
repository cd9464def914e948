//! Ring-buffer record -> [`Event`]. The header's kind is decoded with `TryFrom`, its version
//! and size are checked against the struct the kind names, and only then is the struct
//! copied out of the record. Nothing here allocates.

use sensor_common::event::{
    ABI_VERSION, EventHeader, EventKind, ExecEvent, ExitEvent, FlowEvent, OpenEvent, PayloadSample, SockEvent,
    SyscallEvent,
};

use crate::sys::read_pod;

/// A decoded event (a copy of the record, on the reader's stack).
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant, reason = "boxing the payload sample would allocate per event on the hot path")]
pub enum Event {
    /// First packet of a flow.
    FlowStart(FlowEvent),
    /// FIN or RST seen.
    FlowEnd(FlowEvent),
    /// Payload bytes of one packet.
    PayloadSample(PayloadSample),
    /// A process executed a new image.
    Exec(ExecEvent),
    /// A process exited.
    Exit(ExitEvent),
    /// connect() attempt.
    Connect(SockEvent),
    /// accepted connection.
    Accept(SockEvent),
    /// openat() of a watched path.
    Open(OpenEvent),
    /// set*id family.
    SetId(SyscallEvent),
    /// ptrace.
    Ptrace(SyscallEvent),
    /// init_module/finit_module.
    ModuleLoad(SyscallEvent),
    /// bpf() by another process.
    BpfCall(SyscallEvent),
}

/// Why a record could not be decoded. Each variant is counted, never fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than a header.
    #[error("record of {len} bytes is shorter than the event header")]
    Short {
        /// Record length.
        len: usize,
    },
    /// Unknown kind tag.
    #[error("unknown event kind {kind}")]
    Kind {
        /// The tag.
        kind: u16,
    },
    /// ABI version mismatch between kernel object and user space.
    #[error("event ABI version {found}, expected {ABI_VERSION}")]
    Version {
        /// The version in the header.
        found: u16,
    },
    /// The header's size does not match the kind's struct, or the record is too short.
    #[error("{kind:?} event: header size {header_size}, struct {expected}, record {len}")]
    Size {
        /// The kind.
        kind: EventKind,
        /// Size in the header.
        header_size: u32,
        /// Size of the struct.
        expected: usize,
        /// Record length.
        len: usize,
    },
}

impl DecodeError {
    /// Index of this error in per-reason counters.
    pub const fn index(&self) -> usize {
        match self {
            Self::Short { .. } => 0,
            Self::Kind { .. } => 1,
            Self::Version { .. } => 2,
            Self::Size { .. } => 3,
        }
    }
}

fn body<T: aya::Pod>(kind: EventKind, h: &EventHeader, rec: &[u8]) -> Result<T, DecodeError> {
    let expected = std::mem::size_of::<T>();
    if h.size as usize != expected || rec.len() < expected {
        return Err(DecodeError::Size { kind, header_size: h.size, expected, len: rec.len() });
    }
    read_pod::<T>(rec).ok_or(DecodeError::Size { kind, header_size: h.size, expected, len: rec.len() })
}

/// Decodes one ring-buffer record.
pub fn decode(rec: &[u8]) -> Result<Event, DecodeError> {
    let h: EventHeader = read_pod(rec).ok_or(DecodeError::Short { len: rec.len() })?;
    let kind = EventKind::try_from(h.kind).map_err(|e| DecodeError::Kind { kind: e.0 })?;
    if h.version != ABI_VERSION {
        return Err(DecodeError::Version { found: h.version });
    }
    Ok(match kind {
        EventKind::FlowStart => Event::FlowStart(body(kind, &h, rec)?),
        EventKind::FlowEnd => Event::FlowEnd(body(kind, &h, rec)?),
        EventKind::PayloadSample => Event::PayloadSample(body(kind, &h, rec)?),
        EventKind::Exec => Event::Exec(body(kind, &h, rec)?),
        EventKind::Exit => Event::Exit(body(kind, &h, rec)?),
        EventKind::Connect => Event::Connect(body(kind, &h, rec)?),
        EventKind::Accept => Event::Accept(body(kind, &h, rec)?),
        EventKind::Open => Event::Open(body(kind, &h, rec)?),
        EventKind::SetId => Event::SetId(body(kind, &h, rec)?),
        EventKind::Ptrace => Event::Ptrace(body(kind, &h, rec)?),
        EventKind::ModuleLoad => Event::ModuleLoad(body(kind, &h, rec)?),
        EventKind::BpfCall => Event::BpfCall(body(kind, &h, rec)?),
    })
}

impl Event {
    /// The header of the event.
    pub fn header(&self) -> &EventHeader {
        match self {
            Self::FlowStart(e) | Self::FlowEnd(e) => &e.header,
            Self::PayloadSample(e) => &e.header,
            Self::Exec(e) => &e.header,
            Self::Exit(e) => &e.header,
            Self::Connect(e) | Self::Accept(e) => &e.header,
            Self::Open(e) => &e.header,
            Self::SetId(e) | Self::Ptrace(e) | Self::ModuleLoad(e) | Self::BpfCall(e) => &e.header,
        }
    }
}

#[cfg(test)]
mod tests {
    use sensor_common::{event::EventHeader, flow::FlowKey};

    use super::*;

    fn bytes_of<T: aya::Pod>(v: &T) -> Vec<u8> {
        crate::sys::pod_bytes(v).to_vec()
    }

    fn flow(kind: EventKind) -> FlowEvent {
        FlowEvent {
            header: EventHeader::new::<FlowEvent>(kind, 42),
            key: FlowKey { sport: 1234, dport: 80, proto: 6, family: 4, ..Default::default() },
            ifindex: 3,
            ..Default::default()
        }
    }

    #[test]
    fn decodes_a_flow_start_record() {
        let rec = bytes_of(&flow(EventKind::FlowStart));
        match decode(&rec) {
            Ok(Event::FlowStart(f)) => {
                assert_eq!(f.key.dport, 80);
                assert_eq!(f.header.ts_ns, 42);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_truncation_at_every_length() {
        let rec = bytes_of(&flow(EventKind::FlowEnd));
        for len in 0..rec.len() {
            assert!(decode(&rec[..len]).is_err(), "accepted {len} bytes");
        }
        assert!(matches!(decode(&rec), Ok(Event::FlowEnd(_))));
    }

    #[test]
    fn rejects_unknown_kinds_versions_and_sizes() {
        let mut f = flow(EventKind::FlowStart);
        f.header.kind = 999;
        assert_eq!(decode(&bytes_of(&f)).err(), Some(DecodeError::Kind { kind: 999 }));
        let mut f = flow(EventKind::FlowStart);
        f.header.version = 77;
        assert_eq!(decode(&bytes_of(&f)).err(), Some(DecodeError::Version { found: 77 }));
        let mut f = flow(EventKind::FlowStart);
        f.header.kind = EventKind::Exec as u16;
        assert!(matches!(decode(&bytes_of(&f)), Err(DecodeError::Size { kind: EventKind::Exec, .. })));
    }

    #[test]
    fn padded_records_decode() {
        let mut rec = bytes_of(&flow(EventKind::FlowStart));
        rec.extend_from_slice(&[0; 8]);
        assert!(decode(&rec).is_ok());
    }
}
