//! Journey planning: determinism, realism and the ETA story of every scenario.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Timelike, Utc};
use std::collections::{BTreeMap, HashMap};
use trackd_carrier_sdk::JourneyStep as S;
use trackd_simulator::{Journey, Scenario, reasons};

fn created_times() -> Vec<DateTime<Utc>> {
    // Every weekday and a spread of hours, including late night and early morning.
    (0..7)
        .flat_map(|day| {
            [1u32, 7, 12, 16, 19, 23].into_iter().map(move |h| {
                Utc.with_ymd_and_hms(2025, 3, 3 + day, h, 17, 42)
                    .single()
                    .expect("valid")
            })
        })
        .collect()
}

fn number(i: usize) -> String {
    format!("1ZTEST{i:010}")
}

fn local_minutes(t: &DateTime<FixedOffset>) -> u32 {
    t.hour() * 60 + t.minute()
}

/// Every invariant a planned journey must satisfy, whatever its scenario.
fn check(j: &Journey) {
    let ctx = format!("{} {:?}", j.number, j.scenario);
    let ev = &j.events;
    assert!(ev.len() >= 5, "{ctx}: too short");
    assert_eq!(ev[0].event.step, S::LabelCreated, "{ctx}");
    assert_eq!(
        ev[0].event.at.with_timezone(&Utc),
        j.created_at,
        "{ctx}: label at creation"
    );
    assert_eq!(ev[1].event.step, S::PickedUp, "{ctx}");
    for w in ev.windows(2) {
        assert!(
            w[0].event.at < w[1].event.at,
            "{ctx}: times must strictly increase: {w:?}"
        );
    }
    let mut offsets: HashMap<String, i32> = HashMap::new();
    for e in ev {
        assert_eq!(e.event.at.nanosecond(), 0, "{ctx}: whole seconds");
        let off = e.event.at.offset().local_minus_utc();
        assert!(
            (-8 * 3600..=-3 * 3600).contains(&off),
            "{ctx}: North American offset"
        );
        let city = e.event.place.city.clone().expect("every event has a city");
        assert_eq!(city, city.to_uppercase());
        let prev = offsets.insert(city.clone(), off);
        assert!(
            prev.is_none() || prev == Some(off),
            "{ctx}: {city} keeps one offset"
        );
        if let Some((s, e2)) = e.eta {
            assert!(s < e2, "{ctx}: ETA window ordered");
            assert_eq!(s.offset(), e2.offset());
        }
    }
    // Terminal last, and only last.
    let last = ev.last().expect("non-empty");
    assert!(
        matches!(last.event.step, S::Delivered | S::Returned),
        "{ctx}: ends terminal"
    );
    assert!(
        ev[..ev.len() - 1]
            .iter()
            .all(|e| !e.event.step.status().is_terminal()),
        "{ctx}: terminal only at the end"
    );
    let total = last.event.at.with_timezone(&Utc) - j.created_at;
    assert!(
        total >= Duration::hours(24)
            && total
                <= Duration::days(match j.scenario {
                    // Days of silence come on top of the usual journey.
                    Scenario::StalledInTransit | Scenario::LateDropOff => 11,
                    _ => 7,
                }),
        "{ctx}: total {total}"
    );

    // Business hours for steps that involve people.
    for e in ev {
        let m = local_minutes(&e.event.at);
        let ok = match e.event.step {
            S::PickedUp => (8 * 60..19 * 60).contains(&m),
            S::OutForDelivery => (7 * 60..9 * 60).contains(&m),
            S::Delivered | S::AttemptFailed | S::AvailableForPickup => {
                (9 * 60..20 * 60).contains(&m)
            }
            S::AddressIssue => (7 * 60..9 * 60 + 30).contains(&m),
            S::ReturnToSender => (9 * 60..20 * 60).contains(&m),
            S::Returned => (10 * 60..16 * 60).contains(&m),
            _ => true,
        };
        assert!(
            ok,
            "{ctx}: {:?} at {} is outside business hours",
            e.event.step, e.event.at
        );
    }

    // The first promise: 2–5 (+1 for a Sunday) days out, daytime, destination offset.
    let (s0, e0) = j.initial_eta().expect("an ETA from the label on");
    let days_out =
        (s0.date_naive() - j.created_at.with_timezone(s0.offset()).date_naive()).num_days();
    assert!(
        (2..=7).contains(&days_out),
        "{ctx}: first ETA {days_out} days out"
    );
    assert!(s0.hour() >= 8 && e0.hour() <= 20, "{ctx}: daytime window");

    // ETA moves only where the scenario says.
    let mut moves = Vec::new();
    for i in 1..ev.len() {
        if ev[i].eta != ev[i - 1].eta {
            moves.push((
                ev[i].event.step,
                ev[i - 1].eta,
                ev[i].eta,
                ev[i].eta_change_reason.clone(),
            ));
        }
    }
    for (step, before, after, reason) in &moves {
        match step {
            S::OutForDelivery => {
                let ((bs, be), (as_, ae)) = (before.expect("had ETA"), after.expect("has ETA"));
                assert!(
                    as_ >= bs && ae <= be,
                    "{ctx}: narrowing stays inside the window"
                );
                let len = ae - as_;
                assert!(
                    len >= Duration::hours(2) && len <= Duration::hours(4),
                    "{ctx}: 2–4 h"
                );
            }
            S::WeatherDelay
            | S::OperationalDelay
            | S::CustomsHold
            | S::AddressIssue
            | S::AttemptFailed => {
                let slip = after.expect("has ETA").1 - before.expect("had ETA").1;
                assert!(
                    slip >= Duration::hours(12) && slip <= Duration::days(3),
                    "{ctx}: slip {slip}"
                );
                let want = match step {
                    S::WeatherDelay => reasons::WEATHER,
                    S::OperationalDelay => reasons::OPERATIONAL,
                    S::CustomsHold => reasons::CUSTOMS,
                    S::AddressIssue => reasons::ADDRESS,
                    _ => reasons::ATTEMPT,
                };
                assert_eq!(reason.as_deref(), Some(want), "{ctx}");
            }
            S::ReturnToSender => {
                assert!(after.is_none(), "{ctx}: a return has no delivery ETA");
                assert_eq!(reason.as_deref(), Some(reasons::RETURN));
            }
            other => panic!("{ctx}: ETA moved at {other:?}"),
        }
    }
    let moved_at = |want: S| moves.iter().filter(|m| m.0 == want).count();
    let has = |want: S| ev.iter().filter(|e| e.event.step == want).count();
    let delays = moved_at(S::WeatherDelay) + moved_at(S::OperationalDelay);
    match j.scenario {
        Scenario::OnTime => {
            assert_eq!(moves.len(), moved_at(S::OutForDelivery), "{ctx}");
            let delivered = last.event.at;
            assert!(
                delivered >= s0 && delivered <= e0,
                "{ctx}: delivered in the first window"
            );
        }
        Scenario::DelayedWeather => assert!(delays == 1 && has(S::WeatherDelay) == 1, "{ctx}"),
        Scenario::DelayedOperational => {
            assert!(delays == 1 && has(S::OperationalDelay) == 1, "{ctx}")
        }
        Scenario::FailedAttemptThenDelivered => assert_eq!(moved_at(S::AttemptFailed), 1, "{ctx}"),
        Scenario::CustomsHoldThenDelivered => {
            assert_eq!(moved_at(S::CustomsHold), 1, "{ctx}");
            assert_ne!(
                j.origin.country, j.destination.country,
                "{ctx}: customs means a border"
            );
        }
        Scenario::AddressIssueThenDelivered => assert_eq!(moved_at(S::AddressIssue), 1, "{ctx}"),
        Scenario::PickupPoint => {
            assert!(moves.is_empty(), "{ctx}");
            assert_eq!(has(S::AvailableForPickup), 1, "{ctx}");
            assert!(j.signed_by.is_some(), "{ctx}: collected by someone");
        }
        Scenario::ReturnToSender => {
            assert_eq!(last.event.step, S::Returned, "{ctx}");
            assert_eq!(
                last.event.place.city, j.origin.city,
                "{ctx}: returned at the origin"
            );
            assert_eq!(has(S::ReturnToSender), 1);
            assert!(j.signed_by.is_none());
        }
        Scenario::LateWithoutUpdate => {
            assert!(moves.is_empty(), "{ctx}: no ETA update ever");
            let end = e0.with_timezone(&Utc);
            let delivered = last.event.at.with_timezone(&Utc);
            let late = delivered - end;
            assert!(
                late >= Duration::hours(12) && late <= Duration::hours(30),
                "{ctx}: late by {late}"
            );
            // Nothing happens around the end of the window.
            assert!(
                ev.iter().all(|e| {
                    let t = e.event.at.with_timezone(&Utc);
                    t < s0.with_timezone(&Utc) || t > end
                }),
                "{ctx}: no event inside the missed window"
            );
        }
        Scenario::StalledInTransit | Scenario::LateDropOff => {
            assert!(moves.is_empty(), "{ctx}: the ETA never moves");
            let end = e0.with_timezone(&Utc);
            let late = last.event.at.with_timezone(&Utc) - end;
            assert!(
                late > Duration::zero(),
                "{ctx}: delivered after the window, by {late}"
            );
            // The longest silence: days (in transit, or between label and pickup).
            let gap = ev
                .windows(2)
                .map(|w| w[1].event.at.with_timezone(&Utc) - w[0].event.at.with_timezone(&Utc))
                .max()
                .unwrap_or_else(Duration::zero);
            assert!(gap >= Duration::hours(72), "{ctx}: longest silence {gap}");
            if j.scenario == Scenario::LateDropOff {
                assert_eq!(ev[1].event.step, S::PickedUp, "{ctx}");
                assert!(
                    ev[1].event.at.with_timezone(&Utc) - ev[0].event.at.with_timezone(&Utc)
                        >= Duration::days(3),
                    "{ctx}: picked up days after the label"
                );
            }
        }
    }
    if j.scenario != Scenario::ReturnToSender {
        assert_eq!(last.event.step, S::Delivered, "{ctx}");
        assert_eq!(
            last.event.place.city, j.destination.city,
            "{ctx}: delivered at the destination"
        );
    }
    // Scenario-specific steps never leak into other scenarios.
    let only = [
        (S::WeatherDelay, Scenario::DelayedWeather),
        (S::OperationalDelay, Scenario::DelayedOperational),
        (S::CustomsHold, Scenario::CustomsHoldThenDelivered),
        (S::AttemptFailed, Scenario::FailedAttemptThenDelivered),
        (S::AvailableForPickup, Scenario::PickupPoint),
        (S::ReturnToSender, Scenario::ReturnToSender),
    ];
    for (step, scenario) in only {
        if has(step) > 0 {
            assert_eq!(j.scenario, scenario, "{ctx}: {step:?}");
        }
    }
    // 2–5 facilities on the way there.
    let facilities = ev
        .iter()
        .take_while(|e| {
            !matches!(
                e.event.step,
                S::ReturnToSender | S::OutForDelivery | S::AddressIssue | S::AvailableForPickup
            )
        })
        .filter(|e| e.event.step == S::ArrivedAtFacility)
        .count();
    assert!(
        (2..=5).contains(&facilities),
        "{ctx}: {facilities} facilities"
    );
}

#[test]
fn same_seed_same_journey_other_seed_other_journey() {
    let t = created_times()[3];
    for i in 0..200 {
        let n = number(i);
        let a = Journey::plan(42, "ups", &n, t);
        let b = Journey::plan(42, "ups", &n, t);
        assert_eq!(a, b);
    }
    let differing = (0..200)
        .filter(|i| {
            let n = number(*i);
            Journey::plan(1, "ups", &n, t) != Journey::plan(2, "ups", &n, t)
        })
        .count();
    assert_eq!(differing, 200, "another seed gives other journeys");
}

#[test]
fn every_scenario_is_reachable_in_roughly_the_documented_mix() {
    let t = created_times()[0];
    let mut counts: BTreeMap<Scenario, usize> = BTreeMap::new();
    let n = 4000;
    for i in 0..n {
        *counts
            .entry(Journey::plan(7, "ups", &number(i), t).scenario)
            .or_default() += 1;
    }
    for s in Scenario::ALL {
        let got = counts.get(&s).copied().unwrap_or(0) as f64 / n as f64 * 100.0;
        let want = f64::from(s.weight_percent());
        assert!(
            (got - want).abs() < want * 0.3 + 1.0,
            "{s:?}: {got:.1}% vs {want}%"
        );
    }
}

#[test]
fn mixed_journeys_satisfy_every_invariant() {
    for (k, t) in created_times().into_iter().enumerate() {
        for carrier in ["ups", "canadapost"] {
            for i in 0..60 {
                check(&Journey::plan(k as u64, carrier, &number(i), t));
            }
        }
    }
}

#[test]
fn every_forced_scenario_satisfies_every_invariant() {
    for (k, t) in created_times().into_iter().enumerate() {
        for carrier in ["ups", "canadapost", "other"] {
            for s in Scenario::ALL {
                for i in 0..4 {
                    let j =
                        Journey::plan_scenario(k as u64 * 31 + i as u64, carrier, &number(i), t, s);
                    assert_eq!(j.scenario, s);
                    check(&j);
                }
            }
        }
    }
}

#[test]
fn carriers_use_their_home_network() {
    let t = created_times()[10];
    for i in 0..300 {
        let cp = Journey::plan(3, "canadapost", &number(i), t);
        assert_eq!(cp.destination.country.as_deref(), Some("CA"));
        let ups = Journey::plan(3, "ups", &number(i), t);
        assert_eq!(ups.destination.country.as_deref(), Some("US"));
        if cp.scenario != Scenario::CustomsHoldThenDelivered {
            assert!(
                cp.events
                    .iter()
                    .all(|e| e.event.place.country.as_deref() == Some("CA"))
            );
        }
    }
    let nst = (0..2000)
        .map(|i| Journey::plan(5, "canadapost", &number(i), t))
        .any(|j| {
            j.events
                .iter()
                .any(|e| e.event.at.offset().local_minus_utc() == -12_600)
        });
    assert!(nst, "St. John's (-03:30) shows up");
}

#[test]
fn most_deliveries_are_signed() {
    let t = created_times()[5];
    let (mut delivered, mut signed) = (0, 0);
    for i in 0..1000 {
        let j = Journey::plan(9, "ups", &number(i), t);
        if j.terminal().map(|e| e.event.step) == Some(S::Delivered) {
            delivered += 1;
            signed += usize::from(j.signed_by.is_some());
        }
    }
    assert!(
        signed * 100 >= delivered * 75,
        "{signed}/{delivered} signed"
    );
    assert!(
        signed < delivered,
        "some parcels are left without a signature"
    );
}

#[test]
fn parcel_at_is_a_monotone_prefix_of_the_journey() {
    let t = created_times()[8];
    for s in Scenario::ALL {
        let j = Journey::plan_scenario(11, "ups", &number(1), t, s);
        assert!(
            j.parcel_at(t - Duration::seconds(1)).is_none(),
            "nothing before creation"
        );
        let end = j
            .terminal()
            .expect("non-empty")
            .event
            .at
            .with_timezone(&Utc)
            + Duration::days(2);
        let mut at = t;
        let mut seen = 0;
        while at <= end {
            let p = j.parcel_at(at).expect("exists after creation");
            assert!(p.events.len() >= seen, "{s:?}: events never disappear");
            seen = p.events.len();
            let expected: Vec<_> = j.events[..seen].iter().map(|e| e.event.clone()).collect();
            assert_eq!(p.events, expected);
            let last = &j.events[seen - 1];
            assert_eq!(p.eta, last.eta);
            assert_eq!(p.eta_change_reason, last.eta_change_reason);
            assert!(p.events.iter().all(|e| e.at.with_timezone(&Utc) <= at));
            if last.event.step == S::Delivered {
                assert_eq!(p.signed_by, j.signed_by);
            } else {
                assert_eq!(p.signed_by, None);
            }
            at += Duration::minutes(37);
        }
        assert_eq!(
            seen,
            j.events.len(),
            "{s:?}: the whole journey is eventually visible"
        );
        // Exactly at an event's time, that event is visible.
        for (i, e) in j.events.iter().enumerate() {
            let p = j.parcel_at(e.event.at.with_timezone(&Utc)).expect("exists");
            assert_eq!(p.events.len(), i + 1);
        }
    }
}
