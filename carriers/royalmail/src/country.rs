//! Royal Mail gives countries as ISO 3166-1 alpha-3 (`GBR`); trackd stores
//! alpha-2. Codes outside this table are dropped rather than guessed.

#[rustfmt::skip]
const ALPHA3: &[(&str, &str)] = &[
    ("ARE", "AE"), ("ARG", "AR"), ("AUS", "AU"), ("AUT", "AT"), ("BEL", "BE"),
    ("BGR", "BG"), ("BRA", "BR"), ("CAN", "CA"), ("CHE", "CH"), ("CHL", "CL"),
    ("CHN", "CN"), ("CYP", "CY"), ("CZE", "CZ"), ("DEU", "DE"), ("DNK", "DK"),
    ("EGY", "EG"), ("ESP", "ES"), ("EST", "EE"), ("FIN", "FI"), ("FRA", "FR"),
    ("GBR", "GB"), ("GGY", "GG"), ("GIB", "GI"), ("GRC", "GR"), ("HKG", "HK"),
    ("HRV", "HR"), ("HUN", "HU"), ("IDN", "ID"), ("IMN", "IM"), ("IND", "IN"),
    ("IRL", "IE"), ("ISL", "IS"), ("ISR", "IL"), ("ITA", "IT"), ("JEY", "JE"),
    ("JPN", "JP"), ("KOR", "KR"), ("LTU", "LT"), ("LUX", "LU"), ("LVA", "LV"),
    ("MEX", "MX"), ("MLT", "MT"), ("MYS", "MY"), ("NLD", "NL"), ("NOR", "NO"),
    ("NZL", "NZ"), ("PHL", "PH"), ("POL", "PL"), ("PRT", "PT"), ("ROU", "RO"),
    ("SAU", "SA"), ("SGP", "SG"), ("SVK", "SK"), ("SVN", "SI"), ("SWE", "SE"),
    ("THA", "TH"), ("TUR", "TR"), ("TWN", "TW"), ("UKR", "UA"), ("USA", "US"),
    ("VNM", "VN"), ("ZAF", "ZA"),
];

/// Alpha-2 for an alpha-3 code (an alpha-2 code passes through upper-cased).
pub fn alpha2(code: &str) -> Option<String> {
    let code = code.trim();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Some(code.to_ascii_uppercase());
    }
    ALPHA3
        .iter()
        .find(|(a3, _)| a3.eq_ignore_ascii_case(code))
        .map(|(_, a2)| (*a2).to_string())
}

/// Alpha-3 for an alpha-2 code, for the simulator's rendering.
pub fn alpha3(code: &str) -> Option<&'static str> {
    let code = code.trim();
    ALPHA3
        .iter()
        .find(|(_, a2)| a2.eq_ignore_ascii_case(code))
        .map(|(a3, _)| *a3)
}
