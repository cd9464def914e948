//! A loopback port on this host forwarded into a network namespace, so a browser here can
//! open the console the demo's sensor serves on its namespace's loopback. Each connection
//! gets a thread that joins the namespace (setns applies to the calling thread only) and
//! connects there; bytes are copied both ways until either side closes.

use std::{
    fs::File,
    io,
    net::{Shutdown, TcpListener, TcpStream},
    os::fd::AsRawFd,
    thread,
};

use anyhow::{Context, Result};

/// Listens on 127.0.0.1:`port` and forwards each connection to 127.0.0.1:`port` inside
/// namespace `ns` (named by `ip netns`). Runs until the process exits.
pub fn start(ns: &str, port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).with_context(|| format!("127.0.0.1:{port} is taken"))?;
    let path = format!("/run/netns/{ns}");
    thread::Builder::new().name("console-forward".into()).spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let path = path.clone();
            let _ = thread::Builder::new().spawn(move || {
                if let Ok(server) = connect_in(&path, port) {
                    pipe(client, server);
                }
            });
        }
    })?;
    Ok(())
}

/// Joins the namespace at `path` (this thread only) and connects to its loopback `port`.
fn connect_in(path: &str, port: u16) -> io::Result<TcpStream> {
    let ns = File::open(path)?;
    // SAFETY: `ns` is an open namespace file for the duration of the call; setns changes
    // only this thread's network namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    TcpStream::connect(("127.0.0.1", port))
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    let up = thread::spawn(move || copy(a2, b2));
    copy(b, a);
    let _ = up.join();
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
