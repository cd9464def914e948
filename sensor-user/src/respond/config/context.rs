//! Positions and typed values for validation: byte offsets to lines, `FILE:LINE: KEY: REASON`
//! errors (including toml's own, with a best-effort dotted key), and readers for numbers,
//! integers, durations and class names that fall back to a default when the key is absent.

use std::time::Duration;

use toml::Spanned;

use super::{AuthorityMatrix, GovConfigError, raw::Opt};
use crate::block::{self, BlockError};

pub(super) type Result<T> = std::result::Result<T, GovConfigError>;

/// The text being validated, for turning byte offsets into lines and building errors.
pub(super) struct Ctx<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a str,
}

impl Ctx<'_> {
    /// 1-based line of a byte offset.
    pub(super) fn line(&self, offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1
    }

    pub(super) fn at<T>(&self, s: &Spanned<T>) -> usize {
        self.line(s.span().start)
    }

    pub(super) fn err(&self, line: usize, key: &str, reason: impl Into<String>) -> GovConfigError {
        GovConfigError::Invalid { file: self.file.to_owned(), line, key: key.to_owned(), reason: reason.into() }
    }

    /// A syntax, type or unknown-key error from `toml`, at the line of its span.
    pub(super) fn toml_error(&self, e: &toml::de::Error) -> GovConfigError {
        let start = e.span().map_or(0, |s| s.start);
        let reason = e
            .message()
            .trim()
            .replace('\n', ": ")
            .replace("expected i64", "expected an integer")
            .replace("expected f64", "expected a number");
        self.err(self.line(start), &self.key_at(e.span()), reason)
    }

    /// Best-effort dotted key for a position: the enclosing `[table]` plus the key of the
    /// line (the text before `=`) or the bare key under the span.
    fn key_at(&self, span: Option<std::ops::Range<usize>>) -> String {
        let Some(span) = span else { return "(file)".to_owned() };
        let bytes = self.text.as_bytes();
        let start = span.start.min(bytes.len());
        let line_start = bytes[..start].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line_end = bytes[start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| start + i);
        let line = self.text.get(line_start..line_end).unwrap_or("");
        if line.trim_start().starts_with('[') {
            return header_name(line);
        }
        let header = self.text.get(..line_start).unwrap_or("").lines().rev().find(|l| l.trim_start().starts_with('['));
        let local = match line.find('=') {
            Some(eq) if eq < start - line_start => line[..eq].trim(),
            _ => self.text.get(span).filter(|s| is_bare_key(s)).unwrap_or(""),
        };
        match (header.map(header_name), local) {
            (Some(h), "") => h,
            (Some(h), k) => format!("{h}.{k}"),
            (None, "") => "(top level)".to_owned(),
            (None, k) => k.to_owned(),
        }
    }

    /// A number checked against `ok`, or the default.
    pub(super) fn number(
        &self,
        v: Opt<f64>,
        default: f64,
        key: &str,
        allowed: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let Some(v) = v else { return Ok(default) };
        let x = *v.get_ref();
        if x.is_finite() && ok(x) {
            Ok(x)
        } else {
            Err(self.err(self.at(&v), key, format!("must be {allowed}, got {x}")))
        }
    }

    /// An integer checked against `ok` and converted to `T`, or the default.
    pub(super) fn integer<T: TryFrom<i64>>(
        &self,
        v: Opt<i64>,
        default: T,
        key: &str,
        allowed: &str,
        ok: impl Fn(i64) -> bool,
    ) -> Result<T> {
        let Some(v) = v else { return Ok(default) };
        let x = *v.get_ref();
        let bad = || self.err(self.at(&v), key, format!("must be {allowed}, got {x}"));
        if !ok(x) {
            return Err(bad());
        }
        T::try_from(x).map_err(|_| bad())
    }

    /// A duration (`30s`, `10m`, `1h`, `7d`), or the default; with the line when given.
    pub(super) fn duration(&self, v: Opt<String>, default: Duration, key: &str) -> Result<(Duration, Option<usize>)> {
        match v {
            None => Ok((default, None)),
            Some(s) => Ok((self.parse_duration(&s, key)?, Some(self.at(&s)))),
        }
    }

    pub(super) fn parse_duration(&self, s: &Spanned<String>, key: &str) -> Result<Duration> {
        let text = s.get_ref();
        let reason = match block::parse_ttl(text) {
            Ok(Some(d)) => return Ok(d),
            Ok(None) => format!(
                "{text:?} means no expiry, which is not allowed here; give a duration such as 30s, 10m, 1h or 7d"
            ),
            Err(BlockError::InvalidTtl { reason, .. }) => {
                format!("{text:?} is not a duration: {reason} (examples: 30s, 10m, 1h, 7d)")
            }
            Err(e) => e.to_string(),
        };
        Err(self.err(self.at(s), key, reason))
    }

    /// `class` must have an `[authority.CLASS]` table.
    pub(super) fn known_class(&self, m: &AuthorityMatrix, class: &str, line: usize, key: &str) -> Result<()> {
        if m.has_class(class) {
            return Ok(());
        }
        let known: Vec<&str> = m.classes().collect();
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        Err(self.err(line, key, format!("class {class:?} has no [authority.{class}] table (classes defined: {known})")))
    }

    /// A section's content (empty when absent) and the line of its header (1 when absent).
    pub(super) fn section<T: Default>(&self, s: Opt<T>) -> (T, usize) {
        match s {
            Some(s) => {
                let line = self.at(&s);
                (s.into_inner(), line)
            }
            None => (T::default(), 1),
        }
    }
}

fn header_name(line: &str) -> String {
    line.trim_start().trim_start_matches('[').split(']').next().unwrap_or("").trim().to_owned()
}

fn is_bare_key(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// `90s`, `10m`, `1h`, `7d`: the largest unit that divides the duration.
pub(super) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_owned(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}
