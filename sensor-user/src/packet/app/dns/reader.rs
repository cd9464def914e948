//! Bounds-checked big-endian cursor over a DNS message.

use super::DnsError;
use super::name;

/// Cursor over a whole message; every read checks bounds and reports where it failed.
pub(super) struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at `pos` in `msg`.
    pub(super) fn new(msg: &'a [u8], pos: usize) -> Self {
        Self { msg, pos }
    }

    /// Current offset.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The whole message (names in rdata may point anywhere in it).
    pub(super) fn message(&self) -> &'a [u8] {
        self.msg
    }

    /// Next `n` bytes, or `Truncated` at the current offset.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let end = self.pos.checked_add(n).ok_or(DnsError::Truncated { offset: self.pos })?;
        let bytes = self.msg.get(self.pos..end).ok_or(DnsError::Truncated { offset: self.pos })?;
        self.pos = end;
        Ok(bytes)
    }

    /// Next byte.
    pub(super) fn u8(&mut self) -> Result<u8, DnsError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// Next big-endian u16.
    pub(super) fn u16(&mut self) -> Result<u16, DnsError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Next big-endian u32.
    pub(super) fn u32(&mut self) -> Result<u32, DnsError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DnsError> {
        let at = self.pos;
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| DnsError::Truncated { offset: at })
    }

    /// Decodes the (possibly compressed) name here and moves past it.
    pub(super) fn name(&mut self) -> Result<Vec<u8>, DnsError> {
        let (name, end) = name::read_name(self.msg, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    /// Moves past the name here without expanding it (labels up to a zero byte or a pointer).
    pub(super) fn skip_name(&mut self) -> Result<(), DnsError> {
        loop {
            let at = self.pos;
            let len = self.u8()?;
            match len & 0xc0 {
                0x00 if len == 0 => return Ok(()),
                0x00 => {
                    self.take(usize::from(len)).map_err(|_| DnsError::Truncated { offset: at })?;
                }
                0xc0 => {
                    self.u8().map_err(|_| DnsError::Truncated { offset: at })?;
                    return Ok(());
                }
                _ => return Err(DnsError::BadLabelType { offset: at }),
            }
        }
    }
}
