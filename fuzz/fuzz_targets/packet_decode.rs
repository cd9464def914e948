//! Fuzz target: [`sensor_user::fuzzing::packet_decode`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sensor_user::fuzzing::packet_decode(data));
