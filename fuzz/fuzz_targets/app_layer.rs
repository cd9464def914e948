//! Fuzz target: [`sensor_user::fuzzing::app_layer`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sensor_user::fuzzing::app_layer(data));
