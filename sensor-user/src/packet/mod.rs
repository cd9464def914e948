//! The packet pipeline shared by offline replay and live mode: capture files
//! ([`capture`]), decoding ([`decode`]), IP reassembly ([`defrag`]), flows ([`flow`]), TCP
//! reassembly ([`stream`]), application-layer parsing ([`app`]) and eve.json output
//! ([`eve`]), wired together by [`pipeline::Pipeline`]; [`replay`] drives it over files and
//! [`live`] over the kernel's flow events and payload samples.

pub mod app;
pub mod capture;
pub mod decode;
pub mod defrag;
pub mod eve;
pub mod flow;
pub mod live;
pub mod observe;
pub mod pipeline;
pub mod replay;
pub mod stream;

/// Which side of a flow sent some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (initiator) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// 0 for to-server, 1 for to-client (array index).
    #[inline]
    pub const fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// The opposite direction.
    #[inline]
    pub const fn other(self) -> Self {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}
