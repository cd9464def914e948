//! A compact TCP connection state machine, driven by the flags of each packet and its
//! direction (enough for flow states and logging; sequence checks live in the reassembler).

use sensor_common::flow::tcp_flags::{ACK, FIN, RST, SYN};

use crate::packet::Direction;

/// TCP connection state of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TcpState {
    /// No packet yet.
    #[default]
    None,
    /// SYN from the client.
    SynSent,
    /// SYN-ACK from the server.
    SynRecv,
    /// Handshake complete.
    Established,
    /// The first packet seen was not a SYN (capture started mid-connection).
    Midstream,
    /// FIN from the client.
    FinWait,
    /// FIN from the server.
    CloseWait,
    /// FIN both ways or RST.
    Closed,
}

impl TcpState {
    /// Suricata's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established | TcpState::Midstream => "established",
            TcpState::FinWait => "fin_wait1",
            TcpState::CloseWait => "close_wait",
            TcpState::Closed => "closed",
        }
    }

    /// The state after a packet with `flags` travelling in `dir`.
    pub fn next(self, dir: Direction, flags: u8) -> TcpState {
        use TcpState::*;
        if flags & RST != 0 {
            return Closed;
        }
        let to_server = dir == Direction::ToServer;
        match self {
            None if flags & SYN != 0 && flags & ACK == 0 => SynSent,
            None if flags & SYN != 0 => SynRecv,
            None => Midstream,
            SynSent if !to_server && flags & SYN != 0 && flags & ACK != 0 => SynRecv,
            SynRecv if to_server && flags & ACK != 0 && flags & SYN == 0 => fin(Established, dir, flags),
            Established | Midstream => fin(self, dir, flags),
            FinWait if !to_server && flags & FIN != 0 => Closed,
            CloseWait if to_server && flags & FIN != 0 => Closed,
            other => other,
        }
    }
}

fn fin(state: TcpState, dir: Direction, flags: u8) -> TcpState {
    if flags & FIN == 0 {
        return state;
    }
    if dir == Direction::ToServer { TcpState::FinWait } else { TcpState::CloseWait }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ToClient, ToServer};

    #[test]
    fn handshake_then_fins_close_the_connection() {
        let mut s = TcpState::None;
        for (dir, f) in [(ToServer, SYN), (ToClient, SYN | ACK), (ToServer, ACK)] {
            s = s.next(dir, f);
        }
        assert_eq!(s, TcpState::Established);
        s = s.next(ToServer, FIN | ACK);
        assert_eq!(s, TcpState::FinWait);
        s = s.next(ToClient, FIN | ACK);
        assert_eq!(s, TcpState::Closed);
    }

    #[test]
    fn rst_closes_from_any_state() {
        assert_eq!(TcpState::SynSent.next(ToClient, RST | ACK), TcpState::Closed);
    }

    #[test]
    fn data_without_syn_is_midstream() {
        assert_eq!(TcpState::None.next(ToServer, ACK), TcpState::Midstream);
    }
}
