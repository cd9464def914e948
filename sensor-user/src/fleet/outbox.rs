//! The durable outbox: decisions waiting for the server's acknowledgement, kept in a JSON
//! lines file rewritten atomically (temporary file, sync, rename) on every change, so a
//! sensor killed or restarted while the server is down publishes them when it returns.

use std::{io::Write, path::PathBuf};

use serde::{Deserialize, Serialize};

use super::FleetError;

/// One message to publish.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OutboxEntry {
    /// The subject.
    pub subject: String,
    /// The message id the server deduplicates on.
    pub msg_id: String,
    /// The JSON payload.
    pub payload: String,
}

/// The outbox file and its entries, oldest first.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    entries: Vec<OutboxEntry>,
}

impl Outbox {
    /// Opens (reading what a previous run left) the outbox at `path`; damaged lines are
    /// skipped and counted in the returned number.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn open(path: PathBuf) -> Result<(Self, usize), FleetError> {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(FleetError::Outbox { path, source }),
        };
        let mut bad = 0;
        let entries = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).map_err(|_| bad += 1).ok())
            .collect();
        Ok((Self { path, entries }, bad))
    }

    /// Entries not yet acknowledged.
    pub fn entries(&self) -> &[OutboxEntry] {
        &self.entries
    }

    /// Adds entries and saves.
    ///
    /// # Errors
    /// When the file cannot be written (the entries stay in memory).
    pub fn push(&mut self, e: impl IntoIterator<Item = OutboxEntry>) -> Result<(), FleetError> {
        self.entries.extend(e);
        self.save()
    }

    /// Removes the first `n` entries (acknowledged) and saves.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn done(&mut self, n: usize) -> Result<(), FleetError> {
        self.entries.drain(..n.min(self.entries.len()));
        self.save()
    }

    fn save(&self) -> Result<(), FleetError> {
        let err = |source| FleetError::Outbox { path: self.path.clone(), source };
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        for e in &self.entries {
            let line = serde_json::to_string(e).unwrap_or_default();
            f.write_all(line.as_bytes()).and_then(|()| f.write_all(b"\n")).map_err(err)?;
        }
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_support::TempDir;

    fn entry(i: u32) -> OutboxEntry {
        OutboxEntry {
            subject: "sensor.s.h.decision".into(),
            msg_id: format!("m{i}"),
            payload: format!("{{\"n\":{i}}}"),
        }
    }

    #[test]
    fn entries_survive_a_restart_until_acknowledged() {
        let dir = TempDir::new("fleet-outbox");
        let path = dir.path().join("fleet-outbox.jsonl");
        let (mut o, bad) = Outbox::open(path.clone()).expect("open");
        assert_eq!((o.entries().len(), bad), (0, 0));
        o.push([entry(1), entry(2), entry(3)]).expect("push");
        drop(o);
        let (mut o, _) = Outbox::open(path.clone()).expect("reopen");
        assert_eq!(o.entries(), &[entry(1), entry(2), entry(3)]);
        o.done(2).expect("ack");
        let (o, _) = Outbox::open(path.clone()).expect("reopen");
        assert_eq!(o.entries(), &[entry(3)]);
        std::fs::write(&path, "{\"subject\":\"x\",\"msg_id\":\"y\",\"payload\":\"z\"}\nnot json\n").expect("write");
        let (o, bad) = Outbox::open(path).expect("reopen");
        assert_eq!((o.entries().len(), bad), (1, 1));
    }
}
