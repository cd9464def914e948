//! Fuzz target: [`sensor_user::fuzzing::log_parser`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sensor_user::fuzzing::log_parser(data));
