//! Which numbers are UPS's: the formats of the MIT `tracking_number_data` set
//! (`couriers/ups.json`), each with its mod-10 check so typos are rejected.

use trackd_carrier_sdk::Detection;
use trackd_carrier_sdk::checksum::ups_1z_valid;

/// Detects `1Z` numbers and UPS waybills (`[AHJKTV]` + 9 digits + check digit).
pub fn detect(number: &str) -> Detection {
    if number.len() == 18 && number.starts_with("1Z") {
        return if ups_1z_valid(number) {
            Detection::Checksum
        } else {
            Detection::No
        };
    }
    if is_waybill_shape(number) {
        return if waybill_valid(number) {
            Detection::Checksum
        } else {
            Detection::No
        };
    }
    Detection::No
}

fn is_waybill_shape(number: &str) -> bool {
    let b = number.as_bytes();
    b.len() == 11
        && matches!(b[0], b'A' | b'H' | b'J' | b'K' | b'T' | b'V')
        && b[1..].iter().all(u8::is_ascii_digit)
}

/// `tracking_number_data` "mod10" over the 9 serial digits: even positions ×1,
/// odd positions ×2 (0-based, left to right), check = (10 - sum % 10) % 10.
fn waybill_valid(number: &str) -> bool {
    let b = number.as_bytes();
    let sum: u32 = b[1..10]
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 1 { 2 } else { 1 })
        .sum();
    u32::from(b[10] - b'0') == (10 - sum % 10) % 10
}
