//! Real cities with their real standard-time UTC offsets, so simulated checkpoints
//! exercise the daemon's offset handling the way real carriers do.

use chrono::{FixedOffset, Offset};
use trackd_carrier_sdk::Address;

/// Which national network a city belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Country {
    Us,
    Ca,
    De,
    Nl,
    Gb,
    Au,
}

impl Country {
    pub(crate) fn iso(self) -> &'static str {
        match self {
            Country::Us => "US",
            Country::Ca => "CA",
            Country::De => "DE",
            Country::Nl => "NL",
            Country::Gb => "GB",
            Country::Au => "AU",
        }
    }

    /// Where this network's inbound (customs) parcels come from.
    pub(crate) fn partner(self) -> Country {
        match self {
            Country::Us => Country::Ca,
            Country::Ca => Country::Us,
            Country::De => Country::Nl,
            Country::Nl => Country::De,
            Country::Gb => Country::De,
            Country::Au => Country::Us,
        }
    }

    /// Every network the simulator knows.
    #[cfg(test)]
    pub(crate) const ALL: [Country; 6] = [
        Country::Us,
        Country::Ca,
        Country::De,
        Country::Nl,
        Country::Gb,
        Country::Au,
    ];
}

/// One city: where parcels start, end or are sorted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct City {
    pub name: &'static str,
    pub region: &'static str,
    pub postal: &'static str,
    pub country: Country,
    /// Standard-time offset in seconds east of UTC (NST is -03:30).
    pub offset_secs: i32,
    /// Longitude, to order hubs along a plausible route.
    pub lon: f32,
    /// A sorting hub (parcels are routed through it).
    pub hub: bool,
    /// An international gateway where inbound parcels clear customs.
    pub gateway: bool,
}

const H: i32 = 3600;

macro_rules! city {
    ($name:expr, $region:expr, $postal:expr, $country:ident, $off:expr, $lon:expr, $hub:expr, $gw:expr) => {
        City {
            name: $name,
            region: $region,
            postal: $postal,
            country: Country::$country,
            offset_secs: $off,
            lon: $lon,
            hub: $hub,
            gateway: $gw,
        }
    };
}

/// The city table (upper-case names, as carriers print them).
pub(crate) const CITIES: &[City] = &[
    // United States (standard time).
    city!("ATLANTA", "GA", "30301", Us, -5 * H, -84.4, true, false),
    city!("LOUISVILLE", "KY", "40209", Us, -5 * H, -85.7, true, true), // UPS Worldport
    city!("CHICAGO", "IL", "60601", Us, -6 * H, -87.6, true, true),
    city!("DALLAS", "TX", "75201", Us, -6 * H, -96.8, true, false),
    city!("DENVER", "CO", "80202", Us, -7 * H, -105.0, true, false),
    city!("PHOENIX", "AZ", "85004", Us, -7 * H, -112.1, true, false),
    city!(
        "LOS ANGELES",
        "CA",
        "90012",
        Us,
        -8 * H,
        -118.2,
        true,
        false
    ),
    city!("NEWARK", "NJ", "07102", Us, -5 * H, -74.2, true, true),
    city!("MEMPHIS", "TN", "38103", Us, -6 * H, -90.0, true, false),
    city!("SEATTLE", "WA", "98101", Us, -8 * H, -122.3, false, false),
    city!("MIAMI", "FL", "33131", Us, -5 * H, -80.2, false, false),
    city!("BOSTON", "MA", "02108", Us, -5 * H, -71.1, false, false),
    city!("HOUSTON", "TX", "77002", Us, -6 * H, -95.4, false, false),
    city!(
        "MINNEAPOLIS",
        "MN",
        "55401",
        Us,
        -6 * H,
        -93.3,
        false,
        false
    ),
    city!(
        "PHILADELPHIA",
        "PA",
        "19107",
        Us,
        -5 * H,
        -75.2,
        false,
        false
    ),
    // Canada (standard time; Regina keeps CST all year, St. John's is -03:30).
    city!("TORONTO", "ON", "M5V2T6", Ca, -5 * H, -79.4, false, false),
    city!("MISSISSAUGA", "ON", "L5T2T1", Ca, -5 * H, -79.6, true, true), // Gateway
    city!("MONTREAL", "QC", "H2X1Y4", Ca, -5 * H, -73.6, true, true),
    city!("OTTAWA", "ON", "K1P1J1", Ca, -5 * H, -75.7, false, false),
    city!("WINNIPEG", "MB", "R3C0A1", Ca, -6 * H, -97.1, true, false),
    city!("CALGARY", "AB", "T2P1J9", Ca, -7 * H, -114.1, true, false),
    city!("EDMONTON", "AB", "T5J0N3", Ca, -7 * H, -113.5, true, false),
    city!("VANCOUVER", "BC", "V6B1A1", Ca, -8 * H, -123.1, true, true),
    city!("HALIFAX", "NS", "B3H1A1", Ca, -4 * H, -63.6, true, false),
    city!(
        "ST. JOHN'S",
        "NL",
        "A1C5M2",
        Ca,
        -(3 * H + 1800),
        -52.7,
        false,
        false
    ),
    city!("REGINA", "SK", "S4P3Y2", Ca, -6 * H, -104.6, false, false),
    city!("QUEBEC", "QC", "G1R4P5", Ca, -5 * H, -71.2, false, false),
    // Germany (CET).
    city!("FRANKFURT", "HE", "60313", De, H, 8.7, true, true),
    city!("LEIPZIG", "SN", "04109", De, H, 12.4, true, true), // DHL hub
    city!("HAMBURG", "HH", "20095", De, H, 10.0, true, false),
    city!("KOELN", "NW", "50667", De, H, 6.96, true, false),
    city!("NUERNBERG", "BY", "90402", De, H, 11.1, true, false),
    city!("BERLIN", "BE", "10117", De, H, 13.4, false, false),
    city!("MUENCHEN", "BY", "80331", De, H, 11.6, false, false),
    city!("STUTTGART", "BW", "70173", De, H, 9.18, false, false),
    // Netherlands (CET).
    city!("AMSTERDAM", "NH", "1012AB", Nl, H, 4.9, true, true),
    city!("NIEUWEGEIN", "UT", "3430AA", Nl, H, 5.1, true, false),
    city!("ROTTERDAM", "ZH", "3011AA", Nl, H, 4.48, true, true),
    city!("ZWOLLE", "OV", "8011AA", Nl, H, 6.09, true, false),
    city!("EINDHOVEN", "NB", "5611AA", Nl, H, 5.48, true, false),
    city!("UTRECHT", "UT", "3511AA", Nl, H, 5.12, false, false),
    city!("GRONINGEN", "GR", "9711AA", Nl, H, 6.57, false, false),
    // United Kingdom (GMT).
    city!("LONDON", "ENG", "EC1A1BB", Gb, 0, -0.1, true, true),
    city!("HEATHROW", "ENG", "TW62GA", Gb, 0, -0.45, true, true),
    city!("BIRMINGHAM", "ENG", "B11BB", Gb, 0, -1.9, true, false),
    city!("MANCHESTER", "ENG", "M11AE", Gb, 0, -2.24, true, false),
    city!("GLASGOW", "SCT", "G11XQ", Gb, 0, -4.25, true, false),
    city!("BRISTOL", "ENG", "BS11AA", Gb, 0, -2.59, false, false),
    city!("LEEDS", "ENG", "LS11UR", Gb, 0, -1.55, false, false),
    city!("EDINBURGH", "SCT", "EH11YZ", Gb, 0, -3.19, false, false),
    // Australia (standard time; Adelaide is +09:30, Brisbane keeps AEST).
    city!("SYDNEY", "NSW", "2000", Au, 10 * H, 151.2, true, true),
    city!("MELBOURNE", "VIC", "3000", Au, 10 * H, 145.0, true, true),
    city!("BRISBANE", "QLD", "4000", Au, 10 * H, 153.0, true, false),
    city!(
        "ADELAIDE",
        "SA",
        "5000",
        Au,
        9 * H + 1800,
        138.6,
        true,
        false
    ),
    city!("PERTH", "WA", "6000", Au, 8 * H, 115.9, true, false),
    city!("CANBERRA", "ACT", "2600", Au, 10 * H, 149.1, false, false),
    city!("HOBART", "TAS", "7000", Au, 10 * H, 147.3, false, false),
];

impl City {
    /// The city's fixed standard-time offset.
    pub(crate) fn offset(&self) -> FixedOffset {
        // Every table offset is within ±24h, so this never falls back.
        FixedOffset::east_opt(self.offset_secs).unwrap_or_else(|| chrono::Utc.fix())
    }

    /// The city as a carrier address.
    pub(crate) fn address(&self) -> Address {
        Address {
            city: Some(self.name.to_string()),
            region: Some(self.region.to_string()),
            postal_code: Some(self.postal.to_string()),
            country: Some(self.country.iso().to_string()),
        }
    }
}

/// Indices of the cities of one country.
pub(crate) fn cities_in(country: Country) -> Vec<usize> {
    CITIES
        .iter()
        .enumerate()
        .filter(|(_, c)| c.country == country)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_real_standard_time() {
        let by_name = |n: &str| CITIES.iter().find(|c| c.name == n).map(|c| c.offset_secs);
        assert_eq!(by_name("ST. JOHN'S"), Some(-12_600));
        assert_eq!(by_name("HALIFAX"), Some(-14_400));
        assert_eq!(by_name("LOUISVILLE"), Some(-18_000));
        assert_eq!(by_name("PHOENIX"), Some(-25_200));
        assert_eq!(by_name("VANCOUVER"), Some(-28_800));
        for c in CITIES {
            assert_eq!(c.offset().local_minus_utc(), c.offset_secs);
            assert_eq!(c.name, c.name.to_uppercase());
        }
        for country in Country::ALL {
            let hubs = CITIES
                .iter()
                .filter(|c| c.country == country && c.hub)
                .count();
            let gateways = CITIES
                .iter()
                .filter(|c| c.country == country && c.gateway && c.hub)
                .count();
            assert!(hubs >= 5 && gateways >= 2);
        }
    }
}
