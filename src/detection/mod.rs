//! Offline carrier detection: which formats of the MIT `tracking_number_data`
//! set (vendored in `tracking_number_data/`, see its `SOURCES.md`) a tracking
//! number fits, with their check digits verified, and which trackd carrier
//! plugin should track it.
//!
//! The JSON is embedded at compile time and parsed once ([`definitions`]); a
//! `RegexSet` prefilter picks the candidate formats, so [`detect`] costs a few
//! microseconds and is fit for registering batches of thousands of numbers.
//!
//! # Courier to trackd carrier mapping
//!
//! | data `courier_code` | trackd slug |
//! |---|---|
//! | `ups` | `ups` |
//! | `fedex` | `fedex` |
//! | `usps` | `usps` |
//! | `dhl` (Express, piece ID, e-commerce) | `dhl` |
//! | `canada_post` | `canadapost` |
//! | `purolator` | `purolator` |
//! | `dpd` | `dpd` |
//! | `s10` (UPU international), by the issuing country suffix | `US` `usps`, `CA` `canadapost`, `GB` `royalmail`, `AU` `australiapost`, `NL` `postnl`, `DE` `dhl` (Deutsche Post is DHL Group; the DHL unified API tracks its items) |
//! | everything else (Amazon, Canpar, LaserShip, OnTrac, Yodel, S10 of other countries, ...) | none: recognised, but trackd has no plugin |
//!
//! GLS has no format in the data set, so it is never detected.

mod checksum;
mod pattern;

pub use checksum::Checksum;

use pattern::{ClassCache, Pattern};
use regex::RegexSet;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::LazyLock;

/// `(file name, contents)` for each vendored courier file.
macro_rules! courier_files {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("tracking_number_data/couriers/", $file)))),*]
    };
}

/// The vendored data files, embedded so detection needs no files at run time.
const COURIER_FILES: &[(&str, &str)] = courier_files![
    "amazon.json",
    "canadapost.json",
    "canpar.json",
    "dhl.json",
    "dpd.json",
    "fedex.json",
    "gofo.json",
    "landmark.json",
    "lasership.json",
    "old_dominion.json",
    "ontrac.json",
    "purolator.json",
    "s10.json",
    "speedee.json",
    "ups.json",
    "usps.json",
    "yodel.json",
    "yunexpress.json",
];

/// Longest normalised number looked at (the API's limit too); the data's
/// longest format is 41 characters, so anything longer cannot match.
pub const MAX_NUMBER_LEN: usize = 64;

/// How strongly a format vouches for a number; orders matches and decides
/// the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The shape fits; the format has no check digit.
    Pattern,
    /// The shape fits and the check digit (and any required lookup) is valid.
    Checksum,
}

impl Confidence {
    /// A plugin's `Detection` as a confidence (`No` is none), for [`Detected::verdict_with`].
    pub fn from_detection(d: trackd_carrier_sdk::Detection) -> Option<Self> {
        match d {
            trackd_carrier_sdk::Detection::No => None,
            trackd_carrier_sdk::Detection::Pattern => Some(Self::Pattern),
            trackd_carrier_sdk::Detection::Checksum => Some(Self::Checksum),
        }
    }
}

impl From<Confidence> for trackd_carrier_sdk::Detection {
    fn from(c: Confidence) -> Self {
        match c {
            Confidence::Pattern => Self::Pattern,
            Confidence::Checksum => Self::Checksum,
        }
    }
}

/// The data's own examples of a format, kept so tests can replay them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestNumbers {
    /// Numbers the format must accept.
    #[serde(default)]
    pub valid: Vec<String>,
    /// Numbers the format must reject.
    #[serde(default)]
    pub invalid: Vec<String>,
}

/// One tracking number format of one courier, compiled from the data.
#[derive(Debug)]
pub struct Definition {
    /// The data's courier code (`ups`, `canada_post`, `s10`...).
    pub courier_code: String,
    /// The courier's display name.
    pub courier_name: String,
    /// The format's `id`, or one derived from courier and name when the data has none.
    pub id: String,
    /// The format's display name (`UPS`, `FedEx Express (12)`...).
    pub name: String,
    /// The data's description of the format, if any.
    pub description: Option<String>,
    /// The public tracking page, `%s` standing for the number.
    pub tracking_url: Option<String>,
    /// The check digit algorithm, if the format has one.
    pub checksum: Option<Checksum>,
    /// Bits of information the pattern fixes; ranks formats of equal confidence.
    pub specificity: f64,
    /// The data's examples.
    pub test_numbers: TestNumbers,
    pattern: Pattern,
    prepend_if: Option<(Pattern, String)>,
    additional: Vec<Additional>,
    /// Indexes into `additional` whose lookup must succeed (`validation.additional.exists`).
    required: Vec<usize>,
}

#[derive(Debug)]
struct Additional {
    name: String,
    group: String,
    lookup: Vec<Lookup>,
}

#[derive(Debug)]
struct Lookup {
    matcher: Matcher,
    meaning: Option<String>,
    description: Option<String>,
}

#[derive(Debug)]
enum Matcher {
    Exact(String),
    Regex(Pattern),
}

/// A decoded field of a matched number (service type, country...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    /// The data's name for the field (`Service Type`, `Courier`...).
    pub label: &'static str,
    /// The field as it appears in the number.
    pub value: String,
    /// What the value means, when the data's lookup table knows it.
    pub meaning: Option<&'static str>,
    /// Longer explanation from the lookup table, if any.
    pub description: Option<&'static str>,
}

/// One format a number fits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// The data's courier code.
    pub courier_code: &'static str,
    /// The courier's display name.
    pub courier_name: &'static str,
    /// The format's id ([`Definition::id`]).
    pub type_id: &'static str,
    /// The format's display name.
    pub type_name: &'static str,
    /// The trackd carrier plugin for it, if trackd has one (see the module docs).
    pub carrier: Option<&'static str>,
    /// Checksum-validated or pattern only.
    pub confidence: Confidence,
    /// The format's specificity, for display and ordering.
    pub specificity: f64,
    /// The `SerialNumber` part, if the format names one.
    pub serial_number: Option<String>,
    /// The courier's public tracking page for this number, if known.
    pub tracking_url: Option<String>,
    /// Decoded fields (service type, container type, issuing country...).
    pub details: Vec<Detail>,
}

/// Which trackd carrier a number belongs to, decided only when it is clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every best-confidence match is this one trackd carrier.
    Unique(&'static str),
    /// The best-confidence matches disagree: these trackd carriers (possibly
    /// just one, when a courier trackd has no plugin for fits equally well;
    /// see `matches`). Never resolved by guessing.
    Ambiguous(Vec<&'static str>),
    /// No match, or the best matches are couriers trackd has no plugin for.
    None,
}

/// Everything [`detect`] found for one number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detected {
    /// The normalised number (upper case, no spaces or dashes).
    pub number: String,
    /// Matching formats, best first: checksum-validated before pattern-only,
    /// then more specific patterns first, then by courier and format id.
    pub matches: Vec<Match>,
    /// The decision for registration.
    pub verdict: Verdict,
}

impl Detected {
    /// The carrier when the verdict is unique, for callers that need just that.
    pub fn carrier(&self) -> Option<&'static str> {
        match self.verdict {
            Verdict::Unique(slug) => Some(slug),
            _ => None,
        }
    }

    /// The confidence of the best match, if any.
    pub fn confidence(&self) -> Option<Confidence> {
        self.matches.first().map(|m| m.confidence)
    }

    /// The verdict once the carrier plugins' own `detect` answers are added
    /// (slug, confidence), so formats the data set lacks (GLS, PostNL or
    /// Australia Post domestic barcodes...) count too. Same rule: unique only
    /// if every best-confidence candidate is one trackd carrier.
    pub fn verdict_with(&self, plugin_hits: &[(&'static str, Confidence)]) -> Verdict {
        decide(
            self.matches
                .iter()
                .map(|m| (m.confidence, m.carrier))
                .chain(plugin_hits.iter().map(|(s, c)| (*c, Some(*s)))),
        )
    }
}

/// Every format of the vendored data, in file order; loaded on first use.
pub fn definitions() -> &'static [Definition] {
    &REGISTRY.definitions
}

/// Detects the carrier of a tracking number as typed by a user: normalises it
/// (see [`crate::carriers::normalize_number`]), returns every fitting format
/// best first, and a verdict that is unique only when unambiguous.
pub fn detect(number: &str) -> Detected {
    let number = crate::carriers::normalize_number(number);
    let reg = &*REGISTRY;
    let mut matches: Vec<Match> = if number.is_empty() || number.len() > MAX_NUMBER_LEN {
        Vec::new()
    } else {
        reg.set
            .matches(&number)
            .into_iter()
            .filter_map(|i| reg.definitions[i].check_normalized(&number))
            .collect()
    };
    matches.sort_by(|a, b| {
        b.confidence
            .cmp(&a.confidence)
            .then(b.specificity.total_cmp(&a.specificity))
            .then(a.courier_code.cmp(b.courier_code))
            .then(a.type_id.cmp(b.type_id))
    });
    let verdict = verdict(&matches);
    Detected {
        number,
        matches,
        verdict,
    }
}

/// Unique only if every best-confidence match maps to the same trackd carrier.
fn verdict(matches: &[Match]) -> Verdict {
    decide(matches.iter().map(|m| (m.confidence, m.carrier)))
}

/// The verdict rule over (confidence, trackd carrier) candidates in any order.
fn decide(candidates: impl Iterator<Item = (Confidence, Option<&'static str>)> + Clone) -> Verdict {
    let Some(top) = candidates.clone().map(|(c, _)| c).max() else {
        return Verdict::None;
    };
    let mut slugs: Vec<&'static str> = Vec::new();
    let mut unmapped = false;
    for (_, carrier) in candidates.filter(|(c, _)| *c == top) {
        match carrier {
            Some(s) if !slugs.contains(&s) => slugs.push(s),
            Some(_) => {}
            None => unmapped = true,
        }
    }
    match (slugs.as_slice(), unmapped) {
        ([], _) => Verdict::None,
        ([one], false) => Verdict::Unique(one),
        _ => Verdict::Ambiguous(slugs),
    }
}

/// The trackd plugin for a courier code; S10 goes by its issuing country.
fn trackd_carrier(courier_code: &str, country: Option<&str>) -> Option<&'static str> {
    match courier_code {
        "ups" => Some("ups"),
        "fedex" => Some("fedex"),
        "usps" => Some("usps"),
        "dhl" => Some("dhl"),
        "canada_post" => Some("canadapost"),
        "purolator" => Some("purolator"),
        "dpd" => Some("dpd"),
        "s10" => match country? {
            "US" => Some("usps"),
            "CA" => Some("canadapost"),
            "GB" => Some("royalmail"),
            "AU" => Some("australiapost"),
            "NL" => Some("postnl"),
            "DE" => Some("dhl"),
            _ => None,
        },
        _ => None,
    }
}

fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

impl Definition {
    /// Whether this format accepts `number` (normalised here first), and how.
    pub fn check(&'static self, number: &str) -> Option<Match> {
        let number = crate::carriers::normalize_number(number);
        if number.len() > MAX_NUMBER_LEN {
            return None;
        }
        self.check_normalized(&number)
    }

    fn check_normalized(&'static self, number: &str) -> Option<Match> {
        let caps = self.pattern.captures(number)?;
        let group = |name: &str| caps.name(name).map(|m| strip_ws(m.as_str()));
        let serial_number = group("SerialNumber");
        let confidence = match &self.checksum {
            Some(checksum) => {
                let mut serial = serial_number.clone()?;
                let check = group("CheckDigit")?;
                if let Some((cond, content)) = &self.prepend_if
                    && cond.is_match(&serial)
                {
                    serial.insert_str(0, content);
                }
                if !checksum.validates(&serial, &check) {
                    return None;
                }
                Confidence::Checksum
            }
            None => Confidence::Pattern,
        };
        let mut details = Vec::with_capacity(self.additional.len());
        for (i, add) in self.additional.iter().enumerate() {
            let required = self.required.contains(&i);
            let Some(value) = group(&add.group) else {
                if required {
                    return None;
                }
                continue;
            };
            let hit = add.lookup.iter().find(|l| match &l.matcher {
                Matcher::Exact(s) => *s == value,
                Matcher::Regex(p) => p.is_match(&value),
            });
            if required && hit.is_none() {
                return None;
            }
            details.push(Detail {
                label: &add.name,
                value,
                meaning: hit.and_then(|l| l.meaning.as_deref()),
                description: hit.and_then(|l| l.description.as_deref()),
            });
        }
        let country = group("CountryCode");
        Some(Match {
            courier_code: &self.courier_code,
            courier_name: &self.courier_name,
            type_id: &self.id,
            type_name: &self.name,
            carrier: trackd_carrier(&self.courier_code, country.as_deref()),
            confidence,
            specificity: self.specificity,
            serial_number,
            tracking_url: self.tracking_url.as_ref().map(|u| u.replace("%s", number)),
            details,
        })
    }
}

struct Registry {
    definitions: Vec<Definition>,
    /// One look-around-free pattern per definition, same order.
    set: RegexSet,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    Registry::load().unwrap_or_else(|e| panic!("vendored tracking_number_data does not load: {e}"))
});

// ----- the data's JSON shape -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCourier {
    name: String,
    courier_code: String,
    tracking_numbers: Vec<RawDefinition>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRegex {
    One(String),
    Parts(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    name: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    regex: RawRegex,
    #[serde(default)]
    validation: Option<RawValidation>,
    #[serde(default)]
    tracking_url: Option<String>,
    #[serde(default)]
    additional: Option<Vec<RawAdditional>>,
    /// Field explanations for display; not needed to detect.
    #[serde(default)]
    #[allow(dead_code)]
    glossary: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    test_numbers: TestNumbers,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawValidation {
    #[serde(default)]
    checksum: Option<checksum::RawChecksum>,
    #[serde(default)]
    serial_number_format: Option<RawSerialFormat>,
    #[serde(default)]
    additional: Option<RawRequired>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSerialFormat {
    prepend_if: RawPrependIf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrependIf {
    matches_regex: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequired {
    exists: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdditional {
    name: String,
    regex_group_name: String,
    lookup: Vec<RawLookup>,
}

#[derive(Deserialize)]
struct RawLookup {
    #[serde(default)]
    matches: Option<String>,
    #[serde(default)]
    matches_regex: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    courier: Option<String>,
    #[serde(default)]
    country: Option<String>,
}

/// `fedex_ground` style id from a name, for formats the data gives no id.
fn derive_id(courier_code: &str, name: &str) -> String {
    let mut id = String::from(courier_code);
    for word in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_ascii_lowercase();
        if id.split('_').any(|w| w == word) {
            continue; // "old_dominion" + "Old Dominion Guaranteed" -> old_dominion_guaranteed
        }
        id.push('_');
        id.push_str(&word);
    }
    id
}

impl Registry {
    fn load() -> Result<Self, String> {
        let mut classes = ClassCache::default();
        let mut definitions = Vec::new();
        let mut sources = Vec::new();
        for (file, json) in COURIER_FILES {
            let courier: RawCourier =
                serde_json::from_str(json).map_err(|e| format!("{file}: {e}"))?;
            for raw in courier.tracking_numbers {
                let what = format!("{file} {:?}", raw.name);
                let (def, source) =
                    Definition::build(&courier.name, &courier.courier_code, raw, &mut classes)
                        .map_err(|e| format!("{what}: {e}"))?;
                definitions.push(def);
                sources.push(source);
            }
        }
        let mut ids = HashSet::new();
        for d in &definitions {
            if !ids.insert(d.id.as_str()) {
                return Err(format!("duplicate format id {}", d.id));
            }
        }
        let set = RegexSet::new(&sources).map_err(|e| e.to_string())?;
        Ok(Self { definitions, set })
    }
}

impl Definition {
    /// Compiles one format; returns it with its prefilter source.
    fn build(
        courier_name: &str,
        courier_code: &str,
        raw: RawDefinition,
        classes: &mut ClassCache,
    ) -> Result<(Self, String), String> {
        let regex = match raw.regex {
            RawRegex::One(s) => s,
            RawRegex::Parts(parts) => parts.concat(),
        };
        let translated = pattern::translate(&regex, true, classes)?;
        let pattern = translated.pattern;
        let validation = raw.validation.unwrap_or_default();
        let checksum = validation.checksum.map(Checksum::try_from).transpose()?;
        if checksum.is_some() {
            for g in ["SerialNumber", "CheckDigit"] {
                if !pattern.has_group(g) {
                    return Err(format!("has a checksum but no {g} group"));
                }
            }
        }
        let prepend_if = match validation.serial_number_format {
            Some(f) => Some((
                pattern::translate(&f.prepend_if.matches_regex, false, classes)?.pattern,
                f.prepend_if.content,
            )),
            None => None,
        };
        let mut additional = Vec::new();
        for add in raw.additional.unwrap_or_default() {
            if !pattern.has_group(&add.regex_group_name) {
                return Err(format!("lookup on missing group {}", add.regex_group_name));
            }
            let mut lookup = Vec::with_capacity(add.lookup.len());
            for l in add.lookup {
                let matcher = match (l.matches, l.matches_regex) {
                    (Some(m), None) => Matcher::Exact(m),
                    (None, Some(r)) => {
                        Matcher::Regex(pattern::translate(&r, false, classes)?.pattern)
                    }
                    _ => {
                        return Err(format!(
                            "{}: lookup needs one of matches / matches_regex",
                            add.name
                        ));
                    }
                };
                let (meaning, description) = match (l.name, l.courier, l.country) {
                    (Some(name), _, _) => (Some(name), l.description),
                    (None, Some(courier), country) => (Some(courier), country.or(l.description)),
                    (None, None, country) => (country, l.description),
                };
                lookup.push(Lookup {
                    matcher,
                    meaning,
                    description: description.filter(|d| !d.is_empty()),
                });
            }
            additional.push(Additional {
                name: add.name,
                group: add.regex_group_name,
                lookup,
            });
        }
        let mut required = Vec::new();
        for name in validation.additional.map(|r| r.exists).unwrap_or_default() {
            let i = additional
                .iter()
                .position(|a| a.name == name)
                .ok_or_else(|| format!("validation requires unknown lookup {name:?}"))?;
            required.push(i);
        }
        let id = raw.id.unwrap_or_else(|| derive_id(courier_code, &raw.name));
        Ok((
            Self {
                courier_code: courier_code.to_string(),
                courier_name: courier_name.to_string(),
                id,
                name: raw.name,
                description: raw.description,
                tracking_url: raw.tracking_url,
                checksum,
                specificity: translated.bits,
                test_numbers: raw.test_numbers,
                pattern,
                prepend_if,
                additional,
                required,
            },
            translated.source,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: &str) -> &'static Definition {
        definitions()
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no format {id}"))
    }

    /// Appends the mod-10 check digit (USPS weights) to `serial`.
    fn with_usps_check(serial: &str, reverse: bool) -> String {
        let c = checksum::mod10(serial, Some(3), Some(1), reverse).expect("digits");
        format!("{serial}{c}")
    }

    #[test]
    fn every_vendored_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/detection/tracking_number_data/couriers");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("vendored data dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = COURIER_FILES.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, embedded);
        let dir = dir.parent().expect("parent");
        assert!(dir.join("LICENSE").is_file() && dir.join("SOURCES.md").is_file());
    }

    #[test]
    fn the_whole_data_set_loads() {
        let defs = definitions();
        assert_eq!(defs.len(), 39);
        let ids: HashSet<_> = defs.iter().map(|d| &d.id).collect();
        assert_eq!(ids.len(), defs.len());
        assert_eq!(def("lasership_1ls7_18").name, "LaserShip 1LS7 (18)");
        assert_eq!(
            def("old_dominion_guaranteed_shipment").courier_code,
            "old_dominion"
        );
        assert_eq!(def("ups_waybill").courier_code, "ups");
        let longest = defs
            .iter()
            .flat_map(|d| &d.test_numbers.valid)
            .map(|n| crate::carriers::normalize_number(n).len())
            .max();
        assert!(longest.is_some_and(|l| l <= MAX_NUMBER_LEN));
    }

    #[test]
    fn normalises_input() {
        let d = detect(" 1z-5r8 939\t0357 5671 27\n");
        assert_eq!(d.number, "1Z5R89390357567127");
        assert_eq!(d.verdict, Verdict::Unique("ups"));
        assert_eq!(
            d.matches[0].serial_number.as_deref(),
            Some("5R8939035756712")
        );
        assert_eq!(
            d.matches[0].tracking_url.as_deref(),
            Some(
                "https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=1Z5R89390357567127"
            )
        );
    }

    #[test]
    fn hostile_input_is_rejected_quietly() {
        for n in [
            "",
            "   ",
            "-",
            "ß",
            "１Ｚ５Ｒ",
            "\u{0}",
            "🚚🚚",
            "(?=x)",
            "[",
            "\\",
        ] {
            let d = detect(n);
            assert!(d.matches.is_empty(), "{n:?}: {:?}", d.matches);
            assert_eq!(d.verdict, Verdict::None);
        }
        // A valid number padded beyond the limit is not looked at.
        let long = format!("{}{}", "0".repeat(MAX_NUMBER_LEN), "1Z5R89390357567127");
        assert!(detect(&long).matches.is_empty());
        assert!(def("ups").check(&long).is_none());
    }

    #[test]
    fn checksum_failures_are_not_matches() {
        assert!(def("ups").check("1Z5R89390357567127").is_some());
        assert!(def("ups").check("1Z5R89390357567128").is_none());
        assert_eq!(detect("1Z5R89390357567128").verdict, Verdict::None);
    }

    #[test]
    fn s10_maps_by_issuing_country() {
        for (suffix, want) in [
            ("US", Some("usps")),
            ("CA", Some("canadapost")),
            ("GB", Some("royalmail")),
            ("AU", Some("australiapost")),
            ("NL", Some("postnl")),
            ("DE", Some("dhl")),
            ("FR", None),
        ] {
            let d = detect(&format!("RR123456785{suffix}"));
            assert_eq!(d.matches.len(), 1, "{suffix}: {:?}", d.matches);
            assert_eq!(d.matches[0].carrier, want, "{suffix}");
            assert_eq!(d.carrier(), want, "{suffix}");
        }
        // Unknown country: the `Courier` lookup is required, so no match at all.
        assert!(detect("RR123456785XX").matches.is_empty());
        let gb = detect("RR123456785GB");
        let courier = gb.matches[0].details.iter().find(|d| d.label == "Courier");
        assert_eq!(
            courier.and_then(|c| c.meaning),
            Some("Royal Mail Group plc")
        );
    }

    #[test]
    fn prepend_if_feeds_the_checksum() {
        // OnTrac C: the serial is checked as "4" + serial unless it starts with 4.
        assert!(def("ontrac_c").check("C11031500001879").is_some());
        // USPS legacy: "91" is prepended to 20-digit numbers lacking it.
        assert!(def("usps_legacy").check("71969010756003077385").is_some());
        assert!(def("usps_legacy").check("9101123456789000000013").is_some());
    }

    #[test]
    fn dhl_ecommerce_lookaheads_hold() {
        let d = def("dhl_ecommerce");
        assert!(d.check("GM2951173225174494").is_some());
        assert!(d.check("GMABCDEFGHIJKLMN").is_none(), "needs a digit");
        assert!(
            d.check("GMABCDEFGHIJKLM1").is_none(),
            "must start with a digit"
        );
        assert!(d.check("GM1BCDEFGHIJKLMN").is_some());
        assert!(d.check("GM12345678").is_none(), "needs 10 characters");
        assert!(d.check(&format!("GM{}", "1".repeat(39))).is_some());
        assert!(d.check(&format!("GM{}", "1".repeat(40))).is_none());
    }

    #[test]
    fn usps_impb_lookaheads_restrict_lengths() {
        let n = def("usps_impb_n");
        // 9-digit mailer id: package id of 15, 11 or 7 digits only.
        let ok = with_usps_check(&format!("94001912345678{}", "1".repeat(15)), true);
        let bad = with_usps_check(&format!("94001912345678{}", "1".repeat(14)), true);
        assert!(n.check(&ok).is_some(), "{ok}");
        assert!(n.check(&bad).is_none(), "{bad}");
        // 6-digit mailer id: 14 or 10 only.
        let ok = with_usps_check(&format!("94001812345{}", "1".repeat(14)), true);
        let bad = with_usps_check(&format!("94001812345{}", "1".repeat(15)), true);
        assert!(n.check(&ok).is_some(), "{ok}");
        assert!(n.check(&bad).is_none(), "{bad}");

        let c = def("usps_impb_c");
        // 92 needs a 9-digit mailer id (starting 9), 93 a 6-digit one.
        let ok = with_usps_check(&format!("92612812345{}", "1".repeat(10)), false);
        let bad_ai = format!("92{}", &ok[2..]);
        let ok93 = with_usps_check(&format!("93612812345{}", "1".repeat(10)), false);
        assert!(c.check(&ok93).is_some(), "{ok93}");
        assert!(c.check(&bad_ai).is_none(), "{bad_ai}");
    }

    #[test]
    fn usps_routing_prefix_both_shapes() {
        // 420 + ZIP + ZIP+4 + 22-digit serial: the ZIP look-ahead's second
        // branch (26 digits left) must be found even though 22 comes first.
        let serial22 = "9400111206206406260787";
        assert!(
            def("usps_impb_n")
                .check(&format!("420123456789{serial22}"))
                .is_some()
        );
        assert!(
            def("usps_impb_n")
                .check(&format!("42012345{serial22}"))
                .is_some()
        );
        // 420 + ZIP + 26-digit serial: the greedy ZIP+4 reading fails and the
        // shorter one is used, as a backtracking engine would.
        let serial26 = "92748931507708513018050063";
        assert!(
            def("usps_impb_c")
                .check(&format!("42012345{serial26}"))
                .is_some()
        );
        let n26 = with_usps_check(&format!("94001912345678{}", "1".repeat(11)), true);
        assert!(
            def("usps_impb_n")
                .check(&format!("42012345{n26}"))
                .is_some()
        );
        // ZIP+4 followed by a 26-digit serial is not allowed.
        assert!(
            def("usps_impb_c")
                .check(&format!("420123456789{serial26}"))
                .is_none()
        );
    }

    fn m(courier: &'static str, carrier: Option<&'static str>, confidence: Confidence) -> Match {
        Match {
            courier_code: courier,
            courier_name: courier,
            type_id: courier,
            type_name: courier,
            carrier,
            confidence,
            specificity: 0.0,
            serial_number: None,
            tracking_url: None,
            details: Vec::new(),
        }
    }

    #[test]
    fn verdict_never_guesses() {
        use Confidence::{Checksum as C, Pattern as P};
        assert_eq!(verdict(&[]), Verdict::None);
        assert_eq!(verdict(&[m("ups", Some("ups"), C)]), Verdict::Unique("ups"));
        // Two formats of one carrier are still unique.
        assert_eq!(
            verdict(&[m("usps", Some("usps"), C), m("usps", Some("usps"), C)]),
            Verdict::Unique("usps")
        );
        // A lower-confidence rival does not count.
        assert_eq!(
            verdict(&[m("ups", Some("ups"), C), m("dhl", Some("dhl"), P)]),
            Verdict::Unique("ups")
        );
        assert_eq!(
            verdict(&[
                m("fedex", Some("fedex"), C),
                m("purolator", Some("purolator"), C)
            ]),
            Verdict::Ambiguous(vec!["fedex", "purolator"])
        );
        // An equally good courier without a plugin makes it undecidable too.
        assert_eq!(
            verdict(&[m("old_dominion", None, C), m("dhl", Some("dhl"), C)]),
            Verdict::Ambiguous(vec!["dhl"])
        );
        // The best match has no plugin: nothing to register it with.
        assert_eq!(
            verdict(&[m("ontrac", None, C), m("dhl", Some("dhl"), P)]),
            Verdict::None
        );
    }

    #[test]
    fn plugin_answers_join_the_verdict() {
        use Confidence::{Checksum as C, Pattern as P};
        let ups = detect("1Z5R89390357567127");
        assert_eq!(ups.verdict_with(&[]), Verdict::Unique("ups"));
        assert_eq!(ups.verdict_with(&[("ups", C)]), Verdict::Unique("ups"));
        assert_eq!(ups.verdict_with(&[("gls", P)]), Verdict::Unique("ups"));
        assert_eq!(
            ups.verdict_with(&[("gls", C)]),
            Verdict::Ambiguous(vec!["ups", "gls"])
        );
        // A format only a plugin knows.
        let gls = detect("ZZ00GLS");
        assert_eq!(gls.verdict, Verdict::None);
        assert_eq!(gls.verdict_with(&[("gls", P)]), Verdict::Unique("gls"));
        assert_eq!(
            Confidence::from_detection(trackd_carrier_sdk::Detection::No),
            None
        );
    }

    #[test]
    fn real_collisions_are_ambiguous() {
        // Valid as both FedEx Express (12) and Purolator (12).
        assert_eq!(
            detect("287809468872").verdict,
            Verdict::Ambiguous(vec!["purolator", "fedex"])
        );
        // DHL Express piece id and Purolator alpha, both pattern-only.
        assert_eq!(
            detect("JFV247545960").verdict,
            Verdict::Ambiguous(vec!["dhl", "purolator"])
        );
    }

    #[test]
    fn matches_are_ordered_by_confidence_then_specificity() {
        for d in definitions() {
            for n in &d.test_numbers.valid {
                let got = detect(n);
                for w in got.matches.windows(2) {
                    assert!(
                        (w[0].confidence, w[0].specificity) >= (w[1].confidence, w[1].specificity),
                        "{n}: {:?}",
                        got.matches
                    );
                }
            }
        }
    }
}
