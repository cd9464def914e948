//! Fuzz target: [`sensor_user::fuzzing::indicator_parser`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sensor_user::fuzzing::indicator_parser(data));
