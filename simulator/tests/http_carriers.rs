//! End to end with the real plugins: each plugin's own requests go over HTTP to
//! the simulator, and each plugin's parser must read back the journey's state.

mod common;

use common::{client, send, t0};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trackd_carrier_canadapost::CanadaPost;
use trackd_carrier_sdk::carrier::Quota;
use trackd_carrier_sdk::{
    Carrier, CarrierError, Credentials, JourneyStep, NumberResult, RetryAfter, Status,
};
use trackd_carrier_ups::Ups;
use trackd_simulator::{CarrierSetup, FaultConfig, RunningSim, Scenario, SimConfig, Simulator};

fn creds() -> Credentials {
    Credentials::new("sim-client", "sim-secret")
}

fn roomy() -> Quota {
    Quota {
        per_second: 10_000,
        per_minute: None,
        per_hour: None,
        per_day: None,
    }
}

async fn start(quota: Option<Quota>) -> (Simulator, RunningSim) {
    let setups = [Arc::new(Ups) as Arc<dyn Carrier>, Arc::new(CanadaPost)]
        .into_iter()
        .map(|p| {
            let mut s = CarrierSetup::new(p, creds());
            if let Some(q) = quota {
                s.quota = q;
            }
            s
        })
        .collect();
    let sim = Simulator::new(
        SimConfig {
            seed: 2024,
            time_scale: 0.0,
            start: t0(),
            token_ttl: Duration::from_secs(3600),
            control_listen: None,
            number_filter: None,
        },
        setups,
    );
    let running = sim.start().await.expect("simulator starts");
    (sim, running)
}

/// The bearer token for OAuth carriers (UPS), `None` for the others.
async fn login(
    c: &reqwest::Client,
    base: &str,
    plugin: &dyn Carrier,
    creds: &Credentials,
) -> Result<Option<String>, CarrierError> {
    match plugin.token_request(creds)? {
        Some(req) => {
            let resp = send(c, base, &req).await;
            plugin.parse_token(&resp).map(|t| Some(t.token))
        }
        None => Ok(None),
    }
}

async fn track_one(
    c: &reqwest::Client,
    base: &str,
    plugin: &dyn Carrier,
    number: &str,
    creds: &Credentials,
    token: Option<&str>,
) -> (
    trackd_carrier_sdk::HttpResponse,
    Result<Vec<NumberResult>, CarrierError>,
) {
    let req = plugin
        .track_request(&[number], creds, token)
        .expect("track request builds");
    let resp = send(c, base, &req).await;
    let parsed = plugin.parse_track(&[number], &resp);
    (resp, parsed)
}

fn plugins() -> Vec<(&'static str, Arc<dyn Carrier>)> {
    vec![("ups", Arc::new(Ups)), ("canadapost", Arc::new(CanadaPost))]
}

#[tokio::test]
async fn parsed_status_follows_every_journey_to_its_end() {
    let (sim, running) = start(Some(roomy())).await;
    let c = client();
    let clock = sim.clock();
    let mut parcels = Vec::new();
    for (slug, plugin) in plugins() {
        let mut numbers = sim.create_parcels(slug, 6).expect("configured");
        for s in Scenario::ALL {
            numbers.extend(
                sim.create_parcels_with_scenario(slug, 1, s)
                    .expect("configured"),
            );
        }
        for n in &numbers {
            assert_ne!(
                plugin.detect(n),
                trackd_carrier_sdk::Detection::No,
                "{slug} mints its own numbers: {n}"
            );
        }
        let base = running.base_urls[slug].clone();
        let token = login(&c, &base, plugin.as_ref(), &creds())
            .await
            .expect("login");
        parcels.push((slug, plugin, base, token, numbers));
    }
    let end = parcels
        .iter()
        .flat_map(|p| p.4.iter())
        .filter_map(|n| sim.journey(n))
        .filter_map(|j| j.terminal().map(|e| e.event.at.with_timezone(&chrono::Utc)))
        .max()
        .expect("journeys");
    let mut statuses_seen = std::collections::BTreeSet::new();
    loop {
        let now = clock.now();
        for (slug, plugin, base, token, numbers) in &parcels {
            for n in numbers {
                let want = sim.parcel_at(n, now).expect("created before now");
                let (resp, parsed) =
                    track_one(&c, base, plugin.as_ref(), n, &creds(), token.as_deref()).await;
                assert_eq!(resp.status, 200, "{slug} {n}: {}", resp.body_excerpt());
                let results = parsed.unwrap_or_else(|e| panic!("{slug} {n}: {e}"));
                assert_eq!(results.len(), 1);
                let snap = results[0]
                    .outcome
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{slug} {n}: {e}"));
                let cur = want.current().expect("events");
                assert_eq!(
                    snap.status,
                    cur.step.status(),
                    "{slug} {n} at {now}: {:?}",
                    cur.step
                );
                assert_eq!(snap.checkpoints.len(), want.events.len(), "{slug} {n}");
                if cur.step == JourneyStep::Delivered {
                    assert!(snap.delivered_at.is_some(), "{slug} {n}");
                }
                statuses_seen.insert(snap.status);
            }
        }
        if now > end {
            break;
        }
        clock.advance(chrono::Duration::hours(7));
    }
    for s in [
        Status::InfoReceived,
        Status::InTransit,
        Status::OutForDelivery,
        Status::AttemptFailed,
        Status::AvailableForPickup,
        Status::Exception,
        Status::Returning,
        Status::Returned,
        Status::Delivered,
    ] {
        assert!(statuses_seen.contains(&s), "{s:?} never observed over HTTP");
    }
    let stats = sim.stats();
    for slug in ["ups", "canadapost"] {
        let s = &stats.carriers[slug];
        assert_eq!(s.auth_failures, 0, "{slug}");
        assert_eq!(
            s.quota_violations_per_second + s.quota_violations_per_day,
            0,
            "{slug}"
        );
        assert_eq!(
            s.responses_by_status.keys().copied().collect::<Vec<_>>(),
            vec![200],
            "{slug}"
        );
    }
    assert_eq!(stats.carriers["ups"].token_requests, 1);
    running.shutdown().await;
}

#[tokio::test]
async fn unknown_numbers_parse_as_not_found() {
    let (sim, running) = start(Some(roomy())).await;
    let c = client();
    for (slug, plugin) in plugins() {
        let base = &running.base_urls[slug];
        let token = login(&c, base, plugin.as_ref(), &creds())
            .await
            .expect("login");
        let stranger = plugin.sim_mint_number(987_654_321);
        assert!(sim.journey(&stranger).is_none());
        let (_, parsed) = track_one(
            &c,
            base,
            plugin.as_ref(),
            &stranger,
            &creds(),
            token.as_deref(),
        )
        .await;
        let not_found = match &parsed {
            Ok(rs) => rs.len() == 1 && matches!(rs[0].outcome, Err(CarrierError::NotFound { .. })),
            Err(e) => matches!(e, CarrierError::NotFound { .. }),
        };
        assert!(not_found, "{slug}: {parsed:?}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_parse_as_auth_errors() {
    let (sim, running) = start(Some(roomy())).await;
    let c = client();
    let bad = Credentials::new("sim-client", "not-the-secret");
    let ups = Ups;
    let base = &running.base_urls["ups"];
    let err = login(&c, base, &ups, &bad)
        .await
        .expect_err("token refused");
    assert!(matches!(err, CarrierError::Auth { .. }), "{err:?}");
    let n = sim.create_parcels("ups", 1).expect("created");
    let (resp, parsed) = track_one(&c, base, &ups, &n[0], &creds(), Some("forged-token")).await;
    assert_eq!(resp.status, 401);
    assert!(
        matches!(parsed, Err(CarrierError::Auth { .. })),
        "{parsed:?}"
    );

    let cp = CanadaPost;
    let base = &running.base_urls["canadapost"];
    let n = sim.create_parcels("canadapost", 1).expect("created");
    let (_, parsed) = track_one(&c, base, &cp, &n[0], &bad, None).await;
    assert!(
        matches!(parsed, Err(CarrierError::Auth { .. })),
        "{parsed:?}"
    );
    let (_, parsed) = track_one(&c, base, &cp, &n[0], &creds(), None).await;
    assert!(parsed.is_ok(), "{parsed:?}");

    let stats = sim.stats();
    assert_eq!(stats.carriers["ups"].auth_failures, 2);
    assert_eq!(stats.carriers["canadapost"].auth_failures, 1);
    running.shutdown().await;
}

#[tokio::test]
async fn documented_quota_is_enforced_with_retry_after() {
    // Canada Post's documented quota is 1 call per second.
    let (sim, running) = start(None).await;
    let c = client();
    let cp = CanadaPost;
    let base = running.base_urls["canadapost"].clone();
    let n = sim.create_parcels("canadapost", 1).expect("created");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut refused = 0;
    while refused == 0 {
        assert!(Instant::now() < deadline, "never refused");
        let (resp, parsed) = track_one(&c, &base, &cp, &n[0], &creds(), None).await;
        if resp.status == 429 {
            refused += 1;
            assert_eq!(resp.retry_after(), Some(RetryAfter::Seconds(1)));
            assert!(
                matches!(parsed, Err(CarrierError::RateLimited { .. })),
                "{parsed:?}"
            );
        } else {
            assert_eq!(resp.status, 200);
        }
    }
    let s = &sim.stats().carriers["canadapost"];
    assert_eq!(s.quota_violations_per_second, refused);
    assert_eq!(s.faults_injected, 0);
    running.shutdown().await;
}

#[tokio::test]
async fn injected_faults_parse_as_typed_errors() {
    let (sim, running) = start(Some(roomy())).await;
    let c = client();
    for (slug, plugin) in plugins() {
        let base = running.base_urls[slug].clone();
        let token = login(&c, &base, plugin.as_ref(), &creds())
            .await
            .expect("login");
        let n = sim.create_parcels(slug, 1).expect("created");
        sim.set_faults(
            slug,
            FaultConfig {
                malformed: 1.0,
                ..FaultConfig::default()
            },
        )
        .expect("valid");
        for _ in 0..10 {
            let (_, parsed) = track_one(
                &c,
                &base,
                plugin.as_ref(),
                &n[0],
                &creds(),
                token.as_deref(),
            )
            .await;
            assert!(
                matches!(parsed, Err(CarrierError::Malformed { .. })),
                "{slug}: {parsed:?}"
            );
        }
        sim.set_faults(
            slug,
            FaultConfig {
                server_error: 1.0,
                ..FaultConfig::default()
            },
        )
        .expect("valid");
        let (resp, parsed) = track_one(
            &c,
            &base,
            plugin.as_ref(),
            &n[0],
            &creds(),
            token.as_deref(),
        )
        .await;
        assert!(resp.status >= 500, "{slug}");
        assert!(
            matches!(parsed, Err(CarrierError::Unavailable { .. })),
            "{slug}: {parsed:?}"
        );
        sim.set_faults(
            slug,
            FaultConfig {
                rate_limited: 1.0,
                ..FaultConfig::default()
            },
        )
        .expect("valid");
        let (resp, parsed) = track_one(
            &c,
            &base,
            plugin.as_ref(),
            &n[0],
            &creds(),
            token.as_deref(),
        )
        .await;
        assert_eq!(resp.status, 429, "{slug}");
        assert!(
            matches!(
                parsed,
                Err(CarrierError::RateLimited {
                    retry_after: Some(RetryAfter::Seconds(1))
                })
            ),
            "{slug}: {parsed:?}"
        );
        let s = &sim.stats().carriers[slug];
        assert_eq!(s.faults_injected, 12, "{slug}");
        assert_eq!(s.quota_violations_per_second, 0, "{slug}");
    }
    running.shutdown().await;
}
