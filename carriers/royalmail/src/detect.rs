//! Which numbers are Royal Mail's.

use trackd_carrier_sdk::Detection;
use trackd_carrier_sdk::checksum::{s10_check_digit, s10_valid};

/// Royal Mail's UPU country code, the suffix of its S10 numbers.
const COUNTRY: &str = "GB";

/// - UPU S10 issued by Royal Mail (`AA` + 8 digits + check digit + `GB`):
///   `Checksum` when the mod-11 check digit is valid, else `No`;
/// - the 21-character 2D `uniqueItemId` (`090367574000000FE1E1B`, hex-like) and
///   the 16-character domestic form (`AA` + 12 digits + `GB`): `Pattern`, as
///   neither has a published check digit.
pub fn detect(n: &str) -> Detection {
    let b = n.as_bytes();
    match b.len() {
        13 if n.ends_with(COUNTRY) => {
            if s10_valid(n) {
                Detection::Checksum
            } else {
                Detection::No
            }
        }
        16 if n.ends_with(COUNTRY)
            && b.get(..2)
                .is_some_and(|p| p.iter().all(u8::is_ascii_uppercase))
            && b.get(2..14)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit)) =>
        {
            Detection::Pattern
        }
        21 if b
            .iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
            && b.iter().any(u8::is_ascii_alphabetic) =>
        {
            Detection::Pattern
        }
        _ => Detection::No,
    }
}

/// A valid S10 `T?########?GB` number for `serial` (distinct for 2.6e9 serials).
pub fn mint(serial: u64) -> String {
    let body = serial % 100_000_000;
    let letter = char::from(b'A' + u8::try_from((serial / 100_000_000) % 26).unwrap_or(0));
    let digits = format!("{body:08}");
    let mut arr = [0u8; 8];
    for (slot, c) in arr.iter_mut().zip(digits.bytes()) {
        *slot = c - b'0';
    }
    let check = s10_check_digit(&arr);
    format!("T{letter}{digits}{check}{COUNTRY}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_numbers() {
        // `oneDBarcode` of the Royal Mail sample and tracking_number_data's S10 example.
        assert_eq!(detect("FQ087430672GB"), Detection::Checksum);
        assert_eq!(detect("RB123456785GB"), Detection::Checksum);
        assert_eq!(detect("RB123456786GB"), Detection::No);
        assert_eq!(detect("RB123456785US"), Detection::No);
        assert_eq!(detect("090367574000000FE1E1B"), Detection::Pattern);
        assert_eq!(detect("AB123456789012GB"), Detection::Pattern);
        assert_eq!(detect("123456789012345678901"), Detection::No);
        assert_eq!(detect(""), Detection::No);
        assert_eq!(detect(&mint(42)), Detection::Checksum);
    }
}
