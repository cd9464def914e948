//! Which XDP program an interface runs, asked of the kernel over rtnetlink (`RTM_GETLINK`,
//! the `IFLA_XDP` attribute) from this process: no helper program is started, so the
//! sensor's integrity check does not itself look like a stranger calling bpf() (ip(8) asks
//! the kernel for the program's details with bpf()), and needs no capability.

use std::io;

const NETLINK_ROUTE: i32 = 0;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_PROG_ID: u16 = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;
/// nlmsghdr (16 bytes) + ifinfomsg (16 bytes).
const HEADERS: usize = 32;

/// The id of the XDP program attached to interface `ifindex` in this process's network
/// namespace (None when it runs none).
///
/// # Errors
/// When the netlink socket fails or the kernel answers with an error (no such interface).
pub fn xdp_prog_id(ifindex: u32) -> io::Result<Option<u32>> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, NETLINK_ROUTE) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nothing else.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    let tv = libc::timeval { tv_sec: 2, tv_usec: 0 };
    // SAFETY: `tv` is a valid timeval for the duration of the call; the size matches.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
    }
    let mut req = [0u8; HEADERS];
    req[0..4].copy_from_slice(&(HEADERS as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // ifinfomsg: family AF_UNSPEC, pad, type 0, then the index.
    req[20..24].copy_from_slice(&ifindex.to_ne_bytes());
    // SAFETY: `req` is a readable buffer of `req.len()` bytes for the duration of the call.
    let sent = unsafe { libc::send(fd, req.as_ptr().cast(), req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: `buf` is a writable buffer of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_reply(&buf[..n as usize])
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Iterates the (type, payload) of the netlink attributes in `b`.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(b, 0)?);
        let kind = u16_at(b, 2)? & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            return None;
        }
        let payload = &b[4..len];
        b = b.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

/// The XDP program id in an `RTM_GETLINK` reply.
fn parse_reply(b: &[u8]) -> io::Result<Option<u32>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("rtnetlink reply: {what}"));
    let len = u32_at(b, 0).ok_or_else(|| bad("short"))? as usize;
    let kind = u16_at(b, 4).ok_or_else(|| bad("short"))?;
    let msg = b.get(..len).ok_or_else(|| bad("truncated"))?;
    if kind == NLMSG_ERROR {
        let errno = u32_at(msg, 16).map_or(0, |e| e as i32);
        return Err(io::Error::from_raw_os_error(-errno));
    }
    if kind != RTM_NEWLINK || msg.len() < HEADERS {
        return Err(bad("not a link message"));
    }
    let xdp = attrs(&msg[HEADERS..]).find(|(t, _)| *t == IFLA_XDP);
    Ok(xdp.and_then(|(_, nested)| attrs(nested).find(|(t, _)| *t == IFLA_XDP_PROG_ID)).and_then(|(_, v)| u32_at(v, 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(payload);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn the_program_id_is_read_from_the_nested_xdp_attribute() {
        let mut body = vec![0u8; 16];
        body.extend(attr(3, b"veth0\0"));
        let xdp = [attr(2, &[1]), attr(IFLA_XDP_PROG_ID, &77u32.to_ne_bytes())].concat();
        body.extend(attr(IFLA_XDP | 0x8000, &xdp));
        assert_eq!(parse_reply(&message(RTM_NEWLINK, &body)).expect("parse"), Some(77));
        let mut none = vec![0u8; 16];
        none.extend(attr(IFLA_XDP, &attr(2, &[0])));
        assert_eq!(parse_reply(&message(RTM_NEWLINK, &none)).expect("parse"), None);
        let err = message(NLMSG_ERROR, &(-19i32).to_ne_bytes());
        assert_eq!(parse_reply(&err).expect_err("ENODEV").raw_os_error(), Some(19));
        assert!(parse_reply(&[1, 2]).is_err());
    }

    #[test]
    fn loopback_runs_no_xdp_program() {
        assert_eq!(xdp_prog_id(1).expect("ask the kernel about lo"), None);
        assert!(xdp_prog_id(u32::MAX - 1).is_err(), "no such interface");
    }
}
