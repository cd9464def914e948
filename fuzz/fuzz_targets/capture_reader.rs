//! Fuzz target: [`sensor_user::fuzzing::capture_reader`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sensor_user::fuzzing::capture_reader(data));
