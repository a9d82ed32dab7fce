//! Serde types for the Shipment Tracking – Unified API JSON, shared by the
//! parser and the simulator renderer. Every field is optional: DHL's business
//! units fill different subsets, and unknown fields are skipped.

use serde::{Deserialize, Serialize};

/// `GET /track/shipments` answer.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipments {
    /// Required: a 200 without it is not the documented answer.
    pub shipments: Vec<Shipment>,
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
pub struct Shipment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<WireId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Place>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Place>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_time_of_delivery: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery_time_frame: Option<TimeFrame>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_time_of_delivery_remark: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_flag: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
}

/// `estimatedDeliveryTimeFrame`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_through: Option<String>,
}

/// A place (`SecuredPlace`): only its address matters to trackd.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Place {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<WireAddress>,
}

/// `address` of a place.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
}

/// A status object or history event (`TrackingShipmentStatus` / `Event`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Place>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detailed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_steps: Option<String>,
}

/// `details`: product, proof of delivery.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_of_delivery: Option<ProofOfDelivery>,
}

/// `details.product`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
}

/// `details.proofOfDelivery`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofOfDelivery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<Person>,
}

/// A `PersonEntity` (person, organization or company).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(rename = "@type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
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
