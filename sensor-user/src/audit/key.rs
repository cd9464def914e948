//! [`load_key`]: the HMAC key file of the audit log.
//!
//! The key is what makes a rewritten log detectable (see `chain`), so a key file that group
//! or others can read or write is refused rather than used.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::AuditError;
use super::chain::decode_hex;

/// Fewest raw key bytes accepted (the SHA-256 output size).
const MIN_RAW: usize = 32;
/// Fewest hex characters accepted.
const MIN_HEX: usize = 2 * MIN_RAW;

/// Loads an HMAC key file: refuses a file readable or writable by group or others (the reason
/// is in the error); accepts 64+ hex characters (surrounding whitespace trimmed), or else 32+
/// raw bytes (used as they are).
///
/// # Errors
///
/// [`AuditError::Io`] if the file cannot be opened or read; [`AuditError::KeyFile`] if it is
/// not a regular file, its mode is too open, it is too short, or it holds an odd number of
/// hex characters.
pub fn load_key(path: &Path) -> Result<Vec<u8>, AuditError> {
    let refuse = |reason: String| AuditError::KeyFile { path: path.to_owned(), reason };
    let mut file = std::fs::File::open(path).map_err(AuditError::io("open the key file", path))?;
    // Checked on the open file, so the file read is the file checked.
    let meta = file.metadata().map_err(AuditError::io("read the metadata of", path))?;
    if !meta.is_file() {
        return Err(refuse("it is not a regular file".to_owned()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refuse(format!("its mode {mode:04o} lets group or others read or write it (chmod 600 it)")));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(AuditError::io("read the key file", path))?;
    let trimmed = bytes.trim_ascii();
    if trimmed.len() >= MIN_HEX && trimmed.iter().all(u8::is_ascii_hexdigit) {
        return decode_hex(trimmed)
            .ok_or_else(|| refuse(format!("it holds an odd number ({}) of hex characters", trimmed.len())));
    }
    if bytes.len() >= MIN_RAW {
        return Ok(bytes);
    }
    Err(refuse(format!(
        "it holds {} byte(s): a key needs {MIN_RAW}+ raw bytes or {MIN_HEX}+ hex characters",
        bytes.len()
    )))
}

#[cfg(test)]
mod tests {
    use std::fs::Permissions;

    use super::*;
    use crate::audit::test_support::TempDir;

    fn key_file(dir: &TempDir, content: &[u8], mode: u32) -> std::path::PathBuf {
        let path = dir.path().join("audit.key");
        std::fs::write(&path, content).expect("write key");
        std::fs::set_permissions(&path, Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn a_world_readable_key_file_is_refused_with_its_mode() {
        let dir = TempDir::new("key-0644");
        let path = key_file(&dir, &[7; 32], 0o644);
        match load_key(&path) {
            Err(AuditError::KeyFile { reason, .. }) => assert!(reason.contains("0644"), "{reason}"),
            other => panic!("expected KeyFile, got {other:?}"),
        }
    }

    #[test]
    fn a_group_writable_key_file_is_refused() {
        let dir = TempDir::new("key-0620");
        let path = key_file(&dir, &[7; 32], 0o620);
        assert!(matches!(load_key(&path), Err(AuditError::KeyFile { .. })));
    }

    #[test]
    fn a_private_raw_key_file_is_accepted_as_is() {
        let dir = TempDir::new("key-raw");
        let raw: Vec<u8> = (0..40).map(|i| i as u8 ^ 0x5a).collect();
        let path = key_file(&dir, &raw, 0o600);
        assert_eq!(load_key(&path).expect("load"), raw);
    }

    #[test]
    fn a_private_hex_key_file_is_decoded_after_trimming() {
        let dir = TempDir::new("key-hex");
        let hex = format!("  {}\n", "0a".repeat(32));
        let path = key_file(&dir, hex.as_bytes(), 0o600);
        assert_eq!(load_key(&path).expect("load"), vec![0x0a; 32]);
    }

    #[test]
    fn a_short_key_is_refused() {
        let dir = TempDir::new("key-short");
        let path = key_file(&dir, b"0123456789abcdef", 0o600);
        assert!(matches!(load_key(&path), Err(AuditError::KeyFile { .. })));
    }

    #[test]
    fn odd_length_hex_is_refused() {
        let dir = TempDir::new("key-odd");
        let path = key_file(&dir, "a".repeat(65).as_bytes(), 0o600);
        assert!(matches!(load_key(&path), Err(AuditError::KeyFile { reason, .. }) if reason.contains("odd")));
    }
}
