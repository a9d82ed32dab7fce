//! DHL's wire format for trackd's simulator: the Unified API answer for known
//! parcels, the documented `404` problem for unknown numbers, problem+json faults.

use crate::mapping::step_wire;
use crate::wire::{
    Details, Event, Person, Place, Problem, Product, ProofOfDelivery, Shipment, Shipments,
    TimeFrame, WireAddress, WireId,
};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::Serialize;
use std::borrow::Cow;
use trackd_carrier_sdk::sim::SimFault;
use trackd_carrier_sdk::{Address, HttpResponse, JourneyStep, SimEvent, SimParcel, SimReply};

/// Content type of DHL's error bodies (RFC 7807).
pub const PROBLEM_JSON: &str = "application/problem+json";

fn iso(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A text of the parcel, borrowed for the time of rendering.
fn text(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(Cow::Borrowed)
}

fn place(a: &Address) -> Place<'_> {
    Place {
        address: Some(WireAddress {
            address_locality: text(&a.city),
            address_region: text(&a.region),
            postal_code: text(&a.postal_code),
            country_code: text(&a.country),
        }),
    }
}

fn event(e: &SimEvent) -> Event<'_> {
    let w = step_wire(e.step);
    Event {
        timestamp: Some(iso(&e.at).into()),
        location: Some(place(&e.place)),
        status_code: Some(w.code.into()),
        status: Some(w.title.into()),
        status_detailed: None,
        description: Some(w.description.into()),
        remark: None,
        next_steps: None,
    }
}

fn shipment(p: &SimParcel) -> Shipment<'_> {
    let current = p.current();
    let delivered_event = current.filter(|e| e.step == JourneyStep::Delivered);
    let return_flag = current.is_some_and(|e| step_wire(e.step).return_flag);
    let proof_of_delivery = delivered_event.map(|e| ProofOfDelivery {
        timestamp: Some(iso(&e.at).into()),
        signed: p.signed_by.as_ref().map(|name| Person {
            kind: Some("Person".into()),
            name: Some(name.as_str().into()),
            ..Person::default()
        }),
    });
    Shipment {
        id: Some(WireId::Text(p.tracking_number.clone())),
        service: Some("express".into()),
        origin: Some(place(&p.origin)),
        destination: Some(place(&p.destination)),
        status: current.map(event),
        estimated_time_of_delivery: p.eta.map(|(from, _)| iso(&from).into()),
        estimated_delivery_time_frame: p.eta.map(|(from, through)| TimeFrame {
            estimated_from: Some(iso(&from).into()),
            estimated_through: Some(iso(&through).into()),
        }),
        estimated_time_of_delivery_remark: p.eta.and(text(&p.eta_change_reason)),
        return_flag: return_flag.then_some(true),
        details: Some(Details {
            product: Some(Product {
                product_name: Some(p.service.as_str().into()),
            }),
            proof_of_delivery,
        }),
        // DHL lists the history newest first.
        events: Some(p.events.iter().rev().map(event).collect()),
    }
}

fn json(status: u16, content_type: &str, body: &impl Serialize) -> HttpResponse {
    let body = serde_json::to_vec(body).unwrap_or_default();
    HttpResponse::new(status, content_type, body)
}

/// A problem+json error the way DHL sends them.
pub fn problem(status: u16, title: &str, detail: &str) -> HttpResponse {
    json(
        status,
        PROBLEM_JSON,
        &Problem {
            status: Some(status.into()),
            title: Some(title.into()),
            detail: Some(detail.into()),
            kind: None,
            instance: None,
        },
    )
}

/// The track answer: known parcels as shipments; when nothing is known, DHL's
/// `404` "No result found" problem.
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    let shipments: Vec<Shipment> = replies
        .iter()
        .filter_map(|r| match r {
            SimReply::Known(p) => Some(shipment(p)),
            SimReply::Unknown(_) => None,
        })
        .collect();
    if shipments.is_empty() {
        let number = replies
            .iter()
            .find_map(|r| match r {
                SimReply::Unknown(n) => Some(*n),
                SimReply::Known(_) => None,
            })
            .unwrap_or("");
        return problem(
            404,
            "No result found",
            &format!("No shipment with given tracking number {number} found."),
        );
    }
    json(
        200,
        "application/json",
        &Shipments {
            shipments,
            possible_additional_shipments_url: None,
        },
    )
}

/// A fault in DHL's documented problem+json shape.
pub fn render_fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => problem(401, "Unauthorized", "Invalid API key."),
        SimFault::RateLimited { retry_after_secs } => {
            problem(429, "Too Many Requests", "Rate limit exceeded.")
                .header("Retry-After", retry_after_secs.to_string())
        }
        SimFault::ServerError => problem(500, "Internal Server Error", "Please try again later."),
        SimFault::BadRequest { message } => problem(400, "Invalid input", message),
    }
}
