//! Which numbers are FedEx's: the formats of the MIT `tracking_number_data` set
//! (`couriers/fedex.json`), each with its check digit so typos are rejected.

use trackd_carrier_sdk::Detection;
use trackd_carrier_sdk::checksum::mod10_weighted_check;

/// `fedex_12` weightings over the 11 serial digits (sum mod 11 mod 10).
const EXPRESS12_WEIGHTS: [u32; 11] = [3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1];
/// `fedex_34` / `fedex_ground_gsn` weightings over the 13 serial digits.
const SERIAL13_WEIGHTS: [u32; 13] = [1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1];

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

fn weighted_mod11(body: &[u8], weights: &[u32]) -> Option<u32> {
    if body.len() != weights.len() || !digits(body) {
        return None;
    }
    let sum: u32 = body
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(sum % 11 % 10)
}

/// Check digit of a 12-digit Express number's 11 serial digits.
pub fn express12_check_digit(body: &[u8]) -> Option<u32> {
    weighted_mod11(body, &EXPRESS12_WEIGHTS)
}

/// `tracking_number_data` "mod10" with odds ×3, evens ×1 counted from the left
/// (0-based), check = (10 - sum mod 10) mod 10.
fn ground_check(body: &[u8]) -> u32 {
    // `mod10_weighted_check` counts from the right; for an even-length body the
    // rightmost digit has an odd left index, so it weighs 3.
    if body.len().is_multiple_of(2) {
        mod10_weighted_check(body, 3, 1)
    } else {
        mod10_weighted_check(body, 1, 3)
    }
}

fn check_is(b: &[u8], check: Option<u32>) -> bool {
    match (b.last(), check) {
        (Some(c), Some(want)) => c.is_ascii_digit() && u32::from(c - b'0') == want,
        _ => false,
    }
}

/// Detects FedEx Express (12 and 34 digits, incl. the Ground GSN barcode) and
/// FedEx Ground (15 digits, and the 22-digit `96` barcode).
pub fn detect(number: &str) -> Detection {
    let b = number.as_bytes();
    if !digits(b) {
        return Detection::No;
    }
    let ok = match b.len() {
        12 => check_is(b, express12_check_digit(&b[..11])),
        15 => check_is(b, Some(ground_check(&b[..14]))),
        22 if b.starts_with(b"96") => check_is(b, Some(ground_check(&b[7..21]))),
        34 => check_is(b, weighted_mod11(&b[20..33], &SERIAL13_WEIGHTS)),
        _ => false,
    };
    if ok {
        Detection::Checksum
    } else {
        Detection::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_check_matches_left_indexed_definition() {
        let body = b"04144176022896";
        let sum: u32 = body
            .iter()
            .enumerate()
            .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 1 { 3 } else { 1 })
            .sum();
        assert_eq!(ground_check(body), (10 - sum % 10) % 10);
        assert_eq!(ground_check(body), 4);
    }
}
