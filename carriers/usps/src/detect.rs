//! USPS number formats (`tracking_number_data/couriers/usps.json`): IMpb and
//! legacy 20/22/26-digit numbers with a mod-10 check digit, the same with the
//! `420` + ZIP routing prefix, and UPU S10 numbers ending in `US`.

use trackd_carrier_sdk::Detection;
use trackd_carrier_sdk::checksum::{mod10_weighted_check, mod10_weighted_valid, s10_valid};

/// USPS mod 10: weights 3 and 1 alternating from the rightmost body digit
/// (every USPS serial body has odd length, so this equals the data set's
/// left-to-right `evens_multiplier: 3` and `reverse: true` variants).
pub fn impb_valid(digits: &str) -> bool {
    mod10_weighted_valid(digits, 3, 1)
}

/// The check digit for a USPS serial body.
pub fn impb_check(body: &str) -> u32 {
    mod10_weighted_check(body.as_bytes(), 3, 1)
}

fn serial_valid(s: &str) -> bool {
    match s.len() {
        // USPS 20 (Delivery/Signature Confirmation printed without the
        // application id); the legacy variant checks with `91` prepended.
        20 => impb_valid(s) || impb_valid(&format!("91{s}")),
        // IMpb 91-95 + service type + mailer id + package id (22 or 26 digits).
        22 | 26 => s.starts_with('9') && impb_valid(s),
        _ => false,
    }
}

/// How sure we are that `number` (upper case, no spaces) is a USPS number.
pub fn detect(number: &str) -> Detection {
    let b = number.as_bytes();
    if b.len() == 13 && number.ends_with("US") {
        return if s10_valid(number) {
            Detection::Checksum
        } else {
            Detection::No
        };
    }
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return Detection::No;
    }
    if serial_valid(number) {
        return Detection::Checksum;
    }
    // `420` + 5- or 9-digit ZIP routing prefix before an IMpb serial.
    if let Some(rest) = number.strip_prefix("420") {
        for zip in [5, 9] {
            if let Some(serial) = rest.get(zip..)
                && (serial.len() == 22 || serial.len() == 26)
                && serial_valid(serial)
            {
                return Detection::Checksum;
            }
        }
    }
    Detection::No
}

/// A 22-digit IMpb number `94001` + 16 serial digits + check digit: the
/// "online/vendor label, USPS Ground Advantage" shape of real labels.
pub fn mint(serial: u64) -> String {
    let body = format!("94001{:016}", serial % 10_000_000_000_000_000);
    let check = impb_check(&body);
    format!("{body}{check}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// Valid and invalid test numbers of `tracking_number_data` usps.json.
    #[test]
    fn documented_test_numbers() {
        for n in [
            "0307 1790 0005 2348 3741",
            "7112 3456 7891 2345 6787",
            "420787459400111206206406260787",
            "9400111206206406260787",
            "9400 1112 0108 0805 4830 16",
            "9405803699300124287899",
            "9434611206206406227577",
            "9434611206206407667136",
            "9400111206206407628746",
            "9400111206206407628845",
            "420 22153 9101026837331000039521",
            "9101 1234 5678 9000 0000 13",
            "7196 9010 7560 0307 7385",
            "4201002334249200190132607600833457",
            "4201028200009261290113185417468510",
            "9505 5110 6960 5048 6006 24",
            "92748931507708513018050063",
            "92001903060085300042901077",
            "9361 2898 7870 0317 6337 95",
            "9261292700768711948021",
            "420 11213 92 6129098349792366623 8",
            "92 6129098349792366623 8",
            "420902459261290336128704042634",
            "420193809261290336128704280838",
        ] {
            assert_eq!(detect(&norm(n)), Detection::Checksum, "{n}");
        }
        for n in [
            "0307 1790 0005 2348 3742",
            "9434611206206407667131",
            "9434611306206407667222",
            "2334611306206407667222",
            "9101 1234 5678 9000 0000 14",
            "7196 9010 7560 0307 7386",
            "4201028200009261290113185417468511",
        ] {
            assert_eq!(detect(&norm(n)), Detection::No, "{n}");
        }
    }

    #[test]
    fn s10_and_others() {
        assert_eq!(detect("EJ958083578US"), Detection::Checksum);
        assert_eq!(detect("EJ958083579US"), Detection::No);
        assert_eq!(detect("RR123456785CA"), Detection::No);
        assert_eq!(detect("1Z5R89390357567127"), Detection::No);
        assert_eq!(detect(""), Detection::No);
        assert_eq!(detect(&mint(0)), Detection::Checksum);
        assert_eq!(detect(&mint(u64::MAX)), Detection::Checksum);
        assert_eq!(mint(7).len(), 22);
    }
}
