//! DPD parcel label numbers: the 14-digit parcel number, optionally followed by
//! its ISO 7064 MOD 37,36 check character, or the 28-character barcode form
//! (tracking_number_data `dpd` / `dpd_14`).

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// MOD 37,36 check character over `body` (DPD Parcel Label Specification 2.4.1).
pub fn check_char(body: &str) -> Option<char> {
    const M: u32 = 36;
    let mut cd = M;
    for c in body.bytes() {
        cd += value(c.to_ascii_uppercase())?;
        if cd > M {
            cd -= M;
        }
        cd *= 2;
        if cd > M {
            cd -= M + 1;
        }
    }
    let mut cd = (M + 1).saturating_sub(cd);
    if cd == M {
        cd = 0;
    }
    ALPHABET.get(cd as usize).map(|b| char::from(*b))
}

/// Whether `number`'s last character is the check character of the rest.
pub fn check_valid(number: &str) -> bool {
    let Some((body, last)) = number.char_indices().last().map(|(i, c)| (&number[..i], c)) else {
        return false;
    };
    !body.is_empty() && check_char(body) == Some(last.to_ascii_uppercase())
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The shapes a DPD number comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// 14 digits, no check character.
    Plain,
    /// 14 digits and a valid check character.
    Checked,
    /// 28-character barcode (zip, parcel number, service, country, check).
    Barcode,
    /// Not a DPD number (or a bad check character).
    None,
}

/// Classifies an upper-cased, space-free number.
pub fn shape(number: &str) -> Shape {
    let b = number.as_bytes();
    match b.len() {
        14 if digits(number) => Shape::Plain,
        15 if number.get(..14).is_some_and(digits) => {
            if check_valid(number) {
                Shape::Checked
            } else {
                Shape::None
            }
        }
        28 if number.get(..27).is_some_and(digits) => {
            if check_valid(number) {
                Shape::Barcode
            } else {
                Shape::None
            }
        }
        _ => Shape::None,
    }
}

/// The 14-digit parcel label number the Web Connect API expects.
pub fn parcel_label_number(number: &str) -> Option<&str> {
    match shape(number) {
        Shape::Plain => Some(number),
        Shape::Checked => number.get(..14),
        Shape::Barcode => number.get(7..21),
        Shape::None => None,
    }
}

/// The 14 digits plus their check character.
pub fn with_check(parcel: &str) -> Option<String> {
    check_char(parcel).map(|c| format!("{parcel}{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_test_numbers() {
        // tracking_number_data couriers/dpd.json test_numbers (spaces removed).
        for n in ["09980000020033F", "09980000020034D"] {
            assert_eq!(shape(n), Shape::Checked, "{n}");
        }
        assert_eq!(shape("09980000020033D"), Shape::None);
        for n in [
            "008182709980000020033350276C",
            "008182709980000020045327276N",
        ] {
            assert_eq!(shape(n), Shape::Barcode, "{n}");
            assert_eq!(parcel_label_number(n).map(str::len), Some(14));
        }
        assert_eq!(shape("008182709980000020033350276A"), Shape::None);
        assert_eq!(shape("008182709980000020045000000N"), Shape::None);
        assert_eq!(
            parcel_label_number("05308801410058"),
            Some("05308801410058")
        );
        assert_eq!(
            parcel_label_number("09980000020034D"),
            Some("09980000020034")
        );
    }
}
