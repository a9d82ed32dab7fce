//! The simulator's HTTP behaviour (auth, quota, faults, stats, shutdown), tested
//! through a minimal JSON carrier so it does not depend on any real plugin.

mod common;

use common::{FakeCarrier, client, expected_status, send, t0, wait_until};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trackd_carrier_sdk::carrier::{AuthKind, Quota};
use trackd_carrier_sdk::{Carrier, CarrierError, Credentials, HttpRequest, RetryAfter};
use trackd_simulator::{CarrierSetup, FaultConfig, RunningSim, SimConfig, Simulator};

fn creds() -> Credentials {
    Credentials::new("client-id", "s3cret")
}

fn setup(slug: &'static str, auth: AuthKind, quota: Quota) -> CarrierSetup {
    let mut s = CarrierSetup::new(Arc::new(FakeCarrier::new(slug, auth)), creds());
    s.quota = quota;
    s
}

fn roomy() -> Quota {
    Quota {
        per_second: 10_000,
        per_minute: None,
        per_hour: None,
        per_day: None,
    }
}

fn config(scale: f64) -> SimConfig {
    SimConfig {
        seed: 99,
        time_scale: scale,
        start: t0(),
        token_ttl: Duration::from_secs(3600),
        control_listen: None,
        number_filter: None,
    }
}

async fn start(setups: Vec<CarrierSetup>) -> (Simulator, RunningSim) {
    let sim = Simulator::new(config(0.0), setups);
    let running = sim.start().await.expect("simulator starts on loopback");
    (sim, running)
}

async fn token(
    c: &reqwest::Client,
    base: &str,
    carrier: &dyn Carrier,
    creds: &Credentials,
) -> Result<String, CarrierError> {
    let req = carrier
        .token_request(creds)
        .expect("token request builds")
        .expect("oauth carrier");
    let resp = send(c, base, &req).await;
    carrier.parse_token(&resp).map(|t| t.token)
}

async fn track(
    c: &reqwest::Client,
    base: &str,
    carrier: &dyn Carrier,
    numbers: &[&str],
    creds: &Credentials,
    token: Option<&str>,
) -> (
    trackd_carrier_sdk::HttpResponse,
    Result<Vec<trackd_carrier_sdk::NumberResult>, CarrierError>,
) {
    let req = carrier
        .track_request(numbers, creds, token)
        .expect("track request builds");
    let resp = send(c, base, &req).await;
    let parsed = carrier.parse_track(numbers, &resp);
    (resp, parsed)
}

#[tokio::test]
async fn oauth_token_then_track_reports_the_journey_state() {
    let fake = FakeCarrier::new("fake", AuthKind::OAuth2ClientCredentials);
    let (sim, running) = start(vec![setup(
        "fake",
        AuthKind::OAuth2ClientCredentials,
        roomy(),
    )])
    .await;
    let base = running.base_urls["fake"].clone();
    let c = client();
    let numbers = sim.create_parcels("fake", 3).expect("fake is configured");
    let tok = token(&c, &base, &fake, &creds())
        .await
        .expect("token issued");
    assert!(tok.len() >= 32, "opaque random token");

    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let clock = sim.clock();
    for step in 0..12 {
        let (resp, parsed) = track(&c, &base, &fake, &refs, &creds(), Some(&tok)).await;
        assert_eq!(resp.status, 200);
        let parsed = parsed.expect("parses");
        assert_eq!(parsed.len(), 3);
        for r in &parsed {
            let snap = r.outcome.as_ref().expect("known parcel");
            assert_eq!(
                snap.status,
                expected_status(&sim, &r.tracking_number),
                "step {step}"
            );
        }
        clock.advance(chrono::Duration::hours(14));
    }
    let stats = sim.stats().carriers["fake"].clone();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.track_requests, 12);
    assert_eq!(stats.numbers_asked, 36);
    assert_eq!(stats.requests, 13);
    assert_eq!(stats.responses_by_status.get(&200), Some(&13));
    assert_eq!(stats.auth_failures, 0);
    assert_eq!(
        stats.quota_violations_per_second + stats.quota_violations_per_day,
        0
    );
    running.shutdown().await;
}

#[tokio::test]
async fn unknown_numbers_are_not_found_and_known_ones_still_answer() {
    let fake = FakeCarrier::new("fake", AuthKind::ApiKey);
    let (sim, running) = start(vec![setup("fake", AuthKind::ApiKey, roomy())]).await;
    let base = &running.base_urls["fake"];
    let known = sim.create_parcels("fake", 1).expect("created");
    let (resp, parsed) = track(
        &client(),
        base,
        &fake,
        &["FK999999999999", &known[0]],
        &creds(),
        None,
    )
    .await;
    assert_eq!(resp.status, 200);
    let parsed = parsed.expect("parses");
    assert!(matches!(
        parsed[0].outcome,
        Err(CarrierError::NotFound { .. })
    ));
    assert_eq!(
        parsed[1].outcome.as_ref().map(|s| s.status).ok(),
        Some(trackd_carrier_sdk::Status::InfoReceived)
    );
    // Lookups forgive case and spaces, as the daemon normalizes anyway.
    let lower = known[0].to_lowercase();
    let (_, parsed) = track(&client(), base, &fake, &[&lower], &creds(), None).await;
    assert!(parsed.expect("parses")[0].outcome.is_ok());
    running.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_for_every_auth_kind() {
    let oauth = FakeCarrier::new("oauth", AuthKind::OAuth2ClientCredentials);
    let basic = FakeCarrier::new("basic", AuthKind::Basic);
    let key = FakeCarrier::new("key", AuthKind::ApiKey);
    let (sim, running) = start(vec![
        setup("oauth", AuthKind::OAuth2ClientCredentials, roomy()),
        setup("oauth2", AuthKind::OAuth2ClientCredentials, roomy()),
        setup("basic", AuthKind::Basic, roomy()),
        setup("key", AuthKind::ApiKey, roomy()),
    ])
    .await;
    let c = client();
    let bad = Credentials::new("client-id", "wrong");
    let n = sim.create_parcels("oauth", 1).expect("created");

    let err = token(&c, &running.base_urls["oauth"], &oauth, &bad)
        .await
        .expect_err("refused");
    assert!(matches!(err, CarrierError::Auth { .. }), "{err:?}");
    for bogus in ["sim_not-issued", ""] {
        let (resp, parsed) = track(
            &c,
            &running.base_urls["oauth"],
            &oauth,
            &[&n[0]],
            &creds(),
            Some(bogus),
        )
        .await;
        assert_eq!(resp.status, 401);
        assert!(matches!(parsed, Err(CarrierError::Auth { .. })));
    }
    // A live token of another carrier is not accepted either.
    let other = FakeCarrier::new("oauth2", AuthKind::OAuth2ClientCredentials);
    let theirs = token(&c, &running.base_urls["oauth2"], &other, &creds())
        .await
        .expect("token");
    let (resp, _) = track(
        &c,
        &running.base_urls["oauth"],
        &oauth,
        &[&n[0]],
        &creds(),
        Some(&theirs),
    )
    .await;
    assert_eq!(resp.status, 401);
    let (resp, _) = track(
        &c,
        &running.base_urls["oauth2"],
        &other,
        &[&n[0]],
        &creds(),
        Some(&theirs),
    )
    .await;
    assert_eq!(resp.status, 200);
    let (resp, _) = track(
        &c,
        &running.base_urls["basic"],
        &basic,
        &[&n[0]],
        &bad,
        None,
    )
    .await;
    assert_eq!(resp.status, 401);
    let (resp, _) = track(&c, &running.base_urls["key"], &key, &[&n[0]], &bad, None).await;
    assert_eq!(resp.status, 401);
    let (resp, _) = track(
        &c,
        &running.base_urls["key"],
        &key,
        &[&n[0]],
        &creds(),
        None,
    )
    .await;
    assert_eq!(resp.status, 200);

    let stats = sim.stats();
    assert_eq!(stats.carriers["oauth"].auth_failures, 4);
    assert_eq!(stats.carriers["oauth2"].auth_failures, 0);
    assert_eq!(stats.carriers["basic"].auth_failures, 1);
    assert_eq!(stats.carriers["key"].auth_failures, 1);
    assert_eq!(
        stats.carriers["oauth"].responses_by_status.get(&401),
        Some(&4)
    );
    running.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let fake = FakeCarrier::new("fake", AuthKind::OAuth2ClientCredentials);
    let mut cfg = config(0.0);
    cfg.token_ttl = Duration::from_millis(300);
    let sim = Simulator::new(
        cfg,
        vec![setup("fake", AuthKind::OAuth2ClientCredentials, roomy())],
    );
    let running = sim.start().await.expect("starts");
    let base = running.base_urls["fake"].clone();
    let n = sim.create_parcels("fake", 1).expect("created");
    let c = client();
    let issued = Instant::now();
    let tok = token(&c, &base, &fake, &creds()).await.expect("token");
    // Wait on the condition: the token is refused once its TTL has passed.
    wait_until("token expiry", Duration::from_secs(30), || {
        let (c, base, tok, n, fake) = (c.clone(), base.clone(), tok.clone(), n[0].clone(), &fake);
        async move {
            let (resp, _) = track(&c, &base, fake, &[&n], &creds(), Some(&tok)).await;
            resp.status == 401
        }
    })
    .await;
    assert!(
        issued.elapsed() >= Duration::from_millis(300),
        "not refused before the TTL"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn exceeding_the_per_second_quota_gets_429_with_retry_after() {
    let fake = FakeCarrier::new("fake", AuthKind::ApiKey);
    let quota = Quota {
        per_second: 1,
        per_minute: None,
        per_hour: None,
        per_day: None,
    };
    let (sim, running) = start(vec![setup("fake", AuthKind::ApiKey, quota)]).await;
    let base = running.base_urls["fake"].clone();
    let n = sim.create_parcels("fake", 1).expect("created");
    let c = client();
    let mut refused = 0u64;
    let mut ok = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while refused < 3 {
        assert!(Instant::now() < deadline, "never refused");
        let (resp, parsed) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
        match resp.status {
            200 => ok += 1,
            429 => {
                refused += 1;
                assert_eq!(
                    resp.retry_after(),
                    Some(RetryAfter::Seconds(1)),
                    "ceil of < 1 s"
                );
                assert!(matches!(
                    parsed,
                    Err(CarrierError::RateLimited {
                        retry_after: Some(RetryAfter::Seconds(1))
                    })
                ));
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(ok >= 1, "the first request fits the bucket");
    let stats = sim.stats().carriers["fake"].clone();
    assert_eq!(stats.quota_violations_per_second, refused);
    assert_eq!(stats.quota_violations_per_day, 0);
    assert_eq!(stats.faults_injected, 0);
    assert_eq!(stats.responses_by_status.get(&429), Some(&refused));
    running.shutdown().await;
}

#[tokio::test]
async fn daily_budget_refusal_says_when_it_frees_up() {
    let fake = FakeCarrier::new("fake", AuthKind::ApiKey);
    let quota = Quota {
        per_second: 0,
        per_minute: None,
        per_hour: None,
        per_day: Some(3),
    };
    let (sim, running) = start(vec![setup("fake", AuthKind::ApiKey, quota)]).await;
    let base = running.base_urls["fake"].clone();
    let n = sim.create_parcels("fake", 1).expect("created");
    let c = client();
    for _ in 0..3 {
        let (resp, _) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
        assert_eq!(resp.status, 200);
    }
    let (resp, _) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
    assert_eq!(resp.status, 429);
    match resp.retry_after() {
        Some(RetryAfter::Seconds(s)) => assert!((86_000..=86_400).contains(&s), "{s}"),
        other => panic!("Retry-After missing: {other:?}"),
    }
    let stats = sim.stats().carriers["fake"].clone();
    assert_eq!(stats.quota_violations_per_day, 1);
    assert_eq!(stats.quota_violations_per_second, 0);
    running.shutdown().await;
}

#[tokio::test]
async fn token_calls_do_not_use_the_tracking_quota() {
    let fake = FakeCarrier::new("fake", AuthKind::OAuth2ClientCredentials);
    let quota = Quota {
        per_second: 0,
        per_minute: None,
        per_hour: None,
        per_day: Some(1),
    };
    let (sim, running) = start(vec![setup(
        "fake",
        AuthKind::OAuth2ClientCredentials,
        quota,
    )])
    .await;
    let base = running.base_urls["fake"].clone();
    let c = client();
    for _ in 0..5 {
        token(&c, &base, &fake, &creds())
            .await
            .expect("tokens are not rate limited");
    }
    let n = sim.create_parcels("fake", 1).expect("created");
    let tok = token(&c, &base, &fake, &creds()).await.expect("token");
    let (resp, _) = track(&c, &base, &fake, &[&n[0]], &creds(), Some(&tok)).await;
    assert_eq!(resp.status, 200, "the daily budget of one is still there");
    running.shutdown().await;
}

#[tokio::test]
async fn injected_faults_behave_and_are_counted_apart_from_violations() {
    let fake = FakeCarrier::new("fake", AuthKind::ApiKey);
    let (sim, running) = start(vec![setup("fake", AuthKind::ApiKey, roomy())]).await;
    let base = running.base_urls["fake"].clone();
    let n = sim.create_parcels("fake", 1).expect("created");
    let c = client();
    let only = |f: fn(&mut FaultConfig)| {
        let mut cfg = FaultConfig::default();
        f(&mut cfg);
        cfg
    };

    sim.set_faults("fake", only(|f| f.server_error = 1.0))
        .expect("valid");
    let (resp, parsed) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
    assert_eq!(resp.status, 503);
    assert!(matches!(
        parsed,
        Err(CarrierError::Unavailable { status: 503, .. })
    ));

    sim.set_faults("fake", only(|f| f.malformed = 1.0))
        .expect("valid");
    for _ in 0..5 {
        let (resp, parsed) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
        assert_eq!(resp.status, 200);
        assert!(
            matches!(parsed, Err(CarrierError::Malformed { .. })),
            "{parsed:?}"
        );
    }

    sim.set_faults("fake", only(|f| f.rate_limited = 1.0))
        .expect("valid");
    let (resp, parsed) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
    assert_eq!(resp.status, 429);
    assert_eq!(resp.retry_after(), Some(RetryAfter::Seconds(1)));
    assert!(matches!(parsed, Err(CarrierError::RateLimited { .. })));

    sim.set_faults(
        "fake",
        only(|f| {
            f.timeout = 1.0;
            f.timeout_hold = Duration::from_millis(400);
        }),
    )
    .expect("valid");
    let started = Instant::now();
    let (resp, parsed) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "held for the configured time"
    );
    assert_eq!(resp.status, 200, "then answered normally");
    assert!(parsed.expect("parses")[0].outcome.is_ok());

    sim.set_faults("fake", FaultConfig::default())
        .expect("valid");
    let (resp, _) = track(&c, &base, &fake, &[&n[0]], &creds(), None).await;
    assert_eq!(resp.status, 200);

    let stats = sim.stats().carriers["fake"].clone();
    assert_eq!(stats.faults_injected, 8);
    assert_eq!(
        stats.quota_violations_per_second + stats.quota_violations_per_day,
        0
    );
    assert_eq!(stats.responses_by_status.get(&503), Some(&1));
    assert_eq!(stats.responses_by_status.get(&429), Some(&1));
    assert_eq!(stats.responses_by_status.get(&200), Some(&7));

    let bad = FaultConfig {
        timeout: 0.7,
        server_error: 0.7,
        ..FaultConfig::default()
    };
    assert!(sim.set_faults("fake", bad).is_err());
    assert!(sim.set_faults("nope", FaultConfig::default()).is_err());
    running.shutdown().await;
}

#[tokio::test]
async fn unroutable_and_malformed_requests_get_clear_errors() {
    let fake = FakeCarrier::new("fake", AuthKind::ApiKey);
    let (sim, running) = start(vec![setup("fake", AuthKind::ApiKey, roomy())]).await;
    let base = running.base_urls["fake"].clone();
    let c = client();
    let resp = send(&c, &base, &HttpRequest::get("/no/such/path")).await;
    assert_eq!(resp.status, 404);
    assert!(String::from_utf8_lossy(&resp.body).contains("no such endpoint"));
    let resp = send(
        &c,
        &base,
        &HttpRequest::get("/track").header("x-api-key", "s3cret"),
    )
    .await;
    assert_eq!(resp.status, 400, "the carrier's own bad-request answer");
    let too_many: Vec<String> = (0..6).map(|i| format!("FK{i:012}")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let (resp, _) = track(&c, &base, &fake, &refs, &creds(), None).await;
    assert_eq!(resp.status, 400, "more than batch_size numbers");
    let resp = c
        .delete(format!("{base}/track"))
        .send()
        .await
        .expect("reachable");
    assert_eq!(resp.status().as_u16(), 405);
    let stats = sim.stats().carriers["fake"].clone();
    assert_eq!(stats.bad_requests, 2);
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.responses_by_status.get(&404), Some(&1));
    assert_eq!(stats.responses_by_status.get(&405), Some(&1));
    running.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_held_requests_and_drop_does_not_panic() {
    let fake = Arc::new(FakeCarrier::new("fake", AuthKind::ApiKey));
    let mut s = setup("fake", AuthKind::ApiKey, roomy());
    s.faults = FaultConfig {
        timeout: 1.0,
        timeout_hold: Duration::from_secs(3600),
        ..FaultConfig::default()
    };
    let (sim, running) = start(vec![s]).await;
    let base = running.base_urls["fake"].clone();
    let n = sim.create_parcels("fake", 1).expect("created");
    let held = tokio::spawn({
        let (base, n, fake) = (base.clone(), n[0].clone(), fake.clone());
        async move {
            let req = fake.track_request(&[&n], &creds(), None).expect("builds");
            send(&client(), &base, &req).await
        }
    });
    wait_until(
        "the held request to arrive",
        Duration::from_secs(30),
        || {
            let sim = sim.clone();
            async move { sim.stats().carriers["fake"].faults_injected == 1 }
        },
    )
    .await;
    let started = Instant::now();
    running.shutdown().await;
    let resp = held.await.expect("request task");
    assert_eq!(resp.status, 200, "answered normally on shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "shutdown did not wait out the hold"
    );

    // A second instance, dropped without shutdown: no panic, and the port closes.
    let running = sim.start().await.expect("starts again");
    let base = running.base_urls["fake"].clone();
    drop(running);
    wait_until(
        "the dropped server to stop",
        Duration::from_secs(30),
        || {
            let base = base.clone();
            async move {
                reqwest::Client::new()
                    .get(format!("{base}/x"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .is_err()
            }
        },
    )
    .await;
}

#[tokio::test]
async fn create_parcels_is_deterministic_per_seed_and_rejects_unknown_carriers() {
    let mk = |seed| {
        let mut cfg = config(0.0);
        cfg.seed = seed;
        Simulator::new(cfg, vec![setup("fake", AuthKind::ApiKey, roomy())])
    };
    let (a, b, c) = (mk(5), mk(5), mk(6));
    let na = a.create_parcels("fake", 20).expect("created");
    let nb = b.create_parcels("fake", 20).expect("created");
    let nc = c.create_parcels("fake", 20).expect("created");
    assert_eq!(na, nb);
    assert_ne!(na, nc);
    for n in &na {
        assert_eq!(a.journey(n), b.journey(n));
        let j = a.journey(n).expect("known");
        assert_eq!(j.created_at, t0());
        assert_eq!(j.carrier, "fake");
        assert!(
            a.parcel_at(n, t0()).is_some_and(|p| p.events.len() == 1),
            "label visible at once"
        );
    }
    let more = a.create_parcels("fake", 5).expect("created");
    assert!(more.iter().all(|n| !na.contains(n)), "numbers never repeat");
    assert!(matches!(
        a.create_parcels("nope", 1),
        Err(trackd_simulator::SimError::UnknownCarrier(_))
    ));
    assert!(a.journey("FK-NEVER").is_none());
    assert!(a.parcel_at("FK-NEVER", t0()).is_none());
    let forced = a
        .create_parcels_with_scenario("fake", 3, trackd_simulator::Scenario::LateWithoutUpdate)
        .expect("created");
    assert!(
        forced.iter().all(|n| a.journey(n).map(|j| j.scenario)
            == Some(trackd_simulator::Scenario::LateWithoutUpdate))
    );
}

#[tokio::test]
async fn duplicate_carriers_fail_to_start() {
    let sim = Simulator::new(
        config(0.0),
        vec![
            setup("fake", AuthKind::ApiKey, roomy()),
            setup("fake", AuthKind::ApiKey, roomy()),
        ],
    );
    let err = sim.start().await.expect_err("duplicate slug");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
