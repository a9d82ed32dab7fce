//! The config loader on arbitrary text and overrides (see trackd_fuzz::config_load).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trackd_fuzz::config_load(data));
