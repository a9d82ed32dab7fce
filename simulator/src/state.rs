//! Per-carrier simulator state: parcels, issued tokens, quota, faults, counters.
//! Each piece has its own lock so the request path rarely waits.

use crate::faults::FaultConfig;
use crate::journey::{Journey, Scenario, stream_rng};
use crate::quota::QuotaState;
use crate::stats::Counters;
use crate::{CarrierSetup, SimConfig, SimError};
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trackd_carrier_sdk::model::Fnv;
use trackd_carrier_sdk::{Carrier, Credentials, SimParcel};

/// A created parcel and the last view rendered of it, so polling an unchanged
/// parcel does not rebuild (clone) its event list.
pub(crate) struct ParcelEntry {
    pub journey: Journey,
    /// An older shipment under the same (recycled) number, as the carrier
    /// still shows it (its journey ended long ago, so it never changes).
    pub previous: Option<Arc<SimParcel>>,
    cache: Mutex<Option<Arc<SimParcel>>>,
}

impl ParcelEntry {
    fn new(journey: Journey, previous: Option<Arc<SimParcel>>) -> ParcelEntry {
        ParcelEntry {
            journey,
            previous,
            cache: Mutex::new(None),
        }
    }

    /// The parcel as shown at `now` (`None` before its label existed).
    pub fn view(&self, now: DateTime<Utc>) -> Option<Arc<SimParcel>> {
        let n = self.journey.visible_count(now);
        if n == 0 {
            return None;
        }
        let mut cache = self.cache.lock();
        if let Some(p) = cache.as_ref().filter(|p| p.events.len() == n) {
            return Some(p.clone());
        }
        let p = Arc::new(self.journey.parcel_with(n)?);
        *cache = Some(p.clone());
        Some(p)
    }
}

/// Everything the simulator keeps for one carrier.
pub(crate) struct CarrierState {
    pub slug: String,
    pub carrier: Arc<dyn Carrier>,
    pub credentials: Credentials,
    pub listen: SocketAddr,
    pub token_ttl: Duration,
    pub quota: Mutex<QuotaState>,
    pub faults: RwLock<FaultConfig>,
    pub fault_rng: Mutex<ChaCha8Rng>,
    /// Issued bearer token -> real expiry.
    tokens: RwLock<HashMap<String, Instant>>,
    parcels: RwLock<HashMap<String, Arc<ParcelEntry>>>,
    /// Next serial to mint; the lock also serializes parcel creation.
    next_serial: Mutex<u64>,
    serial_base: u64,
    pub counters: Counters,
    /// Numbers a track call is being answered for right now -> how many calls.
    pub in_flight: Mutex<HashMap<String, u32>>,
    /// Number -> when a track call last asked for it (failover measurements).
    pub last_asked: Mutex<HashMap<String, Instant>>,
}

/// Upper-case, no spaces: how the daemon and carriers write tracking numbers.
pub(crate) fn normalize(number: &str) -> Cow<'_, str> {
    if number
        .bytes()
        .any(|b| b.is_ascii_lowercase() || b.is_ascii_whitespace())
    {
        Cow::Owned(
            number
                .chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        )
    } else {
        Cow::Borrowed(number)
    }
}

/// Equality whose time does not depend on where the strings differ.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How many tokens may pile up before expired ones are swept.
const TOKEN_SWEEP_AT: usize = 1024;

impl CarrierState {
    pub fn new(setup: CarrierSetup, cfg: &SimConfig) -> CarrierState {
        let slug = setup.carrier.descriptor().slug.to_string();
        let faults = match setup.faults.validate() {
            Ok(()) => setup.faults,
            Err(e) => {
                tracing::error!(carrier = %slug, error = %e, "invalid fault configuration; injecting no faults");
                FaultConfig::default()
            }
        };
        // Serials start at a seed-dependent base so runs with different seeds mint
        // different numbers, while one seed always mints the same ones.
        let mut h = Fnv::new();
        h.write(&cfg.seed.to_le_bytes());
        h.write(slug.as_bytes());
        let serial_base = (h.finish() % 9_000) * 100_000;
        CarrierState {
            fault_rng: Mutex::new(stream_rng(cfg.seed, &format!("faults/{slug}"))),
            slug,
            carrier: setup.carrier,
            credentials: setup.credentials,
            listen: setup.listen,
            token_ttl: cfg.token_ttl,
            quota: Mutex::new(QuotaState::new(setup.quota, Instant::now())),
            faults: RwLock::new(faults),
            tokens: RwLock::new(HashMap::new()),
            parcels: RwLock::new(HashMap::new()),
            next_serial: Mutex::new(0),
            serial_base,
            counters: Counters::default(),
            in_flight: Mutex::new(HashMap::new()),
            last_asked: Mutex::new(HashMap::new()),
        }
    }

    /// Looks a parcel up by number (as asked, or normalized).
    pub fn parcel(&self, number: &str) -> Option<Arc<ParcelEntry>> {
        let map = self.parcels.read();
        if let Some(p) = map.get(number) {
            return Some(p.clone());
        }
        match normalize(number) {
            Cow::Owned(n) => map.get(&n).cloned(),
            Cow::Borrowed(_) => None,
        }
    }

    /// Mints `count` unused numbers and plans their journeys from `now`.
    pub fn create_parcels(
        &self,
        seed: u64,
        now: DateTime<Utc>,
        count: usize,
        scenario: Option<Scenario>,
        accept: Option<&crate::NumberFilter>,
        recycled: Option<&crate::Recycled>,
    ) -> Result<Vec<String>, SimError> {
        let mut next = self.next_serial.lock();
        // Capacity is capped so an absurd count fails by running out, not by a panic.
        let mut numbers = Vec::with_capacity(count.min(1 << 16));
        {
            let existing = self.parcels.read();
            let mut batch = HashSet::with_capacity(count.min(1 << 16));
            let mut misses = 0usize;
            while numbers.len() < count {
                let serial = self.serial_base + *next;
                *next += 1;
                let minted = self.carrier.sim_mint_number(serial);
                let number = normalize(&minted).into_owned();
                if number.is_empty()
                    || accept.is_some_and(|f| !(f.0)(&self.slug, &number))
                    || existing.contains_key(&number)
                    || !batch.insert(number.clone())
                {
                    misses += 1;
                    if misses > count.saturating_add(1000) {
                        return Err(SimError::NumbersExhausted {
                            carrier: self.slug.clone(),
                            wanted: count,
                        });
                    }
                    continue;
                }
                numbers.push(number);
            }
        }
        // Plan outside the map lock so trackers being polled are not held up.
        let entries: Vec<(String, Arc<ParcelEntry>)> = numbers
            .iter()
            .map(|n| {
                let start = now + recycled.map_or(chrono::Duration::zero(), |r| r.label_in);
                let journey = match scenario {
                    Some(s) => Journey::plan_scenario(seed, &self.slug, n, start, s),
                    None => Journey::plan(seed, &self.slug, n, start),
                };
                let previous = recycled.and_then(|r| r.previous_shipment(seed, &self.slug, n, now));
                tracing::debug!(carrier = %self.slug, tracking_number = %n, scenario = journey.scenario.as_str(), recycled = previous.is_some(), "planned journey");
                (n.clone(), Arc::new(ParcelEntry::new(journey, previous.map(Arc::new))))
            })
            .collect();
        self.parcels.write().extend(entries);
        Ok(numbers)
    }

    /// Issues a fresh opaque bearer token valid for `token_ttl` of real time.
    pub fn issue_token(&self) -> String {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let mut token = String::with_capacity(4 + bytes.len() * 2);
        token.push_str("sim_");
        for b in bytes {
            token.push_str(&format!("{b:02x}"));
        }
        let now = Instant::now();
        let mut tokens = self.tokens.write();
        if tokens.len() >= TOKEN_SWEEP_AT {
            tokens.retain(|_, exp| *exp > now);
        }
        tokens.insert(token.clone(), now + self.token_ttl);
        token
    }

    /// True when `token` was issued by this carrier and has not expired.
    pub fn token_is_live(&self, token: &str) -> bool {
        self.tokens
            .read()
            .get(token)
            .is_some_and(|exp| *exp > Instant::now())
    }

    /// True when `id`/`secret` are this carrier's configured account.
    pub fn account_matches(&self, id: &str, secret: &str) -> bool {
        let id_ok = self
            .credentials
            .id
            .as_deref()
            .is_some_and(|want| ct_eq(want, id));
        let secret_ok = self
            .credentials
            .secret
            .as_deref()
            .is_some_and(|want| ct_eq(want, secret));
        id_ok & secret_ok
    }

    /// True when `key` is this carrier's configured API key (the secret).
    pub fn api_key_matches(&self, key: &str) -> bool {
        self.credentials
            .secret
            .as_deref()
            .is_some_and(|want| ct_eq(want, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_only_allocates_when_needed() {
        assert!(matches!(normalize("1Z999"), Cow::Borrowed("1Z999")));
        assert_eq!(normalize("1z 999").as_ref(), "1Z999");
    }

    #[test]
    fn ct_eq_is_equality() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
        assert!(ct_eq("", ""));
    }
}
