//! Every prefix of simulated journeys survives each real plugin's render + parse
//! (the SDK conformance kit), so what the simulator plans is what the daemon reads.

use chrono::{Duration, TimeZone, Utc};
use trackd_carrier_canadapost::CanadaPost;
use trackd_carrier_sdk::Carrier;
use trackd_carrier_sdk::testkit::{Fidelity, assert_round_trip};
use trackd_carrier_ups::Ups;
use trackd_simulator::{Journey, Scenario};

fn round_trip_all<C: Carrier>(carrier: &C, fidelity: Fidelity) {
    let slug = carrier.descriptor().slug;
    for day in 0..7 {
        let created = Utc
            .with_ymd_and_hms(2025, 3, 3 + day, 3 + 3 * day, 11, 7)
            .single()
            .expect("valid")
            + Duration::seconds(i64::from(day) * 977);
        for (k, s) in Scenario::ALL.into_iter().enumerate() {
            let number = carrier.sim_mint_number(u64::from(day) * 100 + k as u64);
            let j = Journey::plan_scenario(u64::from(day), slug, &number, created, s);
            for e in &j.events {
                let parcel = j
                    .parcel_at(e.event.at.with_timezone(&Utc))
                    .expect("visible at its own time");
                assert_round_trip(carrier, &parcel, fidelity);
            }
        }
    }
}

#[test]
fn ups_reads_back_every_simulated_journey() {
    round_trip_all(
        &Ups,
        Fidelity {
            checkpoint_offsets: false,
            checkpoint_seconds: true,
            eta_window: true,
        },
    );
}

#[test]
fn canadapost_reads_back_every_simulated_journey() {
    round_trip_all(
        &CanadaPost,
        Fidelity {
            checkpoint_offsets: true,
            checkpoint_seconds: true,
            eta_window: false,
        },
    );
}
