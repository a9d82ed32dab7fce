//! The postnl plugin's answer parsing on arbitrary answers (see trackd_fuzz::parse).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trackd_fuzz::parse("postnl", data));
