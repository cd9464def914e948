//! `aya::Pod` for the types user space reads from or writes to maps. Every one is
//! `#[repr(C)]`, `Copy` and made of integers and byte arrays only, so any bit pattern is a
//! valid value, which is what `Pod` requires.

use crate::{
    block::BlockEntry,
    config::{SensorConfig, TaskOffsets},
    event::{
        EventHeader, ExecEvent, ExitEvent, FlowEvent, OpenEvent, PayloadSample, ProcInfo, SockEvent, SyscallEvent,
    },
    flow::{FlowKey, FlowState},
};

macro_rules! pod {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: repr(C), Copy, integers and byte arrays only, explicit padding (see the
        // const size assertions next to the type).
        unsafe impl aya::Pod for $t {}
    )*};
}

pod!(
    BlockEntry,
    SensorConfig,
    TaskOffsets,
    FlowKey,
    FlowState,
    EventHeader,
    FlowEvent,
    PayloadSample,
    ProcInfo,
    ExecEvent,
    ExitEvent,
    SockEvent,
    OpenEvent,
    SyscallEvent,
);
