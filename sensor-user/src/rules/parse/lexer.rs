//! Splits rule text into header fields and `keyword[:value];` options, honouring the rule
//! language's `\;` `\"` `\\` escapes. As in Suricata, an option ends at the first unescaped `;`
//! even inside quotes (ET has `pcre:"/^["']?x/"`); quote balance is checked per value by
//! [`strip_quotes`]. Values are returned raw (escapes kept); handlers unquote them with [`unquote`].

use super::error::SyntaxError;

/// The seven header fields of a rule, borrowed from the rule text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    /// `alert`, `drop`, ...
    pub action: &'a str,
    /// `tcp`, `http`, ...
    pub proto: &'a str,
    /// Source address expression.
    pub src: &'a str,
    /// Source port expression.
    pub sport: &'a str,
    /// `->`, `<>`, ...
    pub dir: &'a str,
    /// Destination address expression.
    pub dst: &'a str,
    /// Destination port expression.
    pub dport: &'a str,
}

fn bad_header(detail: impl Into<String>) -> SyntaxError {
    SyntaxError::BadHeader { detail: detail.into() }
}

/// Splits `action proto src sport dir dst dport (options)` into the header and the text between
/// the parentheses. Brackets in address/port lists may contain spaces.
pub(crate) fn split_rule(text: &str) -> Result<(Header<'_>, &str), SyntaxError> {
    let open = text.find('(').ok_or_else(|| bad_header("no '(' starting the options"))?;
    let close = text.rfind(')').ok_or_else(|| bad_header("no ')' ending the options"))?;
    if close < open {
        return Err(bad_header("')' before '('"));
    }
    if !text[close + 1..].trim().is_empty() {
        return Err(bad_header("text after the closing ')'"));
    }
    let mut fields: [&str; 7] = [""; 7];
    let mut n = 0;
    let head = &text[..open];
    let bytes = head.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0i32;
        while i < bytes.len() && (depth > 0 || !bytes[i].is_ascii_whitespace()) {
            match bytes[i] {
                b'[' => depth += 1,
                b']' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        if depth != 0 {
            return Err(bad_header("unbalanced brackets"));
        }
        if n == 7 {
            return Err(bad_header("too many header fields"));
        }
        fields[n] = &head[start..i];
        n += 1;
    }
    if n != 7 {
        return Err(bad_header(format!("expected 7 header fields, found {n}")));
    }
    let [action, proto, src, sport, dir, dst, dport] = fields;
    Ok((Header { action, proto, src, sport, dir, dst, dport }, &text[open + 1..close]))
}

/// One `keyword[:value]` option; `value` is trimmed but still escaped/quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawOption<'a> {
    /// The keyword (trimmed).
    pub keyword: &'a str,
    /// The raw value, if a `:` was given.
    pub value: Option<&'a str>,
}

/// Iterates over the options of a rule body. Each option ends at an unescaped `;`.
pub(crate) struct Options<'a> {
    rest: &'a str,
}

impl<'a> Options<'a> {
    /// Options of the body between the rule's parentheses.
    pub(crate) fn new(body: &'a str) -> Self {
        Options { rest: body }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<RawOption<'a>, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.trim_start();
        if s.is_empty() {
            return None;
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut in_quote = false;
        let mut colon = None;
        let mut end = None;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 1,
                b'"' => in_quote = !in_quote,
                b':' if colon.is_none() => colon = Some(i),
                b';' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let Some(end) = end else {
            self.rest = "";
            if in_quote {
                return Some(Err(SyntaxError::UnterminatedQuote));
            }
            return Some(Err(SyntaxError::BadOption {
                keyword: s.split(':').next().unwrap_or(s).trim().to_string(),
                detail: "option not terminated by ';'".into(),
            }));
        };
        self.rest = &s[end + 1..];
        let opt = match colon {
            Some(c) => RawOption { keyword: s[..c].trim(), value: Some(s[c + 1..end].trim()) },
            None => RawOption { keyword: s[..end].trim(), value: None },
        };
        if opt.keyword.is_empty() || opt.keyword.contains(char::is_whitespace) || opt.keyword.contains('"') {
            return Some(Err(SyntaxError::BadOption {
                keyword: opt.keyword.to_string(),
                detail: "malformed keyword".into(),
            }));
        }
        Some(Ok(opt))
    }
}

/// Strips one pair of surrounding quotes (if present) and resolves `\;` `\"` `\\` `\:` escapes
/// (other backslashes are kept). A lone quote at one end is an [`SyntaxError::UnterminatedQuote`].
pub(crate) fn unquote(value: &str) -> Result<String, SyntaxError> {
    let inner = strip_quotes(value)?;
    Ok(unescape(inner, b";\"\\:"))
}

/// Strips one pair of surrounding quotes; an unbalanced quote is an error.
pub(crate) fn strip_quotes(value: &str) -> Result<&str, SyntaxError> {
    let v = value.trim();
    let starts = v.starts_with('"');
    let ends = v.len() >= 2 && v.ends_with('"') && !escaped_at(v, v.len() - 1);
    match (starts, ends) {
        (true, true) => Ok(&v[1..v.len() - 1]),
        (false, false) => Ok(v),
        _ => Err(SyntaxError::UnterminatedQuote),
    }
}

/// Is the byte at `pos` preceded by an odd number of backslashes?
fn escaped_at(s: &str, pos: usize) -> bool {
    s.as_bytes()[..pos].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// Replaces `\c` by `c` for each `c` in `which`; other escapes are kept verbatim.
pub(crate) fn unescape(s: &str, which: &[u8]) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n) if n.is_ascii() && which.contains(&(n as u8)) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}
