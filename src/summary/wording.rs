//! Localized words: day and month tables, headlines and sentence templates.
//!
//! Templates are fixed strings per (shape, language) with `{exp}`, `{prom}`,
//! `{at}`, `{name}` and `{place}` slots filled only with renderings of input
//! values; a template whose slot has no value is skipped, so nothing is ever
//! made up. Several templates per case, richest first, keep every sentence
//! within [`MAX_SENTENCE_CHARS`].

use super::verdict::{Assessment, ReturnStage, Shape, Stage};
use super::{DateFact, DateValue, Lang, PromiseSource, Verdict};
use crate::returns::MilestoneKind;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use trackd_carrier_sdk::{Address, Eta, Timestamp};

/// Chat channels (SMS segments, push previews) cut longer text.
pub(crate) const MAX_SENTENCE_CHARS: usize = 160;

/// Free text from the carrier (a name, a city) is clipped so the date slots fit.
const MAX_FREE_TEXT_CHARS: usize = 40;

/// How dates are rendered for one answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DateStyle {
    pub lang: Lang,
    pub tz: Tz,
    /// The current year in `tz`: other years are written out.
    pub year: i32,
}

impl DateStyle {
    pub(crate) fn new(lang: Lang, tz: Tz, now: DateTime<Utc>) -> DateStyle {
        DateStyle {
            lang,
            tz,
            year: in_zone(&now.naive_utc(), tz).year(),
        }
    }
}

const EN_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FR_DAYS: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
const DE_DAYS: [&str; 7] = ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."];
const NL_DAYS: [&str; 7] = ["ma", "di", "wo", "do", "vr", "za", "zo"];

const EN_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const FR_MONTHS: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];
const DE_MONTHS: [&str; 12] = [
    "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez.",
];
const NL_MONTHS: [&str; 12] = [
    "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
];

fn day_names(lang: Lang) -> &'static [&'static str; 7] {
    match lang {
        Lang::En => &EN_DAYS,
        Lang::Fr => &FR_DAYS,
        Lang::De => &DE_DAYS,
        Lang::Nl => &NL_DAYS,
    }
}

fn month_names(lang: Lang) -> &'static [&'static str; 12] {
    match lang {
        Lang::En => &EN_MONTHS,
        Lang::Fr => &FR_MONTHS,
        Lang::De => &DE_MONTHS,
        Lang::Nl => &NL_MONTHS,
    }
}

/// Every day and month word of every language, for tests that look for dates.
#[cfg(test)]
pub(crate) fn date_words() -> impl Iterator<Item = &'static str> {
    Lang::ALL.into_iter().flat_map(|l| {
        day_names(l)
            .iter()
            .chain(month_names(l).iter())
            .map(|w| w.trim_end_matches('.'))
    })
}

/// A UTC reading shown in `tz`; saturates to UTC at the edges of chrono's range
/// rather than panicking on a garbled carrier year.
fn in_zone(utc: &NaiveDateTime, tz: Tz) -> NaiveDateTime {
    let offset = tz.offset_from_utc_datetime(utc).fix();
    utc.checked_add_offset(offset).unwrap_or(*utc)
}

/// The wall clock a timestamp is shown at: zoned times in the requested zone,
/// naive times exactly as the carrier wrote them.
pub(crate) fn wall_clock(ts: &Timestamp, tz: Tz) -> NaiveDateTime {
    match ts {
        Timestamp::Zoned(dt) => in_zone(&dt.naive_utc(), tz),
        Timestamp::Naive(n) => *n,
    }
}

/// "Tue 8 Dec", "mar. 8 déc.", "Di., 8. Dez.", "di 8 dec" (plus the year when
/// it is not the current one).
pub(crate) fn format_date(style: DateStyle, d: NaiveDate) -> String {
    let wd = day_names(style.lang)[d.weekday().num_days_from_monday() as usize];
    let mon = month_names(style.lang)[d.month0() as usize];
    let mut s = match style.lang {
        Lang::De => format!("{wd}, {}. {mon}", d.day()),
        Lang::En | Lang::Fr | Lang::Nl => format!("{wd} {} {mon}", d.day()),
    };
    if d.year() != style.year {
        s.push(' ');
        s.push_str(&d.year().to_string());
    }
    s
}

fn format_clock(t: &NaiveDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// One time: "Tue 8 Dec, 14:00".
pub(crate) fn render_time(style: DateStyle, ts: &Timestamp) -> String {
    let t = wall_clock(ts, style.tz);
    format!("{}, {}", format_date(style, t.date()), format_clock(&t))
}

/// An ETA: a date, one time, a same-day window "Tue 8 Dec, 14:00–18:00" or a
/// window across days "Tue 8 Dec, 20:00 – Wed 9 Dec, 10:00".
pub(crate) fn render_eta(style: DateStyle, eta: &Eta) -> String {
    match eta {
        Eta::Date { date } => format_date(style, *date),
        Eta::Window { start, end } => {
            let (a, b) = (wall_clock(start, style.tz), wall_clock(end, style.tz));
            let (ca, cb) = (format_clock(&a), format_clock(&b));
            if a.date() != b.date() {
                format!(
                    "{}, {ca} – {}, {cb}",
                    format_date(style, a.date()),
                    format_date(style, b.date())
                )
            } else if ca == cb {
                format!("{}, {ca}", format_date(style, a.date()))
            } else {
                format!("{}, {ca}–{cb}", format_date(style, a.date()))
            }
        }
    }
}

/// Renders a date fact; the only way a date reaches a summary's text.
pub(crate) fn render(style: DateStyle, value: &DateFact) -> DateValue {
    let (text, zoned) = match value {
        DateFact::Eta(eta @ Eta::Window { start, end }) => (
            render_eta(style, eta),
            start.offset_known() && end.offset_known(),
        ),
        DateFact::Eta(eta @ Eta::Date { .. }) => (render_eta(style, eta), false),
        DateFact::Time(ts) => (render_time(style, ts), ts.offset_known()),
    };
    DateValue {
        text,
        value: *value,
        zoned,
        source: None,
    }
}

/// Carrier free text made safe for one line: whitespace collapsed, clipped.
pub(crate) fn clip(s: &str) -> Option<String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let joined = words.join(" ");
    if joined.chars().count() <= MAX_FREE_TEXT_CHARS {
        return Some(joined);
    }
    let mut cut: String = joined.chars().take(MAX_FREE_TEXT_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    Some(cut)
}

/// A pickup place from an address: "Paris (75011)", or whichever of the two the
/// carrier gave; a region or country alone is no place to go to.
pub(crate) fn place(addr: &Address) -> Option<String> {
    let city = addr.city.as_deref().and_then(clip);
    let postal = addr.postal_code.as_deref().and_then(clip);
    match (city, postal) {
        (Some(c), Some(p)) => Some(format!("{c} ({p})")),
        (Some(c), None) => Some(c),
        (None, Some(p)) => Some(p),
        (None, None) => None,
    }
}

/// One value a sentence can state, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    /// Path into the input, as in `Fact::field`.
    pub field: String,
    /// The value at that path, as the input serializes it.
    pub value: Value,
    /// What the sentence shows for it.
    pub text: String,
    /// For dates: the rendering `text` is.
    pub date: Option<DateValue>,
}

/// The values available to the templates of one summary.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots {
    pub exp: Option<Slot>,
    pub prom: Option<Slot>,
    pub at: Option<Slot>,
    pub name: Option<Slot>,
    pub place: Option<Slot>,
}

/// Fills `{key}` slots; `None` when a slot the template needs has no value.
fn fill(template: &str, slots: &Slots, label: &str) -> Option<(String, Vec<Slot>)> {
    let mut out = String::with_capacity(template.len() + 48);
    let mut used = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let slot = match &after[..close] {
            "label" => {
                out.push_str(label);
                None
            }
            "exp" => Some(slots.exp.as_ref()?),
            "prom" => Some(slots.prom.as_ref()?),
            "at" => Some(slots.at.as_ref()?),
            "name" => Some(slots.name.as_ref()?),
            "place" => Some(slots.place.as_ref()?),
            _ => return None,
        };
        if let Some(s) = slot {
            out.push_str(&s.text);
            used.push(s.clone());
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    // An abbreviation ending the sentence ("8 déc.", "M. DUPONT JR.") takes the full stop.
    if out.ends_with("..") {
        out.pop();
    }
    Some((out, used))
}

/// The sentence for an assessment and the values it states, in order.
pub(crate) fn sentence(lang: Lang, a: &Assessment<'_>, slots: &Slots) -> (String, Vec<Slot>) {
    let label = promise_label(lang, a.promise.map(|p| p.source));
    let mut last = None;
    for template in candidates(lang, a) {
        if let Some((text, used)) = fill(&template, slots, label) {
            if text.chars().count() <= MAX_SENTENCE_CHARS {
                return (text, used);
            }
            last = Some((text, used));
        }
    }
    // Unreachable with the tables below (every case ends with a short template
    // without slots, checked by the tests), but an answer beats a panic.
    last.unwrap_or_default()
}

/// Templates for one case, richest first.
fn candidates(lang: Lang, a: &Assessment<'_>) -> Vec<String> {
    let own = |ts: &[&str]| ts.iter().map(|t| (*t).to_string()).collect();
    match a.shape {
        Shape::Progress(stage) => {
            let clause = stage_clause(lang, stage);
            tails(a.verdict)
                .iter()
                .map(|t| format!("{clause}{}", tail(lang, *t)))
                .collect()
        }
        Shape::Pickup => own(&pickup(lang)),
        Shape::Attempt { pickup } => {
            let [with_at, without_at] = attempt(lang);
            let [resched, pick_place, pick] = attempt_next(lang);
            let pairs: Vec<(&str, &str)> = if pickup {
                vec![
                    (with_at, pick_place),
                    (without_at, pick_place),
                    (with_at, pick),
                    (without_at, pick),
                ]
            } else {
                vec![(with_at, resched), (without_at, resched)]
            };
            pairs.into_iter().map(|(x, y)| format!("{x}{y}")).collect()
        }
        Shape::Delivered => own(&delivered(lang)),
        Shape::Exception
        | Shape::Returning
        | Shape::Returned
        | Shape::Cancelled
        | Shape::Invalid => own(&[fixed(lang, a.shape)]),
    }
}

/// The endings a progress sentence can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    Plain,
    Expected,
    Promise,
    OnTimeBoth,
    Early,
    EarlyExpected,
    EarlyBoth,
    Late,
    LateExpected,
    LatePromise,
    LateBoth,
    Risk,
    RiskExpected,
}

/// Endings richest first; the last needs no slot, so some ending always fits.
fn tails(verdict: Verdict) -> &'static [Tail] {
    match verdict {
        Verdict::OnTime => &[Tail::OnTimeBoth, Tail::Expected, Tail::Promise, Tail::Plain],
        Verdict::Early => &[Tail::EarlyBoth, Tail::EarlyExpected, Tail::Early],
        Verdict::Late => &[
            Tail::LateBoth,
            Tail::LateExpected,
            Tail::LatePromise,
            Tail::Late,
        ],
        Verdict::AtRisk => &[Tail::RiskExpected, Tail::Risk],
        Verdict::Delivered | Verdict::Returned | Verdict::Exception => &[Tail::Plain],
    }
}

fn promise_label(lang: Lang, source: Option<PromiseSource>) -> &'static str {
    match (lang, source.unwrap_or(PromiseSource::Carrier)) {
        (Lang::En, PromiseSource::Client) => "promised for",
        (Lang::En, PromiseSource::Carrier) => "first estimated for",
        (Lang::Fr, PromiseSource::Client) => "promise pour le",
        (Lang::Fr, PromiseSource::Carrier) => "annoncée d'abord pour le",
        (Lang::De, PromiseSource::Client) => "zugesagt für",
        (Lang::De, PromiseSource::Carrier) => "zuerst angekündigt für",
        (Lang::Nl, PromiseSource::Client) => "beloofd voor",
        (Lang::Nl, PromiseSource::Carrier) => "eerst verwacht op",
    }
}

fn stage_clause(lang: Lang, stage: Stage) -> &'static str {
    match (lang, stage) {
        (Lang::En, Stage::Pending) => "The carrier has not reported on your parcel yet",
        (Lang::En, Stage::InfoReceived) => {
            "The carrier has your parcel's details but not the parcel yet"
        }
        (Lang::En, Stage::InTransit) => "Your parcel is on its way",
        (Lang::En, Stage::OutForDelivery) => "Your parcel is out for delivery",
        (Lang::En, Stage::Expired) => "Tracking of your parcel has ended",
        (Lang::En, Stage::Unknown) => "Your parcel is with the carrier",
        (Lang::Fr, Stage::Pending) => "Le transporteur n'a encore rien signalé pour votre colis",
        (Lang::Fr, Stage::InfoReceived) => {
            "Le transporteur a les informations de votre colis, mais pas encore le colis"
        }
        (Lang::Fr, Stage::InTransit) => "Votre colis est en route",
        (Lang::Fr, Stage::OutForDelivery) => "Votre colis est en cours de livraison",
        (Lang::Fr, Stage::Expired) => "Le suivi de votre colis est terminé",
        (Lang::Fr, Stage::Unknown) => "Votre colis est pris en charge par le transporteur",
        (Lang::De, Stage::Pending) => {
            "Der Versanddienstleister hat zu Ihrem Paket noch nichts gemeldet"
        }
        (Lang::De, Stage::InfoReceived) => {
            "Der Versanddienstleister hat die Sendungsdaten, aber noch nicht das Paket"
        }
        (Lang::De, Stage::InTransit) => "Ihr Paket ist unterwegs",
        (Lang::De, Stage::OutForDelivery) => "Ihr Paket ist in Zustellung",
        (Lang::De, Stage::Expired) => "Die Verfolgung Ihres Pakets ist beendet",
        (Lang::De, Stage::Unknown) => "Ihr Paket ist beim Versanddienstleister",
        (Lang::Nl, Stage::Pending) => "De vervoerder heeft nog niets over je pakket gemeld",
        (Lang::Nl, Stage::InfoReceived) => {
            "De vervoerder heeft de gegevens van je pakket, maar nog niet het pakket zelf"
        }
        (Lang::Nl, Stage::InTransit) => "Je pakket is onderweg",
        (Lang::Nl, Stage::OutForDelivery) => "Je pakket is bij de bezorger",
        (Lang::Nl, Stage::Expired) => "Het volgen van je pakket is beëindigd",
        (Lang::Nl, Stage::Unknown) => "Je pakket is bij de vervoerder",
    }
}

fn tail(lang: Lang, t: Tail) -> &'static str {
    match lang {
        Lang::En => match t {
            Tail::Plain => ".",
            Tail::Expected => ", expected {exp}.",
            Tail::Promise => ", {label} {prom}.",
            Tail::OnTimeBoth => ", on time: expected {exp}, {label} {prom}.",
            Tail::Early => ", ahead of schedule.",
            Tail::EarlyExpected => ", ahead of schedule: expected {exp}.",
            Tail::EarlyBoth => ", ahead of schedule: expected {exp}, {label} {prom}.",
            Tail::Late => ", but running late.",
            Tail::LateExpected => ", but running late: expected {exp}.",
            Tail::LatePromise => ", but running late: {label} {prom}.",
            Tail::LateBoth => ", but running late: expected {exp}, {label} {prom}.",
            Tail::Risk => ", but it may be delayed.",
            Tail::RiskExpected => ", but it may be delayed: expected {exp}.",
        },
        Lang::Fr => match t {
            Tail::Plain => ".",
            Tail::Expected => ", livraison prévue le {exp}.",
            Tail::Promise => ", livraison {label} {prom}.",
            Tail::OnTimeBoth => ", dans les temps : livraison prévue le {exp}, {label} {prom}.",
            Tail::Early => ", en avance.",
            Tail::EarlyExpected => ", en avance : livraison prévue le {exp}.",
            Tail::EarlyBoth => ", en avance : livraison prévue le {exp}, {label} {prom}.",
            Tail::Late => ", mais en retard.",
            Tail::LateExpected => ", mais en retard : livraison prévue le {exp}.",
            Tail::LatePromise => ", mais en retard : livraison {label} {prom}.",
            Tail::LateBoth => ", mais en retard : livraison prévue le {exp}, {label} {prom}.",
            Tail::Risk => ", mais un retard est possible.",
            Tail::RiskExpected => ", mais un retard est possible : livraison prévue le {exp}.",
        },
        Lang::De => match t {
            Tail::Plain => ".",
            Tail::Expected => ", voraussichtlich {exp}.",
            Tail::Promise => ", {label} {prom}.",
            Tail::OnTimeBoth => ", pünktlich: voraussichtlich {exp}, {label} {prom}.",
            Tail::Early => ", früher als geplant.",
            Tail::EarlyExpected => ", früher als geplant: voraussichtlich {exp}.",
            Tail::EarlyBoth => ", früher als geplant: voraussichtlich {exp}, {label} {prom}.",
            Tail::Late => ", aber verspätet.",
            Tail::LateExpected => ", aber verspätet: voraussichtlich {exp}.",
            Tail::LatePromise => ", aber verspätet: {label} {prom}.",
            Tail::LateBoth => ", aber verspätet: voraussichtlich {exp}, {label} {prom}.",
            Tail::Risk => ", möglicherweise mit Verspätung.",
            Tail::RiskExpected => ", möglicherweise mit Verspätung: voraussichtlich {exp}.",
        },
        Lang::Nl => match t {
            Tail::Plain => ".",
            Tail::Expected => ", verwacht {exp}.",
            Tail::Promise => ", {label} {prom}.",
            Tail::OnTimeBoth => ", op tijd: verwacht {exp}, {label} {prom}.",
            Tail::Early => ", eerder dan gepland.",
            Tail::EarlyExpected => ", eerder dan gepland: verwacht {exp}.",
            Tail::EarlyBoth => ", eerder dan gepland: verwacht {exp}, {label} {prom}.",
            Tail::Late => ", maar met vertraging.",
            Tail::LateExpected => ", maar met vertraging: verwacht {exp}.",
            Tail::LatePromise => ", maar met vertraging: {label} {prom}.",
            Tail::LateBoth => ", maar met vertraging: verwacht {exp}, {label} {prom}.",
            Tail::Risk => ", maar mogelijk met vertraging.",
            Tail::RiskExpected => ", maar mogelijk met vertraging: verwacht {exp}.",
        },
    }
}

/// Ready for pickup: with the place, then without.
fn pickup(lang: Lang) -> [&'static str; 2] {
    match lang {
        Lang::En => [
            "Your parcel is ready for pickup in {place}.",
            "Your parcel is ready for pickup.",
        ],
        Lang::Fr => [
            "Votre colis est disponible en point de retrait à {place}.",
            "Votre colis est disponible en point de retrait.",
        ],
        Lang::De => [
            "Ihr Paket liegt zur Abholung in {place} bereit.",
            "Ihr Paket liegt zur Abholung bereit.",
        ],
        Lang::Nl => [
            "Je pakket ligt klaar om op te halen in {place}.",
            "Je pakket ligt klaar om op te halen.",
        ],
    }
}

/// The failed attempt: dated, then undated.
fn attempt(lang: Lang) -> [&'static str; 2] {
    match lang {
        Lang::En => [
            "A delivery attempt on {at} did not succeed",
            "A delivery attempt did not succeed",
        ],
        Lang::Fr => [
            "La tentative de livraison du {at} a échoué",
            "Une tentative de livraison a échoué",
        ],
        Lang::De => [
            "Der Zustellversuch am {at} war erfolglos",
            "Ein Zustellversuch war erfolglos",
        ],
        Lang::Nl => [
            "De bezorgpoging op {at} is mislukt",
            "Een bezorgpoging is mislukt",
        ],
    }
}

/// After a failed attempt: reschedule, pick up at a place, pick up.
fn attempt_next(lang: Lang) -> [&'static str; 3] {
    match lang {
        Lang::En => [
            "; please arrange a new delivery with the carrier.",
            "; your parcel is waiting for pickup in {place}.",
            "; your parcel is waiting at a pickup point.",
        ],
        Lang::Fr => [
            " ; veuillez convenir d'une nouvelle livraison avec le transporteur.",
            " ; votre colis vous attend en point de retrait à {place}.",
            " ; votre colis vous attend en point de retrait.",
        ],
        Lang::De => [
            "; bitte vereinbaren Sie mit dem Versanddienstleister eine neue Zustellung.",
            "; Ihr Paket liegt zur Abholung in {place} bereit.",
            "; Ihr Paket liegt zur Abholung bereit.",
        ],
        Lang::Nl => [
            "; maak met de vervoerder een nieuwe bezorgafspraak.",
            "; je pakket ligt klaar om op te halen in {place}.",
            "; je pakket ligt klaar om op te halen.",
        ],
    }
}

/// Delivered: with time and signer, time only, signer only, neither.
fn delivered(lang: Lang) -> [&'static str; 4] {
    match lang {
        Lang::En => [
            "Your parcel was delivered on {at} and signed for by {name}.",
            "Your parcel was delivered on {at}.",
            "Your parcel was delivered and signed for by {name}.",
            "Your parcel was delivered.",
        ],
        Lang::Fr => [
            "Votre colis a été livré le {at}, réceptionné par {name}.",
            "Votre colis a été livré le {at}.",
            "Votre colis a été livré, réceptionné par {name}.",
            "Votre colis a été livré.",
        ],
        Lang::De => [
            "Ihr Paket wurde am {at} zugestellt, unterschrieben von {name}.",
            "Ihr Paket wurde am {at} zugestellt.",
            "Ihr Paket wurde zugestellt, unterschrieben von {name}.",
            "Ihr Paket wurde zugestellt.",
        ],
        Lang::Nl => [
            "Je pakket is bezorgd op {at} en afgetekend door {name}.",
            "Je pakket is bezorgd op {at}.",
            "Je pakket is bezorgd en afgetekend door {name}.",
            "Je pakket is bezorgd.",
        ],
    }
}

/// The cases that state no value (`_` arms: `Shape::Invalid`, the only other
/// shape [`candidates`] sends here).
fn fixed(lang: Lang, shape: Shape) -> &'static str {
    match (lang, shape) {
        (Lang::En, Shape::Exception) => {
            "There is a problem with the delivery of your parcel; please contact the carrier."
        }
        (Lang::En, Shape::Returning) => {
            "Your parcel is being returned to the sender; please contact the carrier."
        }
        (Lang::En, Shape::Returned) => "Your parcel was returned to the sender.",
        (Lang::En, Shape::Cancelled) => "This shipment was cancelled.",
        (Lang::En, _) => "The carrier does not recognise this tracking number.",
        (Lang::Fr, Shape::Exception) => {
            "Un problème est survenu lors de l'acheminement de votre colis ; veuillez contacter le transporteur."
        }
        (Lang::Fr, Shape::Returning) => {
            "Votre colis est en cours de retour à l'expéditeur ; veuillez contacter le transporteur."
        }
        (Lang::Fr, Shape::Returned) => "Votre colis a été retourné à l'expéditeur.",
        (Lang::Fr, Shape::Cancelled) => "Cet envoi a été annulé.",
        (Lang::Fr, _) => "Le transporteur ne reconnaît pas ce numéro de suivi.",
        (Lang::De, Shape::Exception) => {
            "Bei der Zustellung Ihres Pakets gibt es ein Problem; bitte wenden Sie sich an den Versanddienstleister."
        }
        (Lang::De, Shape::Returning) => {
            "Ihr Paket wird an den Absender zurückgeschickt; bitte wenden Sie sich an den Versanddienstleister."
        }
        (Lang::De, Shape::Returned) => "Ihr Paket wurde an den Absender zurückgeschickt.",
        (Lang::De, Shape::Cancelled) => "Diese Sendung wurde storniert.",
        (Lang::De, _) => "Der Versanddienstleister kennt diese Sendungsnummer nicht.",
        (Lang::Nl, Shape::Exception) => {
            "Er is een probleem met de bezorging van je pakket; neem contact op met de vervoerder."
        }
        (Lang::Nl, Shape::Returning) => {
            "Je pakket wordt teruggestuurd naar de afzender; neem contact op met de vervoerder."
        }
        (Lang::Nl, Shape::Returned) => "Je pakket is teruggestuurd naar de afzender.",
        (Lang::Nl, Shape::Cancelled) => "Deze zending is geannuleerd.",
        (Lang::Nl, _) => "De vervoerder herkent dit trackingnummer niet.",
    }
}

/// The short headline: the status for terminal and actionable cases, the
/// verdict for parcels on their way that are early, late or at risk (except
/// out for delivery, the most useful thing to say that day).
pub(crate) fn headline(lang: Lang, a: &Assessment<'_>) -> &'static str {
    #[derive(Clone, Copy)]
    enum H {
        Stage(Stage),
        Early,
        Late,
        AtRisk,
        Pickup,
        Attempt,
        Delivered,
        Exception,
        Returning,
        Returned,
        Cancelled,
        Invalid,
    }
    let h = match a.shape {
        Shape::Progress(Stage::OutForDelivery) => H::Stage(Stage::OutForDelivery),
        Shape::Progress(stage) => match a.verdict {
            Verdict::Early => H::Early,
            Verdict::Late => H::Late,
            Verdict::AtRisk => H::AtRisk,
            Verdict::OnTime | Verdict::Delivered | Verdict::Returned | Verdict::Exception => {
                H::Stage(stage)
            }
        },
        Shape::Pickup => H::Pickup,
        Shape::Attempt { .. } => H::Attempt,
        Shape::Delivered => H::Delivered,
        Shape::Exception => H::Exception,
        Shape::Returning => H::Returning,
        Shape::Returned => H::Returned,
        Shape::Cancelled => H::Cancelled,
        Shape::Invalid => H::Invalid,
    };
    // [en, fr, de, nl]
    let words: [&'static str; 4] = match h {
        H::Stage(Stage::Pending) => [
            "Awaiting carrier update",
            "En attente du transporteur",
            "Warten auf den Versanddienstleister",
            "Wachten op de vervoerder",
        ],
        H::Stage(Stage::InfoReceived) => [
            "Label created",
            "Étiquette créée",
            "Sendung angekündigt",
            "Label aangemaakt",
        ],
        H::Stage(Stage::InTransit) => ["On its way", "En route", "Unterwegs", "Onderweg"],
        H::Stage(Stage::OutForDelivery) => [
            "Out for delivery",
            "En cours de livraison",
            "In Zustellung",
            "Bij de bezorger",
        ],
        H::Stage(Stage::Expired) => [
            "Tracking ended",
            "Suivi terminé",
            "Verfolgung beendet",
            "Volgen beëindigd",
        ],
        H::Stage(Stage::Unknown) => [
            "With the carrier",
            "Chez le transporteur",
            "Beim Versanddienstleister",
            "Bij de vervoerder",
        ],
        H::Early => [
            "Arriving early",
            "En avance",
            "Früher als geplant",
            "Eerder dan gepland",
        ],
        H::Late => ["Running late", "En retard", "Verspätet", "Vertraagd"],
        H::AtRisk => [
            "Possible delay",
            "Retard possible",
            "Mögliche Verspätung",
            "Mogelijke vertraging",
        ],
        H::Pickup => [
            "Ready for pickup",
            "Disponible en point de retrait",
            "Zur Abholung bereit",
            "Klaar om op te halen",
        ],
        H::Attempt => [
            "Delivery attempt failed",
            "Échec de livraison",
            "Zustellversuch erfolglos",
            "Bezorgpoging mislukt",
        ],
        H::Delivered => ["Delivered", "Livré", "Zugestellt", "Bezorgd"],
        H::Exception => [
            "Delivery problem",
            "Problème de livraison",
            "Zustellproblem",
            "Probleem met bezorging",
        ],
        H::Returning => [
            "Returning to sender",
            "Retour à l'expéditeur",
            "Rücksendung an den Absender",
            "Retour naar afzender",
        ],
        H::Returned => [
            "Returned to sender",
            "Retourné à l'expéditeur",
            "An den Absender zurück",
            "Teruggestuurd naar afzender",
        ],
        H::Cancelled => [
            "Shipment cancelled",
            "Envoi annulé",
            "Sendung storniert",
            "Zending geannuleerd",
        ],
        H::Invalid => [
            "Tracking number not found",
            "Numéro de suivi inconnu",
            "Sendungsnummer unbekannt",
            "Trackingnummer onbekend",
        ],
    };
    let [en, fr, de, nl] = words;
    match lang {
        Lang::En => en,
        Lang::Fr => fr,
        Lang::De => de,
        Lang::Nl => nl,
    }
}

/// The headline of a return, per stage: it reads as travelling back, never as a delivery.
pub(crate) fn return_headline(lang: Lang, stage: ReturnStage) -> &'static str {
    // [en, fr, de, nl]
    let words: [&'static str; 4] = match stage {
        ReturnStage::LabelCreated => [
            "Return label created",
            "Étiquette de retour créée",
            "Retourenetikett erstellt",
            "Retourlabel aangemaakt",
        ],
        ReturnStage::DroppedOff => [
            "Return dropped off",
            "Retour déposé",
            "Retoure abgegeben",
            "Retour afgegeven",
        ],
        ReturnStage::OnItsWay => [
            "Return on its way back",
            "Retour en chemin",
            "Retoure unterwegs",
            "Retour onderweg",
        ],
        ReturnStage::DeliveredBack => [
            "Return delivered to the retailer",
            "Retour livré au vendeur",
            "Retoure beim Händler zugestellt",
            "Retour bezorgd bij de verkoper",
        ],
        ReturnStage::Milestone { kind, .. } => match kind {
            MilestoneKind::Received => [
                "Return received",
                "Retour reçu",
                "Retoure eingegangen",
                "Retour ontvangen",
            ],
            MilestoneKind::Inspected => [
                "Return inspected",
                "Retour vérifié",
                "Retoure geprüft",
                "Retour gecontroleerd",
            ],
            MilestoneKind::Refunded => [
                "Refund issued",
                "Remboursement effectué",
                "Erstattung veranlasst",
                "Terugbetaling uitgevoerd",
            ],
        },
    };
    words[lang_index(lang)]
}

fn lang_index(lang: Lang) -> usize {
    match lang {
        Lang::En => 0,
        Lang::Fr => 1,
        Lang::De => 2,
        Lang::Nl => 3,
    }
}

/// Templates of a return's sentence, richest first; the last states no value.
fn return_templates(lang: Lang, stage: ReturnStage) -> [&'static str; 2] {
    use MilestoneKind::{Inspected, Received, Refunded};
    use ReturnStage::{DeliveredBack, DroppedOff, LabelCreated, Milestone, OnItsWay};
    match (lang, stage) {
        (Lang::En, LabelCreated) => [
            "Your return label is ready: drop the parcel off with the carrier to send it back.",
            "Your return label is ready: drop the parcel off with the carrier.",
        ],
        (Lang::En, DroppedOff) => [
            "Your return was dropped off and is on its way back to the retailer, expected {exp}.",
            "Your return was dropped off and is on its way back to the retailer.",
        ],
        (Lang::En, OnItsWay) => [
            "Your return is on its way back to the retailer, expected {exp}.",
            "Your return is on its way back to the retailer.",
        ],
        (Lang::En, DeliveredBack) => [
            "Your return was delivered to the retailer on {at}; the retailer checks it next.",
            "Your return was delivered to the retailer; the retailer checks it next.",
        ],
        (Lang::En, Milestone { kind: Received, .. }) => [
            "The retailer received your return on {at} and checks it next.",
            "The retailer received your return and checks it next.",
        ],
        (
            Lang::En,
            Milestone {
                kind: Inspected, ..
            },
        ) => [
            "The retailer inspected your return on {at}; the refund comes next.",
            "The retailer inspected your return; the refund comes next.",
        ],
        (Lang::En, Milestone { kind: Refunded, .. }) => [
            "Your refund was issued on {at}; the return is complete.",
            "Your refund was issued; the return is complete.",
        ],
        (Lang::Fr, LabelCreated) => [
            "Votre étiquette de retour est prête : déposez le colis chez le transporteur pour le renvoyer.",
            "Votre étiquette de retour est prête : déposez le colis chez le transporteur.",
        ],
        (Lang::Fr, DroppedOff) => [
            "Votre retour a été déposé et repart vers le vendeur, arrivée prévue le {exp}.",
            "Votre retour a été déposé et repart vers le vendeur.",
        ],
        (Lang::Fr, OnItsWay) => [
            "Votre retour est en route vers le vendeur, arrivée prévue le {exp}.",
            "Votre retour est en route vers le vendeur.",
        ],
        (Lang::Fr, DeliveredBack) => [
            "Votre retour a été livré au vendeur le {at} ; il va maintenant être vérifié.",
            "Votre retour a été livré au vendeur ; il va maintenant être vérifié.",
        ],
        (Lang::Fr, Milestone { kind: Received, .. }) => [
            "Le vendeur a reçu votre retour le {at} et va le vérifier.",
            "Le vendeur a reçu votre retour et va le vérifier.",
        ],
        (
            Lang::Fr,
            Milestone {
                kind: Inspected, ..
            },
        ) => [
            "Le vendeur a vérifié votre retour le {at} ; le remboursement suit.",
            "Le vendeur a vérifié votre retour ; le remboursement suit.",
        ],
        (Lang::Fr, Milestone { kind: Refunded, .. }) => [
            "Votre remboursement a été effectué le {at} ; vous n'avez plus rien à faire.",
            "Votre remboursement a été effectué ; vous n'avez plus rien à faire.",
        ],
        (Lang::De, LabelCreated) => [
            "Ihr Retourenetikett ist bereit: Geben Sie das Paket beim Versanddienstleister ab, um es zurückzusenden.",
            "Ihr Retourenetikett ist bereit: Geben Sie das Paket beim Versanddienstleister ab.",
        ],
        (Lang::De, DroppedOff) => [
            "Ihre Retoure wurde abgegeben und ist auf dem Weg zum Händler, voraussichtlich {exp}.",
            "Ihre Retoure wurde abgegeben und ist auf dem Weg zum Händler.",
        ],
        (Lang::De, OnItsWay) => [
            "Ihre Retoure ist auf dem Weg zum Händler, voraussichtlich {exp}.",
            "Ihre Retoure ist auf dem Weg zum Händler.",
        ],
        (Lang::De, DeliveredBack) => [
            "Ihre Retoure wurde am {at} beim Händler zugestellt und wird als Nächstes geprüft.",
            "Ihre Retoure wurde beim Händler zugestellt und wird als Nächstes geprüft.",
        ],
        (Lang::De, Milestone { kind: Received, .. }) => [
            "Der Händler hat Ihre Retoure am {at} erhalten und prüft sie als Nächstes.",
            "Der Händler hat Ihre Retoure erhalten und prüft sie als Nächstes.",
        ],
        (
            Lang::De,
            Milestone {
                kind: Inspected, ..
            },
        ) => [
            "Der Händler hat Ihre Retoure am {at} geprüft; als Nächstes folgt die Erstattung.",
            "Der Händler hat Ihre Retoure geprüft; als Nächstes folgt die Erstattung.",
        ],
        (Lang::De, Milestone { kind: Refunded, .. }) => [
            "Ihre Erstattung wurde am {at} veranlasst; Sie müssen nichts mehr tun.",
            "Ihre Erstattung wurde veranlasst; Sie müssen nichts mehr tun.",
        ],
        (Lang::Nl, LabelCreated) => [
            "Je retourlabel is klaar: geef het pakket af bij de vervoerder om het terug te sturen.",
            "Je retourlabel is klaar: geef het pakket af bij de vervoerder.",
        ],
        (Lang::Nl, DroppedOff) => [
            "Je retour is afgegeven en is onderweg terug naar de verkoper, verwacht {exp}.",
            "Je retour is afgegeven en is onderweg terug naar de verkoper.",
        ],
        (Lang::Nl, OnItsWay) => [
            "Je retour is onderweg terug naar de verkoper, verwacht {exp}.",
            "Je retour is onderweg terug naar de verkoper.",
        ],
        (Lang::Nl, DeliveredBack) => [
            "Je retour is op {at} bezorgd bij de verkoper en wordt nu gecontroleerd.",
            "Je retour is bezorgd bij de verkoper en wordt nu gecontroleerd.",
        ],
        (Lang::Nl, Milestone { kind: Received, .. }) => [
            "De verkoper heeft je retour op {at} ontvangen en controleert het nu.",
            "De verkoper heeft je retour ontvangen en controleert het nu.",
        ],
        (
            Lang::Nl,
            Milestone {
                kind: Inspected, ..
            },
        ) => [
            "De verkoper heeft je retour op {at} gecontroleerd; de terugbetaling volgt.",
            "De verkoper heeft je retour gecontroleerd; de terugbetaling volgt.",
        ],
        (Lang::Nl, Milestone { kind: Refunded, .. }) => [
            "Je terugbetaling is op {at} uitgevoerd; je hoeft niets meer te doen.",
            "Je terugbetaling is uitgevoerd; je hoeft niets meer te doen.",
        ],
    }
}

/// The sentence of a return and the values it states, in order.
pub(crate) fn return_sentence(
    lang: Lang,
    stage: ReturnStage,
    slots: &Slots,
) -> (String, Vec<Slot>) {
    let mut last = None;
    for template in return_templates(lang, stage) {
        if let Some((text, used)) = fill(template, slots, "") {
            if text.chars().count() <= MAX_SENTENCE_CHARS {
                return (text, used);
            }
            last = Some((text, used));
        }
    }
    // The slot-free template always fills (checked by the tests).
    last.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn style(lang: Lang, tz: Tz) -> DateStyle {
        DateStyle::new(
            lang,
            tz,
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        )
    }

    #[test]
    fn dates_in_every_language() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        let tz = chrono_tz::Europe::Paris;
        let got: Vec<String> = Lang::ALL
            .iter()
            .map(|l| format_date(style(*l, tz), d))
            .collect();
        assert_eq!(
            got,
            ["Tue 8 Dec", "mar. 8 déc.", "Di., 8. Dez.", "di 8 dec"]
        );
        let next = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        assert_eq!(format_date(style(Lang::De, tz), next), "Mo., 4. Jan. 2027");
    }

    #[test]
    fn zoned_windows_move_to_the_zone_and_naive_ones_do_not() {
        let w = |a: &str, b: &str| Eta::Window {
            start: Timestamp::from_wire(a).unwrap(),
            end: Timestamp::from_wire(b).unwrap(),
        };
        let zoned = w("2026-12-08T14:00:00+01:00", "2026-12-08T18:00:00+01:00");
        let naive = w("2026-12-08T14:00:00", "2026-12-08T18:00:00");
        let paris = style(Lang::En, chrono_tz::Europe::Paris);
        let toronto = style(Lang::En, chrono_tz::America::Toronto);
        assert_eq!(render_eta(paris, &zoned), "Tue 8 Dec, 14:00–18:00");
        assert_eq!(render_eta(toronto, &zoned), "Tue 8 Dec, 08:00–12:00");
        assert_eq!(render_eta(paris, &naive), "Tue 8 Dec, 14:00–18:00");
        assert_eq!(render_eta(toronto, &naive), "Tue 8 Dec, 14:00–18:00");
        let night = w("2026-12-08T20:00:00+01:00", "2026-12-09T10:00:00+01:00");
        assert_eq!(
            render_eta(paris, &night),
            "Tue 8 Dec, 20:00 – Wed 9 Dec, 10:00"
        );
        let one = w("2026-12-08T14:00:00+01:00", "2026-12-08T14:00:00+01:00");
        assert_eq!(render_eta(paris, &one), "Tue 8 Dec, 14:00");
    }

    #[test]
    fn extreme_years_render_without_panicking() {
        let max = DateTime::<Utc>::MAX_UTC.fixed_offset();
        let min = DateTime::<Utc>::MIN_UTC.fixed_offset();
        for ts in [Timestamp::Zoned(max), Timestamp::Zoned(min)] {
            for tz in [chrono_tz::Pacific::Kiritimati, chrono_tz::Etc::GMTPlus12] {
                assert!(!render_time(style(Lang::Fr, tz), &ts).is_empty());
            }
        }
    }

    #[test]
    fn free_text_is_clipped_on_one_line() {
        assert_eq!(clip("  M.\n DUPONT "), Some("M. DUPONT".into()));
        assert_eq!(clip(" \t"), None);
        let long = clip(&"x".repeat(100)).unwrap();
        assert_eq!(long.chars().count(), MAX_FREE_TEXT_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn places_need_a_city_or_postal_code() {
        let a = |city: Option<&str>, postal: Option<&str>| Address {
            city: city.map(Into::into),
            postal_code: postal.map(Into::into),
            country: Some("FR".into()),
            region: None,
        };
        assert_eq!(
            place(&a(Some("Paris"), Some("75011"))),
            Some("Paris (75011)".into())
        );
        assert_eq!(place(&a(None, Some("75011"))), Some("75011".into()));
        assert_eq!(place(&a(None, None)), None);
    }

    /// Every literal word of every language, with each slot filled by "X".
    fn all_templates(lang: Lang) -> Vec<String> {
        let mut out: Vec<String> = [
            Tail::Plain,
            Tail::Expected,
            Tail::Promise,
            Tail::OnTimeBoth,
            Tail::Early,
            Tail::EarlyExpected,
            Tail::EarlyBoth,
            Tail::Late,
            Tail::LateExpected,
            Tail::LatePromise,
            Tail::LateBoth,
            Tail::Risk,
            Tail::RiskExpected,
        ]
        .into_iter()
        .map(|t| tail(lang, t).to_string())
        .collect();
        for stage in [
            Stage::Pending,
            Stage::InfoReceived,
            Stage::InTransit,
            Stage::OutForDelivery,
            Stage::Expired,
            Stage::Unknown,
        ] {
            out.push(stage_clause(lang, stage).into());
        }
        for shape in [
            Shape::Exception,
            Shape::Returning,
            Shape::Returned,
            Shape::Cancelled,
            Shape::Invalid,
        ] {
            out.push(fixed(lang, shape).into());
        }
        for source in [PromiseSource::Client, PromiseSource::Carrier] {
            out.push(promise_label(lang, Some(source)).into());
        }
        out.extend(pickup(lang).map(String::from));
        out.extend(attempt(lang).map(String::from));
        out.extend(attempt_next(lang).map(String::from));
        out.extend(delivered(lang).map(String::from));
        out
    }

    /// Templates name only known slots, and their own words state no date or
    /// time (so any date in a sentence comes from a slot).
    #[test]
    fn templates_state_nothing_but_their_slots() {
        let slot = Slot {
            field: "x".into(),
            value: Value::Null,
            text: "X".into(),
            date: None,
        };
        let all = Slots {
            exp: Some(slot.clone()),
            prom: Some(slot.clone()),
            at: Some(slot.clone()),
            name: Some(slot.clone()),
            place: Some(slot),
        };
        let words: Vec<&str> = date_words().collect();
        for lang in Lang::ALL {
            for t in all_templates(lang) {
                let (text, _) = fill(&t, &all, "L").unwrap_or_else(|| panic!("{t}"));
                assert!(!text.contains(['{', '}']), "{t}");
                assert!(!text.chars().any(|c| c.is_ascii_digit()), "{t}");
                for token in text.split(|c: char| !c.is_alphanumeric()) {
                    assert!(!words.contains(&token), "{token:?} in {t}");
                }
            }
        }
    }
}
