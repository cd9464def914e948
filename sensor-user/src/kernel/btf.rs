//! Struct member offsets from the kernel's BTF (`/sys/kernel/btf/vmlinux`).
//!
//! The kernel programs are built without CO-RE relocations, so user space resolves the few
//! `task_struct`/`mm_struct` offsets they need (ppid, exit code, argv) here and passes them
//! in the `CONFIG` map. The parser reads only what it needs of the BTF format
//! (<https://docs.kernel.org/bpf/btf.html>): the type section and the string section.

use std::collections::HashMap;

use sensor_common::config::TaskOffsets;

/// Errors reading BTF.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// The file could not be read.
    #[error("cannot read kernel BTF at {path} (a kernel built with CONFIG_DEBUG_INFO_BTF=y is required)")]
    Read {
        /// The path tried.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The data is not BTF or is truncated.
    #[error("malformed BTF: {what}")]
    Malformed {
        /// What was wrong.
        what: &'static str,
    },
}

const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;

#[derive(Clone, Copy)]
struct Member {
    name_off: u32,
    type_id: u32,
    bit_offset: u32,
}

/// A parsed BTF blob: composite types and their members, by type id.
pub struct Btf {
    strings: Vec<u8>,
    /// type id -> (kind, name_off, members); only structs and unions keep members.
    types: Vec<(u32, u32, Vec<Member>)>,
    by_name: HashMap<(u32, String), u32>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, BtfError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(BtfError::Malformed { what: "truncated" })
}

impl Btf {
    /// Reads and parses `path`.
    pub fn from_file(path: &str) -> Result<Self, BtfError> {
        let data = std::fs::read(path).map_err(|source| BtfError::Read { path: path.into(), source })?;
        Self::parse(&data)
    }

    /// Parses a little-endian BTF blob.
    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        if data.len() < 24 || data[0..2] != [0x9f, 0xeb] {
            return Err(BtfError::Malformed { what: "bad magic" });
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_bytes = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or(BtfError::Malformed { what: "type section out of bounds" })?;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or(BtfError::Malformed { what: "string section out of bounds" })?
            .to_vec();
        let mut btf = Btf { strings, types: vec![(0, 0, Vec::new())], by_name: HashMap::new() };
        let mut off = 0;
        while off + 12 <= types_bytes.len() {
            let name_off = u32_at(types_bytes, off)?;
            let info = u32_at(types_bytes, off + 4)?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let kind_flag = info >> 31 == 1;
            off += 12;
            let extra = match kind {
                1 | 3 | 14 | 17 => match kind {
                    1 | 14 | 17 => 4,
                    _ => 12,
                },
                4 | 5 | 15 | 19 => vlen * 12,
                6 | 13 => vlen * 8,
                _ => 0,
            };
            let mut members = Vec::new();
            if kind == KIND_STRUCT || kind == KIND_UNION {
                for i in 0..vlen {
                    let m = off + i * 12;
                    let raw_off = u32_at(types_bytes, m + 8)?;
                    members.push(Member {
                        name_off: u32_at(types_bytes, m)?,
                        type_id: u32_at(types_bytes, m + 4)?,
                        bit_offset: if kind_flag { raw_off & 0x00ff_ffff } else { raw_off },
                    });
                }
            }
            off += extra;
            let id = btf.types.len() as u32;
            if (kind == KIND_STRUCT || kind == KIND_UNION) && name_off != 0 {
                let name = btf.string(name_off).to_owned();
                btf.by_name.entry((kind, name)).or_insert(id);
            }
            btf.types.push((kind, name_off, members));
        }
        if off != types_bytes.len() {
            return Err(BtfError::Malformed { what: "type section does not end on a type" });
        }
        Ok(btf)
    }

    fn string(&self, off: u32) -> &str {
        let s = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or("")
    }

    /// Byte offset of `member` in `struct name`, looking through anonymous struct/union
    /// members (as in `mm_struct`).
    pub fn member_offset(&self, name: &str, member: &str) -> Option<u32> {
        let id = *self.by_name.get(&(KIND_STRUCT, name.to_owned()))?;
        self.find(id, member, 0, 0).map(|bits| bits / 8)
    }

    fn find(&self, id: u32, member: &str, base_bits: u32, depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        let (_, _, members) = self.types.get(id as usize)?;
        for m in members {
            if m.name_off != 0 && self.string(m.name_off) == member {
                return Some(base_bits + m.bit_offset);
            }
        }
        for m in members.iter().filter(|m| m.name_off == 0) {
            if let Some(found) = self.find(m.type_id, member, base_bits + m.bit_offset, depth + 1) {
                return Some(found);
            }
        }
        None
    }

    /// The offsets the kernel programs need; unresolved members stay 0 (reported as 0).
    pub fn task_offsets(&self) -> TaskOffsets {
        let t = |m| self.member_offset("task_struct", m).unwrap_or(0);
        let mm = |m| self.member_offset("mm_struct", m).unwrap_or(0);
        TaskOffsets {
            real_parent: t("real_parent"),
            tgid: t("tgid"),
            mm: t("mm"),
            exit_code: t("exit_code"),
            arg_start: mm("arg_start"),
            arg_end: mm("arg_end"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob with `struct outer { int a; struct { int b; }; }` built by hand.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0outer\0a\0b\0".to_vec();
        let mut types = Vec::new();
        let mut push = |v: &[u32]| v.iter().for_each(|x| types.extend_from_slice(&x.to_le_bytes()));
        push(&[1, 1 << 24, 4, 0x0100_0020]); // [1] int, 4 bytes, 32 bits
        push(&[0, (KIND_STRUCT << 24) | 1, 4, 13, 1, 0]); // [2] anon struct { int b @0 }
        push(&[5, (KIND_STRUCT << 24) | 2, 8, 11, 1, 0, 0, 2, 32]); // [3] outer { a @0, anon @32 }
        let mut out = Vec::new();
        for v in [0xeb9f_u32 | (1 << 16), 24, 0, types.len() as u32, types.len() as u32, strings.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        // Fix the first word: magic (2 bytes), version 1, flags 0.
        out[0..4].copy_from_slice(&[0x9f, 0xeb, 1, 0]);
        out.extend_from_slice(&types);
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn finds_direct_and_anonymous_members() {
        let btf = Btf::parse(&blob()).expect("valid blob");
        assert_eq!(btf.member_offset("outer", "a"), Some(0));
        assert_eq!(btf.member_offset("outer", "b"), Some(4));
        assert_eq!(btf.member_offset("outer", "zz"), None);
        assert_eq!(btf.member_offset("nope", "a"), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(b"not btf at all, not at all").is_err());
        let mut b = blob();
        b.truncate(30);
        assert!(Btf::parse(&b).is_err());
    }

    #[test]
    fn resolves_task_struct_offsets_on_this_kernel() {
        let Ok(btf) = Btf::from_file("/sys/kernel/btf/vmlinux") else {
            eprintln!("skipped: this kernel exposes no BTF at /sys/kernel/btf/vmlinux");
            return;
        };
        let o = btf.task_offsets();
        assert!(o.real_parent > 0 && o.tgid > 0 && o.mm > 0 && o.exit_code > 0, "{o:?}");
        assert!(o.arg_end > o.arg_start && o.arg_start > 0, "{o:?}");
    }
}
