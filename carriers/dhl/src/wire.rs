//! Serde types for the Shipment Tracking – Unified API JSON, shared by the
//! parser and the simulator renderer. Every field is optional: DHL's business
//! units fill different subsets, and unknown fields are skipped. Texts borrow
//! from the answer (unless escaped): an owned `String` per field was most of
//! the parse time.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use trackd_carrier_sdk::json::opt_text;

/// `GET /track/shipments` answer.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipments<'a> {
    /// Required: a 200 without it is not the documented answer.
    #[serde(borrow)]
    pub shipments: Vec<Shipment<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possible_additional_shipments_url: Option<Vec<String>>,
}

/// The shipment id: a string in the spec, a bare number in DHL's own example.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireId {
    Text(String),
    Number(serde_json::Number),
}

impl WireId {
    /// The id as text, whichever JSON type carried it.
    pub fn text(&self) -> String {
        match self {
            WireId::Text(s) => s.trim().to_string(),
            WireId::Number(n) => n.to_string(),
        }
    }
}

/// One shipment (`TrackingShipment`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipment<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<WireId>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub service: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Place<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Place<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub status: Option<Event<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_time_of_delivery: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery_time_frame: Option<TimeFrame<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_time_of_delivery_remark: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_flag: Option<bool>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub details: Option<Details<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event<'a>>>,
}

/// `estimatedDeliveryTimeFrame`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeFrame<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_from: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_through: Option<Cow<'a, str>>,
}

/// A place (`SecuredPlace`): only its address matters to trackd.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Place<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub address: Option<WireAddress<'a>>,
}

/// `address` of a place.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAddress<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub address_locality: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub address_region: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub country_code: Option<Cow<'a, str>>,
}

/// A status object or history event (`TrackingShipmentStatus` / `Event`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub location: Option<Place<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_detailed: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub remark: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_steps: Option<Cow<'a, str>>,
}

/// `details`: product, proof of delivery.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Details<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub product: Option<Product<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub proof_of_delivery: Option<ProofOfDelivery<'a>>,
}

/// `details.product`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_name: Option<Cow<'a, str>>,
}

/// `details.proofOfDelivery`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofOfDelivery<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub signed: Option<Person<'a>>,
}

/// A `PersonEntity` (person, organization or company).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person<'a> {
    #[serde(
        rename = "@type",
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub given_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub family_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub organization_name: Option<Cow<'a, str>>,
}

/// RFC 7807 `application/problem+json` error body.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Problem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}
