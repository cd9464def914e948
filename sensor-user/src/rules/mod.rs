//! The Suricata rule language: [`parse`] reads rule files into the compiled form ([`ir`]),
//! [`inspect`] matches one buffer's content/pcre/byte_* elements, [`engine`] groups the rules
//! behind a multi-pattern prefilter and runs them per packet and per transaction with
//! flowbits, thresholds and pass, [`buffers`] exposes the app-layer parsers' output as
//! sticky buffers, [`detector`] is the signature micro-agent inside the packet pipeline and
//! [`set`] loads, builds and reports a whole rule set.

pub mod buffers;
pub mod detector;
pub mod engine;
pub mod finding;
pub mod inspect;
pub mod ir;
pub mod parse;
pub mod policy;
pub mod set;

#[cfg(test)]
pub(crate) mod test_alloc;
