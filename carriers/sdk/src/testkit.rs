//! Conformance test kit: every carrier runs these checks with one line each, so a
//! new plugin is held to the same bar as the built-in ones.

use crate::carrier::{Carrier, Credentials};
use crate::error::CarrierError;
use crate::http::HttpResponse;
use crate::model::{Address, Eta};
use crate::sim::{JourneyStep, SimCall, SimEvent, SimParcel, SimReply};
use crate::status::Status;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Timelike};
use proptest::prelude::*;

/// What a carrier's wire format can carry, so the round trip compares only that.
#[derive(Debug, Clone, Copy)]
pub struct Fidelity {
    /// Checkpoint times carry a UTC offset (otherwise they come back naive).
    pub checkpoint_offsets: bool,
    /// Checkpoint times carry seconds (otherwise truncated to the minute).
    pub checkpoint_seconds: bool,
    /// The ETA comes back as a timed window (otherwise as a date).
    pub eta_window: bool,
}

/// Places with their real standard-time UTC offsets, for generated journeys.
pub const PLACES: &[(&str, &str, &str, &str, i32)] = &[
    ("ATLANTA", "GA", "30301", "US", -5),
    ("LOUISVILLE", "KY", "40201", "US", -5),
    ("CHICAGO", "IL", "60601", "US", -6),
    ("DENVER", "CO", "80201", "US", -7),
    ("LOS ANGELES", "CA", "90001", "US", -8),
    ("TORONTO", "ON", "M5V2T6", "CA", -5),
    ("MONTREAL", "QC", "H2X1Y4", "CA", -5),
    ("VANCOUVER", "BC", "V6B1A1", "CA", -8),
    ("HALIFAX", "NS", "B3H1A1", "CA", -4),
];

fn place(i: usize) -> (Address, FixedOffset) {
    let (city, region, postal, country, hours) = PLACES[i % PLACES.len()];
    let addr = Address {
        city: Some(city.into()),
        region: Some(region.into()),
        postal_code: Some(postal.into()),
        country: Some(country.into()),
    };
    let off =
        FixedOffset::east_opt(hours * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).unwrap());
    (addr, off)
}

/// Journeys: a label, then transit steps, ending in any non-label step.
fn arb_steps() -> impl Strategy<Value = Vec<JourneyStep>> {
    let middle = prop::sample::select(&JourneyStep::ALL[1..11]);
    let last = prop::sample::select(&JourneyStep::ALL[1..]);
    (prop::collection::vec(middle, 0..8), prop::option::of(last)).prop_map(|(mid, last)| {
        let mut steps = vec![JourneyStep::LabelCreated];
        steps.extend(mid);
        steps.extend(last);
        steps
    })
}

/// Arbitrary realistic parcels for `number`; times move forward in whole seconds.
pub fn arb_parcel(number: String) -> impl Strategy<Value = SimParcel> {
    (
        arb_steps(),
        prop::collection::vec((0usize..PLACES.len(), 60i64..200_000), 16),
        0i64..400_000_000,
        prop::option::of((0i64..10, 0u32..4)),
        prop::option::of("[A-Z]{3,10}"),
    )
        .prop_map(move |(steps, hops, base, eta, signer)| {
            let start = NaiveDate::from_ymd_opt(2020, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .unwrap_or_default()
                + Duration::seconds(base);
            let mut utc = start;
            let mut events = Vec::new();
            for (i, step) in steps.iter().enumerate() {
                let (pi, gap) = hops[i % hops.len()];
                utc += Duration::seconds(gap);
                let (addr, off) = place(pi);
                let at = off.from_utc_datetime(&utc);
                events.push(SimEvent {
                    at,
                    step: *step,
                    place: addr,
                });
            }
            let (dest, dest_off) = place(hops[0].0 + 3);
            let eta = eta.map(|(days, span)| {
                let day = (utc + Duration::days(days)).date();
                let s = dest_off
                    .from_local_datetime(&day.and_hms_opt(9 + span, 0, 0).unwrap_or_default())
                    .single()
                    .unwrap_or_else(|| dest_off.from_utc_datetime(&utc));
                (s, s + Duration::hours(2 + i64::from(span)))
            });
            let delivered = steps.last() == Some(&JourneyStep::Delivered);
            SimParcel {
                tracking_number: number.clone(),
                service: "Standard".into(),
                origin: place(hops[1].0).0,
                destination: dest,
                events,
                eta,
                eta_change_reason: None,
                signed_by: if delivered { signer } else { None },
            }
        })
}

fn local_cmp(dt: &DateTime<FixedOffset>, f: Fidelity) -> chrono::NaiveDateTime {
    let n = dt.naive_local();
    if f.checkpoint_seconds {
        n
    } else {
        n.with_second(0).unwrap_or(n)
    }
}

/// parse(render(parcel)) keeps every fact the wire format can carry.
pub fn assert_round_trip<C: Carrier>(carrier: &C, parcel: &SimParcel, fidelity: Fidelity) {
    round_trip(carrier, parcel, fidelity, true);
}

fn round_trip<C: Carrier>(carrier: &C, parcel: &SimParcel, fidelity: Fidelity, places: bool) {
    let number = parcel.tracking_number.as_str();
    let resp = carrier.sim_render_track(&[SimReply::Known(parcel)]);
    let results = carrier.parse_track(&[number], &resp).unwrap_or_else(|e| {
        panic!(
            "rendered answer did not parse: {e}\n{}",
            resp.body_excerpt()
        )
    });
    assert_eq!(results.len(), 1, "one number asked, one result expected");
    let snap = results[0]
        .outcome
        .as_ref()
        .unwrap_or_else(|e| panic!("rendered parcel parsed as error: {e}"));
    assert_eq!(results[0].tracking_number, number);
    let cur = parcel.current().expect("journeys are never empty");
    assert_eq!(snap.status, cur.step.status(), "status of {:?}", cur.step);
    assert_eq!(
        snap.checkpoints.len(),
        parcel.events.len(),
        "checkpoint count"
    );
    for (cp, ev) in snap.checkpoints.iter().zip(&parcel.events) {
        assert_eq!(
            cp.status,
            ev.step.status(),
            "checkpoint status of {:?}",
            ev.step
        );
        assert_eq!(
            cp.occurred_at.local(),
            local_cmp(&ev.at, fidelity),
            "local time of {:?}",
            ev.step
        );
        if fidelity.checkpoint_offsets {
            assert_eq!(
                cp.occurred_at.instant().map(|i| i.timestamp()),
                Some(ev.at.timestamp())
            );
        } else {
            assert!(
                !cp.occurred_at.offset_known(),
                "naive wire time must stay naive"
            );
        }
        if places {
            let city = cp.location.as_ref().and_then(|l| l.city.clone());
            assert_eq!(
                city.map(|c| c.to_uppercase()),
                ev.place.city.clone(),
                "checkpoint city"
            );
        }
    }
    match (&parcel.eta, &snap.estimated_delivery) {
        (None, None) => {}
        (Some((_, end)), Some(eta)) => {
            if fidelity.eta_window {
                assert!(
                    matches!(eta, Eta::Window { .. }),
                    "expected a timed ETA window"
                );
                assert_eq!(eta.end().local(), end.naive_local(), "ETA end");
            } else {
                assert_eq!(eta.end().local().date(), end.date_naive(), "ETA date");
            }
        }
        (want, got) => {
            // A delivered parcel may legitimately drop its ETA.
            if cur.step != JourneyStep::Delivered {
                panic!("ETA mismatch: simulator {want:?}, parsed {got:?}");
            }
        }
    }
    if cur.step == JourneyStep::Delivered {
        assert!(
            snap.delivered_at.is_some(),
            "delivered parcels carry delivered_at"
        );
    }
}

/// An unknown number is reported as `NotFound` for that number.
pub fn assert_unknown_is_not_found<C: Carrier>(carrier: &C, number: &str) {
    let resp = carrier.sim_render_track(&[SimReply::Unknown(number)]);
    let outcome = carrier.parse_track(&[number], &resp);
    let per_number_not_found = matches!(&outcome, Ok(rs) if rs.len() == 1
        && matches!(rs[0].outcome, Err(CarrierError::NotFound { .. })));
    let whole_not_found = matches!(outcome, Err(CarrierError::NotFound { .. }));
    assert!(
        per_number_not_found || whole_not_found,
        "unknown number must parse as NotFound, got {outcome:?}"
    );
}

/// The simulator understands the plugin's own track request (numbers and credential).
pub fn assert_request_routes<C: Carrier>(carrier: &C, numbers: &[&str], creds: &Credentials) {
    let token = creds.id.as_ref().map(|_| "sim-token");
    let req = carrier
        .track_request(numbers, creds, token)
        .unwrap_or_else(|e| panic!("track_request failed: {e}"));
    match carrier.sim_route(&req) {
        Ok(SimCall::Track { numbers: got, .. }) => {
            let want: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
            assert_eq!(got, want, "simulator read other numbers than were sent");
        }
        other => panic!("track request routed as {other:?}"),
    }
    if let Ok(Some(tok)) = carrier.token_request(creds) {
        assert!(
            matches!(carrier.sim_route(&tok), Ok(SimCall::Token { .. })),
            "token request must route as a token call"
        );
    }
}

/// Truncated or garbled bodies give a typed error, never a panic nor a fake success.
pub fn assert_malformed_is_typed<C: Carrier>(carrier: &C, numbers: &[&str], valid: &HttpResponse) {
    let len = valid.body.len();
    let step = (len / 64).max(1);
    for cut in (0..len).step_by(step) {
        if valid.body[cut..].iter().all(u8::is_ascii_whitespace) {
            continue; // only trailing whitespace removed: still a complete document
        }
        let mut resp = valid.clone();
        resp.body.truncate(cut);
        let outcome = carrier.parse_track(numbers, &resp);
        let ok_with_data =
            matches!(&outcome, Ok(rs) if rs.iter().all(|r| r.outcome.is_ok()) && !rs.is_empty());
        assert!(
            !ok_with_data || cut == len,
            "a body truncated at {cut}/{len} bytes parsed as success"
        );
    }
    for garbage in [
        &b"\xff\xfe\x00garbage"[..],
        b"<html>oops</html>",
        b"{\"a\":",
        b"null",
        b"[]",
    ] {
        let mut resp = valid.clone();
        resp.body = garbage.to_vec();
        let outcome = carrier.parse_track(numbers, &resp);
        assert!(
            !matches!(&outcome, Ok(rs) if !rs.is_empty() && rs.iter().all(|r| r.outcome.is_ok())),
            "garbage body {:?} parsed as success",
            String::from_utf8_lossy(garbage)
        );
    }
}

/// Statuses every step maps to, for carriers to assert complete code tables.
pub fn every_step_status() -> Vec<(JourneyStep, Status)> {
    JourneyStep::ALL.iter().map(|s| (*s, s.status())).collect()
}

/// The whole conformance suite in one call, so every carrier's test file runs it
/// with one line: `testkit::conformance(&MyCarrier::new(), FIDELITY);`.
///
/// It checks, on numbers the plugin mints itself: detection, request routing
/// (single and full batches, token call), unknown numbers as `NotFound`, the
/// render/parse round trip for 256 arbitrary journeys and for a journey ending
/// in every step, truncated and garbage bodies as typed errors, and every
/// simulator fault as its documented error kind.
pub fn conformance<C: Carrier>(carrier: &C, fidelity: Fidelity) {
    conformance_with(carrier, fidelity, Carries::ALL);
}

/// [`conformance`] for a wire format that carries no delivery estimate at all
/// (Australia Post, GLS): journeys are checked without their ETA.
pub fn conformance_without_eta<C: Carrier>(carrier: &C, fidelity: Fidelity) {
    conformance_with(
        carrier,
        fidelity,
        Carries {
            eta: false,
            ..Carries::ALL
        },
    );
}

/// Facts some wire formats do not carry at all, so the suite does not expect them.
#[derive(Debug, Clone, Copy)]
pub struct Carries {
    /// A delivery estimate.
    pub eta: bool,
    /// A place name (city) on each checkpoint (PostNL sends only a location code).
    pub places: bool,
}

impl Carries {
    /// Everything the model holds.
    pub const ALL: Carries = Carries {
        eta: true,
        places: true,
    };
}

/// [`conformance`] for a format that lacks some facts entirely.
pub fn conformance_with<C: Carrier>(carrier: &C, fidelity: Fidelity, carries: Carries) {
    let carries_eta = carries.eta;
    use crate::carrier::Detection;
    use crate::sim::SimFault;
    use proptest::test_runner::{Config, TestRunner};

    let d = carrier.descriptor();
    let minted: Vec<String> = (0..64u64)
        .chain([999_999, 123_456_789, u64::from(u32::MAX)])
        .map(|s| carrier.sim_mint_number(s))
        .collect();
    for n in &minted {
        assert_ne!(
            carrier.detect(n),
            Detection::No,
            "{}: minted number {n} is not detected",
            d.slug
        );
    }
    let distinct: std::collections::BTreeSet<&String> = minted.iter().collect();
    assert_eq!(
        distinct.len(),
        minted.len(),
        "{}: minted numbers repeat",
        d.slug
    );

    let mut creds = Credentials::new("sim-client", "sim-secret");
    creds.extra.insert("account".into(), "1234567890".into());
    let batch: Vec<&str> = minted
        .iter()
        .take(d.batch_size.max(1))
        .map(String::as_str)
        .collect();
    assert_request_routes(carrier, &batch[..1], &creds);
    assert_request_routes(carrier, &batch, &creds);
    assert_unknown_is_not_found(carrier, &minted[0]);

    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let parcels = (0..u64::from(u32::MAX))
        .prop_map(|s| carrier.sim_mint_number(s))
        .prop_flat_map(arb_parcel);
    let outcome = runner.run(&parcels, |mut parcel| {
        if !carries_eta {
            parcel.eta = None;
        }
        round_trip(carrier, &parcel, fidelity, carries.places);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{}: render/parse round trip failed: {e}", d.slug);
    }

    // A journey ending in each step: every step renders a code that maps back.
    let mut runner = TestRunner::deterministic();
    let base = arb_parcel(minted[1].clone())
        .new_tree(&mut runner)
        .map(|t| proptest::strategy::ValueTree::current(&t))
        .map(|mut p| {
            if !carries_eta {
                p.eta = None;
            }
            p
        })
        .unwrap_or_else(|e| panic!("generating a parcel: {e}"));
    for step in JourneyStep::ALL {
        let mut parcel = base.clone();
        if let Some(last) = parcel.events.last_mut() {
            last.step = step;
        }
        if step != JourneyStep::Delivered {
            parcel.signed_by = None;
        }
        round_trip(carrier, &parcel, fidelity, carries.places);
        // The carrier's own words are kept, and the mapping says which rule fired.
        let number = parcel.tracking_number.as_str();
        let resp = carrier.sim_render_track(&[SimReply::Known(&parcel)]);
        let parsed = carrier.parse_track(&[number], &resp);
        let snap = parsed
            .as_ref()
            .ok()
            .and_then(|rs| rs.first())
            .and_then(|r| r.outcome.as_ref().ok())
            .unwrap_or_else(|| panic!("{}: {step:?} did not parse: {parsed:?}", d.slug));
        assert!(
            snap.carrier_status_code.is_some() || snap.carrier_status_text.is_some(),
            "{}: {step:?} keeps the carrier's raw code or text",
            d.slug
        );
        assert!(
            !snap.status_rule.is_empty(),
            "{}: {step:?} names the mapping rule",
            d.slug
        );
    }
    let valid = carrier.sim_render_track(&[SimReply::Known(&base)]);
    assert_malformed_is_typed(carrier, &[minted[1].as_str()], &valid);

    // Faults render in the carrier's documented shapes and parse to their kind.
    let one = [minted[2].as_str()];
    let kind = |f: SimFault| carrier.parse_track(&one, &carrier.sim_render_fault(&f));
    assert!(
        matches!(kind(SimFault::Unauthorized), Err(CarrierError::Auth { .. })),
        "{}: 401 fault must parse as Auth, got {:?}",
        d.slug,
        kind(SimFault::Unauthorized)
    );
    match kind(SimFault::RateLimited {
        retry_after_secs: 7,
    }) {
        Err(CarrierError::RateLimited { .. }) => {}
        other => panic!(
            "{}: 429 fault must parse as RateLimited, got {other:?}",
            d.slug
        ),
    }
    assert!(
        matches!(
            kind(SimFault::ServerError),
            Err(CarrierError::Unavailable { .. })
        ),
        "{}: 5xx fault must parse as Unavailable, got {:?}",
        d.slug,
        kind(SimFault::ServerError)
    );
    let bad = kind(SimFault::BadRequest {
        message: "bad".into(),
    });
    assert!(
        !matches!(&bad, Ok(rs) if !rs.is_empty() && rs.iter().all(|r| r.outcome.is_ok())),
        "{}: a 400 fault parsed as success: {bad:?}",
        d.slug
    );
}

/// A stable JSON view of a carrier error, for fixture snapshots.
pub fn error_json(e: &CarrierError) -> serde_json::Value {
    serde_json::json!({ "kind": e.kind(), "error": format!("{e:?}") })
}

/// A stable JSON view of a whole parse result (per-number snapshots or errors,
/// or the whole-response error), so every carrier's fixture snapshots read alike.
pub fn outcome_json(
    r: &Result<Vec<crate::carrier::NumberResult>, CarrierError>,
) -> serde_json::Value {
    use serde_json::{Value, json};
    match r {
        Ok(rs) => Value::Array(
            rs.iter()
                .map(|n| {
                    let outcome = match &n.outcome {
                        Ok(s) => json!({ "snapshot": s }),
                        Err(e) => json!({ "error": error_json(e) }),
                    };
                    json!({ "tracking_number": n.tracking_number, "outcome": outcome })
                })
                .collect(),
        ),
        Err(e) => json!({ "response_error": error_json(e) }),
    }
}
