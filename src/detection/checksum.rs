//! The check-digit algorithms of `tracking_number_data` (its
//! `CHECKSUM_ALGORITHMS.md`, plus `luhn`, which the data uses but that page
//! does not list), so a mistyped number is rejected rather than guessed.
//!
//! Each takes the serial number and the check digit exactly as the format's
//! `SerialNumber` / `CheckDigit` groups captured them. Where the reference
//! Ruby code would silently read a stray character as 0 (`"A".to_i`), these
//! refuse instead; the data's patterns never let such characters through.

use serde::Deserialize;

/// One checksum of a format, with the parameters the data gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Checksum {
    /// Weighted sum, check = (10 - sum mod 10) mod 10. Letters count as
    /// `(ord - 3) mod 10` (UPS). Index 0 is the first character, or the last
    /// when `reverse`.
    Mod10 {
        /// Multiplier of characters at even indexes (none: 1).
        evens_multiplier: Option<u32>,
        /// Multiplier of characters at odd indexes (none: 1).
        odds_multiplier: Option<u32>,
        /// Index from the right instead of the left.
        reverse: bool,
    },
    /// The serial read as a number, modulo `modulo` (7 for DHL Express).
    Mod7 {
        /// The divisor.
        modulo: u32,
    },
    /// Standard Luhn over the serial: double every second digit from the
    /// right (starting with the rightmost), sum the digits.
    Luhn,
    /// UPU S10: weighted sum mod 11; remainder 0 gives 5, 1 gives 0.
    S10 {
        /// The eight weights (default 8 6 4 2 3 5 9 7).
        weightings: Vec<u32>,
    },
    /// Weighted sum, then `mod modulo1 mod modulo2` (FedEx).
    SumProductWithWeightingsAndModulo {
        /// One weight per serial digit.
        weightings: Vec<u32>,
        /// First divisor.
        modulo1: u32,
        /// Second divisor.
        modulo2: u32,
    },
    /// ISO 7064 MOD 37,36 hybrid (DPD); the check character is alphanumeric.
    Mod3736 {
        /// Characters by value (default `0-9A-Z`).
        alphabet: Vec<char>,
    },
}

/// The data's checksum object, before it is checked and typed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChecksum {
    name: String,
    modulo: Option<u32>,
    evens_multiplier: Option<u32>,
    odds_multiplier: Option<u32>,
    reverse: Option<bool>,
    weightings: Option<Vec<u32>>,
    modulo1: Option<u32>,
    modulo2: Option<u32>,
    alphabet: Option<String>,
}

impl TryFrom<RawChecksum> for Checksum {
    type Error = String;

    fn try_from(raw: RawChecksum) -> Result<Self, String> {
        let modulo_must_be = |want: u32| match raw.modulo {
            Some(m) if m != want => Err(format!("{}: modulo {m} is not supported", raw.name)),
            _ => Ok(()),
        };
        let unused = |what: &str, present: bool| {
            if present {
                Err(format!("{}: parameter {what} is not supported", raw.name))
            } else {
                Ok(())
            }
        };
        unused(
            "weightings",
            raw.weightings.is_some()
                && raw.name != "s10"
                && raw.name != "sum_product_with_weightings_and_modulo",
        )?;
        unused(
            "alphabet",
            raw.alphabet.is_some() && raw.name != "mod_37_36",
        )?;
        unused(
            "multipliers/reverse",
            raw.name != "mod10"
                && (raw.evens_multiplier.is_some()
                    || raw.odds_multiplier.is_some()
                    || raw.reverse.is_some()),
        )?;
        unused(
            "modulo1/modulo2",
            raw.name != "sum_product_with_weightings_and_modulo"
                && (raw.modulo1.is_some() || raw.modulo2.is_some()),
        )?;
        Ok(match raw.name.as_str() {
            "mod10" => {
                modulo_must_be(10)?;
                Checksum::Mod10 {
                    evens_multiplier: raw.evens_multiplier,
                    odds_multiplier: raw.odds_multiplier,
                    reverse: raw.reverse.unwrap_or(false),
                }
            }
            "mod7" => Checksum::Mod7 {
                modulo: match raw.modulo {
                    Some(0) => return Err("mod7: modulo 0".into()),
                    m => m.unwrap_or(7),
                },
            },
            "luhn" => {
                modulo_must_be(10)?;
                Checksum::Luhn
            }
            "s10" => {
                modulo_must_be(11)?;
                let weightings = raw
                    .weightings
                    .unwrap_or_else(|| vec![8, 6, 4, 2, 3, 5, 9, 7]);
                Checksum::S10 { weightings }
            }
            "sum_product_with_weightings_and_modulo" => {
                let (Some(weightings), Some(modulo1), Some(modulo2)) =
                    (raw.weightings, raw.modulo1, raw.modulo2)
                else {
                    return Err("sum_product_with_weightings_and_modulo needs weightings, modulo1 and modulo2".into());
                };
                if modulo1 == 0 || modulo2 == 0 {
                    return Err("sum_product_with_weightings_and_modulo: modulo 0".into());
                }
                Checksum::SumProductWithWeightingsAndModulo {
                    weightings,
                    modulo1,
                    modulo2,
                }
            }
            "mod_37_36" => {
                modulo_must_be(36)?;
                let alphabet: Vec<char> = raw
                    .alphabet
                    .as_deref()
                    .unwrap_or("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                    .chars()
                    .collect();
                if alphabet.len() != 36 {
                    return Err("mod_37_36: the alphabet must have 36 characters".into());
                }
                Checksum::Mod3736 { alphabet }
            }
            other => return Err(format!("unknown checksum algorithm {other:?}")),
        })
    }
}

fn digit(c: char) -> Option<u32> {
    c.to_digit(10)
}

/// The check digit as a single decimal digit.
fn single_digit(check: &str) -> Option<u32> {
    let mut cs = check.chars();
    match (cs.next(), cs.next()) {
        (Some(c), None) => digit(c),
        _ => None,
    }
}

impl Checksum {
    /// Whether `check` is the right check digit for `serial`.
    pub fn validates(&self, serial: &str, check: &str) -> bool {
        if serial.is_empty() {
            return false;
        }
        match self {
            Checksum::Mod10 {
                evens_multiplier,
                odds_multiplier,
                reverse,
            } => {
                single_digit(check) == mod10(serial, *evens_multiplier, *odds_multiplier, *reverse)
            }
            Checksum::Mod7 { modulo } => single_digit(check) == modulo_of_number(serial, *modulo),
            Checksum::Luhn => single_digit(check) == luhn(serial),
            Checksum::S10 { weightings } => single_digit(check) == s10(serial, weightings),
            Checksum::SumProductWithWeightingsAndModulo {
                weightings,
                modulo1,
                modulo2,
            } => single_digit(check) == sum_product(serial, weightings, *modulo1, *modulo2),
            Checksum::Mod3736 { alphabet } => {
                let mut cs = check.chars();
                match (cs.next(), cs.next(), mod_37_36(serial, alphabet)) {
                    (Some(c), None, Some(want)) => c == want,
                    _ => false,
                }
            }
        }
    }
}

/// `mod10` check digit, or `None` if the serial has a character it cannot value.
pub(crate) fn mod10(
    serial: &str,
    evens: Option<u32>,
    odds: Option<u32>,
    reverse: bool,
) -> Option<u32> {
    let value = |c: char| match c {
        '0'..='9' => digit(c),
        'A'..='Z' => Some((c as u32 - 3) % 10),
        _ => None,
    };
    let mut total: u64 = 0;
    let mut add = |i: usize, c: char| -> Option<()> {
        let m = if i % 2 == 1 { odds } else { evens };
        total += u64::from(value(c)?) * u64::from(m.unwrap_or(1));
        Some(())
    };
    if reverse {
        for (i, c) in serial.chars().rev().enumerate() {
            add(i, c)?;
        }
    } else {
        for (i, c) in serial.chars().enumerate() {
            add(i, c)?;
        }
    }
    Some(((10 - total % 10) % 10) as u32)
}

/// The serial (all digits) as a number, modulo `m`, without overflow.
pub(crate) fn modulo_of_number(serial: &str, m: u32) -> Option<u32> {
    serial
        .chars()
        .try_fold(0u64, |r, c| {
            Some((r * 10 + u64::from(digit(c)?)) % u64::from(m))
        })
        .map(|r| r as u32)
}

/// Luhn check digit for `serial` (the check digit not included).
pub(crate) fn luhn(serial: &str) -> Option<u32> {
    let mut total = 0;
    for (i, c) in serial.chars().rev().enumerate() {
        let mut x = digit(c)?;
        if i % 2 == 0 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        total += x;
    }
    Some((10 - total % 10) % 10)
}

/// S10 check digit: one weight per serial digit.
pub(crate) fn s10(serial: &str, weightings: &[u32]) -> Option<u32> {
    if serial.chars().count() != weightings.len() {
        return None;
    }
    let mut total = 0;
    for (c, w) in serial.chars().zip(weightings) {
        total += digit(c)? * w;
    }
    Some(match total % 11 {
        0 => 5,
        1 => 0,
        r => 11 - r,
    })
}

/// `sum(d_i * w_i) mod modulo1 mod modulo2`; the serial may not outrun the weights.
pub(crate) fn sum_product(
    serial: &str,
    weightings: &[u32],
    modulo1: u32,
    modulo2: u32,
) -> Option<u32> {
    if serial.chars().count() > weightings.len() {
        return None;
    }
    let mut total: u64 = 0;
    for (c, w) in serial.chars().zip(weightings) {
        total += u64::from(digit(c)?) * u64::from(*w);
    }
    Some((total % u64::from(modulo1) % u64::from(modulo2)) as u32)
}

/// ISO 7064 MOD 37,36 check character.
pub(crate) fn mod_37_36(serial: &str, alphabet: &[char]) -> Option<char> {
    const M: usize = 36;
    let mut cd = M;
    for c in serial.chars() {
        let val = alphabet.iter().position(|a| *a == c)?;
        cd += val;
        if cd > M {
            cd -= M;
        }
        cd *= 2;
        if cd > M {
            cd -= M + 1;
        }
    }
    let mut cd = M + 1 - cd;
    if cd == M {
        cd = 0;
    }
    alphabet.get(cd).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Result<Checksum, String> {
        let raw: RawChecksum = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Checksum::try_from(raw)
    }

    #[test]
    fn mod10_ups_letters_and_odd_doubling() {
        // 1Z5R89390357567127: serial after "1Z", odds x2, letters (ord-3)%10.
        assert_eq!(mod10("5R8939035756712", Some(1), Some(2), false), Some(7));
        assert_eq!(mod10("XX3150YW4407002", Some(1), Some(2), false), Some(3));
    }

    #[test]
    fn mod10_usps_weights_and_reverse() {
        assert_eq!(
            mod10("0307179000052348374", Some(3), Some(1), false),
            Some(1)
        );
        // IMpb numbers weight from the right: 9400111206206406260787.
        assert_eq!(
            mod10("940011120620640626078", Some(3), Some(1), true),
            Some(7)
        );
        // Canada Post 16: 0073938000549297.
        assert_eq!(mod10("007393800054929", Some(3), Some(1), false), Some(7));
        // Sum already a multiple of 10 gives 0, not 10.
        assert_eq!(mod10("0000", Some(3), Some(1), false), Some(0));
        assert_eq!(mod10("12-", None, None, false), None);
    }

    #[test]
    fn mod7_dhl_express() {
        assert_eq!(modulo_of_number("331881002", 7), Some(5)); // 3318810025
        assert_eq!(modulo_of_number("7389105114", 7), Some(6)); // 73891051146
        // No overflow on long serials.
        assert_eq!(modulo_of_number(&"9".repeat(60), 7), Some(0)); // 10^60-1 = 999999 * k
        assert_eq!(modulo_of_number("12A", 7), None);
    }

    #[test]
    fn luhn_known_values() {
        assert_eq!(luhn("7992739871"), Some(3)); // the textbook 79927398713
        assert_eq!(luhn("32059546393"), Some(8)); // Purolator 320595463938
        assert_eq!(luhn("0720956276"), Some(3)); // Old Dominion 07209562763
        assert_eq!(luhn("411111111111111"), Some(1)); // 4111 1111 1111 1111
    }

    #[test]
    fn s10_known_values() {
        let w = [8, 6, 4, 2, 3, 5, 9, 7];
        assert_eq!(s10("12345678", &w), Some(5)); // RB123456785GB (UPU example)
        assert_eq!(s10("00000008", &w), Some(0)); // sum 56, remainder 1 -> 0
        assert_eq!(s10("00000000", &w), Some(5)); // remainder 0 -> 5
        assert_eq!(s10("1234567", &w), None);
    }

    #[test]
    fn sum_product_fedex() {
        let w12 = [3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1];
        assert_eq!(sum_product("98657878885", &w12, 11, 10), Some(5)); // 986578788855
        assert_eq!(sum_product("79053531231", &w12, 11, 10), Some(7)); // 790535312317
        let w34 = [1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1];
        assert_eq!(sum_product("0077901797269", &w34, 11, 10), Some(7));
        assert_eq!(sum_product("123", &[1, 1], 11, 10), None);
    }

    #[test]
    fn mod_37_36_dpd() {
        let a: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".chars().collect();
        assert_eq!(mod_37_36("008182709980000020033350276", &a), Some('C'));
        assert_eq!(mod_37_36("008182709980000020045327276", &a), Some('N'));
        assert_eq!(mod_37_36("09980000020033", &a), Some('F'));
        assert_eq!(mod_37_36("09980000020034", &a), Some('D'));
        assert_eq!(mod_37_36("0998-", &a), None);
    }

    #[test]
    fn validates_compares_whole_check_digit() {
        let c = Checksum::Luhn;
        assert!(c.validates("7992739871", "3"));
        assert!(!c.validates("7992739871", "33"));
        assert!(!c.validates("7992739871", "A"));
        assert!(!c.validates("", "0"));
        let d = Checksum::Mod3736 {
            alphabet: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".chars().collect(),
        };
        assert!(d.validates("09980000020033", "F"));
        assert!(!d.validates("09980000020033", "D"));
    }

    #[test]
    fn parses_the_data_shapes_and_refuses_unknowns() {
        assert_eq!(
            raw(
                r#"{"name":"mod10","modulo":10,"evens_multiplier":3,"odds_multiplier":1,"reverse":true}"#
            ),
            Ok(Checksum::Mod10 {
                evens_multiplier: Some(3),
                odds_multiplier: Some(1),
                reverse: true
            })
        );
        assert_eq!(
            raw(r#"{"name":"mod7","modulo":7}"#),
            Ok(Checksum::Mod7 { modulo: 7 })
        );
        assert_eq!(raw(r#"{"name":"luhn"}"#), Ok(Checksum::Luhn));
        assert!(raw(r#"{"name":"crc32"}"#).is_err());
        assert!(raw(r#"{"name":"mod10","modulo":11}"#).is_err());
        assert!(raw(r#"{"name":"luhn","weightings":[1]}"#).is_err());
        assert!(raw(r#"{"name":"mod10","salt":1}"#).is_err());
        assert!(
            raw(r#"{"name":"sum_product_with_weightings_and_modulo","weightings":[1]}"#).is_err()
        );
    }
}
