//! The carrier plugin registry: adding a carrier is one folder under `carriers/`
//! and one line here.

use std::sync::Arc;
use trackd_carrier_sdk::{Carrier, Detection};

/// Every built-in carrier plugin, in registry order.
pub fn builtin() -> Vec<Arc<dyn Carrier>> {
    vec![
        Arc::new(trackd_carrier_ups::Ups::new()),
        Arc::new(trackd_carrier_canadapost::CanadaPost::new()),
        Arc::new(trackd_carrier_dhl::Dhl),
        Arc::new(trackd_carrier_usps::Usps),
        Arc::new(trackd_carrier_dpd::Dpd),
        Arc::new(trackd_carrier_purolator::Purolator),
        Arc::new(trackd_carrier_australiapost::AustraliaPost),
        Arc::new(trackd_carrier_gls::Gls),
        Arc::new(trackd_carrier_fedex::Fedex),
        Arc::new(trackd_carrier_royalmail::RoyalMail),
        Arc::new(trackd_carrier_postnl::PostNl),
    ]
}

/// Upper case, no spaces or dashes: the one form numbers are stored and matched in.
pub fn normalize_number(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// Carriers whose formats match, strongest first.
pub fn detect(carriers: &[Arc<dyn Carrier>], number: &str) -> Vec<(&'static str, Detection)> {
    let mut found: Vec<_> = carriers
        .iter()
        .map(|c| (c.descriptor().slug, c.detect(number)))
        .filter(|(_, d)| *d != Detection::No)
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.1));
    found
}

/// The single carrier a number belongs to, or why it cannot be decided: the
/// tracking_number_data formats (with their check digits) plus each plugin's
/// own `detect` (formats the data set lacks, e.g. GLS). Ties are reported as
/// ambiguous, never guessed.
pub fn detect_one(carriers: &[Arc<dyn Carrier>], number: &str) -> Result<&'static str, String> {
    use crate::detection::{Confidence, Verdict};
    let d = crate::detection::detect(number);
    let hits: Vec<_> = detect(carriers, &d.number)
        .into_iter()
        .filter_map(|(s, det)| Confidence::from_detection(det).map(|c| (s, c)))
        .collect();
    match d.verdict_with(&hits) {
        Verdict::Unique(s) if carriers.iter().any(|p| p.descriptor().slug == s) => Ok(s),
        Verdict::Unique(s) => Err(format!(
            "looks like a {s} number, but that carrier is not available; pass \"carrier\" explicitly"
        )),
        Verdict::Ambiguous(c) => Err(format!(
            "ambiguous tracking number: could be {}; pass \"carrier\" explicitly",
            c.join(", ")
        )),
        Verdict::None => match d.matches.first() {
            Some(m) => Err(format!(
                "recognised as {} ({}), which trackd has no plugin for; pass \"carrier\" explicitly",
                m.courier_name, m.type_name
            )),
            None => Err(
                "no carrier recognises this tracking number; pass \"carrier\" explicitly".into(),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique() {
        let cs = builtin();
        let mut slugs: Vec<_> = cs.iter().map(|c| c.descriptor().slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), cs.len());
    }

    #[test]
    fn every_carrier_has_a_documented_config_table() {
        let defaults = include_str!("../config/trackd.toml");
        let config = crate::config::Config::load(None, Vec::<(String, String)>::new())
            .expect("embedded defaults load");
        for c in builtin() {
            let slug = c.descriptor().slug;
            assert!(
                defaults.contains(&format!("[carriers.{slug}]")),
                "config/trackd.toml has no [carriers.{slug}] table"
            );
            assert!(config.carriers[slug].enabled, "{slug} enabled by default");
        }
    }

    #[test]
    fn every_carrier_folder_is_registered() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("carriers");
        let registered: Vec<_> = builtin().iter().map(|c| c.descriptor().slug).collect();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().to_string();
            if !entry.path().is_dir()
                || name == "sdk"
                || name.starts_with('_')
                || name == "template"
            {
                continue;
            }
            assert!(
                registered.contains(&name.as_str()),
                "carriers/{name} is not registered in src/carriers.rs"
            );
        }
    }

    #[test]
    fn normalizes_numbers() {
        assert_eq!(normalize_number(" 1z 12-3ab "), "1Z123AB");
    }

    #[test]
    fn detects_minted_numbers_uniquely() {
        let cs = builtin();
        // Every simulated number detects as (at least) its own carrier; the
        // simulator hands out only those that detect as nothing else (see
        // `demo::unambiguous_numbers`), and most of them qualify.
        let filter = crate::demo::unambiguous_numbers();
        for c in &cs {
            let slug = c.descriptor().slug;
            let mut unique = 0;
            for serial in 0..300 {
                let n = c.sim_mint_number(serial);
                assert!(
                    detect(&cs, &n).iter().any(|(s, _)| *s == slug),
                    "{slug}: {n} not detected"
                );
                unique += usize::from((filter.0)(slug, &n));
            }
            assert!(
                unique >= 150,
                "{slug}: only {unique}/300 minted numbers are unambiguous"
            );
        }
    }
}
