//! Tracking-number detection on arbitrary input (see trackd_fuzz::detect_number).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trackd_fuzz::detect_number(data));
