//! Check-digit algorithms used by tracking number formats, so detection rejects typos.

/// Digit value of an alphanumeric character as UPS 1Z numbers use it
/// (letters map to `(ord - 63) % 10`).
fn ups_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some((u32::from(c) - 63) % 10),
        _ => None,
    }
}

/// UPS "1Z" check digit: the 16 characters after `1Z`, odd positions ×1, even ×2,
/// check = (10 - sum mod 10) mod 10.
pub fn ups_1z_valid(number: &str) -> bool {
    let b = number.as_bytes();
    if b.len() != 18 || &b[..2] != b"1Z" {
        return false;
    }
    let body = &b[2..17];
    let mut sum = 0;
    for (i, c) in body.iter().enumerate() {
        let Some(v) = ups_value(*c) else { return false };
        sum += if i % 2 == 1 { v * 2 } else { v };
    }
    let check = (10 - sum % 10) % 10;
    ups_value(b[17]) == Some(check) && b[17].is_ascii_digit()
}

/// UPU S10 (e.g. `RR123456785CA`): weights 8 6 4 2 3 5 9 7 over the 8 serial digits.
pub fn s10_valid(number: &str) -> bool {
    let b = number.as_bytes();
    if b.len() != 13
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[11..].iter().all(u8::is_ascii_uppercase)
        || !b[2..11].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let weights = [8, 6, 4, 2, 3, 5, 9, 7];
    let sum: u32 = b[2..10]
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c,
    };
    u32::from(b[10] - b'0') == check
}

/// Computes the S10 check digit for 8 serial digits (used by simulators to mint numbers).
pub fn s10_check_digit(serial: &[u8; 8]) -> u8 {
    let weights = [8u32, 6, 4, 2, 3, 5, 9, 7];
    let sum: u32 = serial
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c as u8,
    }
}

/// Luhn-style mod 10 with weights 3/1 from the right (as used by many postal PINs):
/// `digits` includes the check digit as last.
pub fn mod10_weighted_valid(digits: &str, odd_weight: u32, even_weight: u32) -> bool {
    let b = digits.as_bytes();
    if b.len() < 2 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (body, check) = b.split_at(b.len() - 1);
    u32::from(check[0] - b'0') == mod10_weighted_check(body, odd_weight, even_weight)
}

/// Check digit for `body` under the weighted mod-10 rule (weights from the rightmost digit).
pub fn mod10_weighted_check(body: &[u8], odd_weight: u32, even_weight: u32) -> u32 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d.saturating_sub(b'0'));
            if i % 2 == 0 {
                v * odd_weight
            } else {
                v * even_weight
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// Computes the UPS 1Z check character for a 15-character body (simulators mint numbers).
pub fn ups_1z_check_digit(body: &str) -> Option<char> {
    let mut sum = 0;
    for (i, c) in body.bytes().enumerate() {
        let v = ups_value(c)?;
        sum += if i % 2 == 1 { v * 2 } else { v };
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ups_documented_numbers_validate() {
        // Valid and invalid numbers from the MIT tracking_number_data set.
        for n in [
            "1Z5R89390357567127",
            "1Z879E930346834440",
            "1Z410E7W0392751591",
            "1ZXX3150YW44070023",
        ] {
            assert!(ups_1z_valid(n), "{n}");
        }
        assert!(!ups_1z_valid("1Z1111111111111111"));
        assert!(!ups_1z_valid("1Z5R89390357567128"));
        assert_eq!(ups_1z_check_digit("5R8939035756712"), Some('7'));
    }

    #[test]
    fn s10_examples() {
        assert!(s10_valid("RR123456785CA"));
        assert!(!s10_valid("RR123456784CA"));
        assert_eq!(s10_check_digit(&[1, 2, 3, 4, 5, 6, 7, 8]), 5);
    }

    #[test]
    fn weighted_mod10() {
        // body 12345678901234 5 with 3/1 weights from the right
        let check = mod10_weighted_check(b"123456789012345", 3, 1);
        let full = format!("123456789012345{check}");
        assert!(mod10_weighted_valid(&full, 3, 1));
    }
}
