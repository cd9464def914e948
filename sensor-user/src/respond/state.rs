//! The governor's state file: feedback, offences, live blocks and the latest incidents,
//! written by write-then-rename so a crash never leaves a torn file.

use std::{io, path::Path};

use super::governor::GovState;

/// Loads the state; a missing file is a fresh state, a damaged one an error naming it.
pub fn load(path: &Path) -> io::Result<GovState> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is damaged: {e} (move it aside to start afresh)", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(GovState::default()),
        Err(e) => Err(e),
    }
}

/// Saves the state atomically.
pub fn save(path: &Path, state: &GovState) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(state).map_err(io::Error::other)?)?;
    std::fs::rename(tmp, path)
}
