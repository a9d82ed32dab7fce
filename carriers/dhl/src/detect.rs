//! DHL number formats from `tracking_number_data` (couriers/dhl.json): Express
//! waybills carry a mod-7 check digit, the other formats none.

use trackd_carrier_sdk::Detection;

/// Mod 7 (CHECKSUM_ALGORITHMS.md `validates_mod7?`): the serial as an integer,
/// modulo 7, equals the last digit.
pub fn mod7_valid(number: &str) -> bool {
    let b = number.as_bytes();
    if b.len() < 2 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (serial, check) = b.split_at(b.len() - 1);
    let Some(&check) = check.first() else {
        return false;
    };
    let rem = serial
        .iter()
        .fold(0u32, |acc, d| (acc * 10 + u32::from(d - b'0')) % 7);
    rem == u32::from(check - b'0')
}

/// A DHL Express waybill for `serial`: 9 serial digits plus the mod-7 digit.
pub fn mint_express(serial: u64) -> String {
    let body = serial % 1_000_000_000;
    format!("{body:09}{}", body % 7)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Express piece id: `J` + 2–3 letters + 9–10 digits.
fn piece_id(n: &str) -> bool {
    let Some(rest) = n.strip_prefix('J') else {
        return false;
    };
    let letters = rest.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = rest.get(letters..).unwrap_or("");
    (2..=3).contains(&letters) && (9..=10).contains(&digits.len()) && all_digits(digits)
}

/// eCommerce: a known prefix + 10–39 letters/digits with at least one digit.
fn ecommerce(n: &str) -> bool {
    const PREFIXES: [&str; 10] = ["GM", "LX", "RX", "UV", "CN", "SG", "TH", "IN", "HK", "MY"];
    PREFIXES.iter().any(|p| {
        n.strip_prefix(p).is_some_and(|rest| {
            (10..=39).contains(&rest.len())
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                && rest.bytes().any(|b| b.is_ascii_digit())
        })
    })
}

/// How sure we are that `number` (upper case, no spaces) is DHL's.
pub fn detect(number: &str) -> Detection {
    let n = number;
    if all_digits(n) && (n.len() == 10 || n.len() == 11) {
        return if mod7_valid(n) {
            Detection::Checksum
        } else {
            Detection::No
        };
    }
    if (all_digits(n) && n.len() == 14) || piece_id(n) || ecommerce(n) {
        return Detection::Pattern;
    }
    Detection::No
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod7_examples() {
        assert!(mod7_valid("3318810025"));
        assert!(mod7_valid("73891051146"));
        assert!(!mod7_valid("3318810010"));
        assert!(!mod7_valid("1"));
        assert!(!mod7_valid("12a4"));
        assert_eq!(mint_express(0), "0000000000");
        assert!(mod7_valid(&mint_express(u64::MAX)));
    }
}
