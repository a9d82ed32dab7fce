//! The order-level answer: several trackers sharing one `reference` ("2 of 3
//! parcels delivered"), from their per-tracker summaries.

use super::{Lang, Summary, Verdict};
use serde::Serialize;

/// How an order stands, from its parcels' verdicts; the worst one leads, so a bot never hides a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderSummary {
    pub verdict: Verdict,
    pub headline: String,
    /// One sentence of at most 160 characters.
    pub sentence: String,
    pub parcels: usize,
    pub delivered: usize,
    pub late: usize,
    /// Exceptions and parcels at risk: the ones a customer may have to act on.
    pub attention: usize,
    /// Return trackers of the order, told apart so a parcel on its way back is
    /// never counted as an undelivered one.
    pub returns: usize,
    /// Of those, the ones back with the retailer (verdict `returned`).
    pub returns_back: usize,
}

/// Which verdict an order shows: any exception first, then late, at risk, and
/// delivered only when every parcel is.
fn order_verdict(verdicts: &[Verdict]) -> Verdict {
    const WORST_FIRST: [Verdict; 7] = [
        Verdict::Exception,
        Verdict::Late,
        Verdict::AtRisk,
        Verdict::OnTime,
        Verdict::Early,
        Verdict::Returned,
        Verdict::Delivered,
    ];
    WORST_FIRST
        .into_iter()
        .find(|w| verdicts.contains(w))
        .unwrap_or(Verdict::OnTime)
}

/// Sums up an order's outbound parcels and its returns (each in the order
/// given) in `lang`; an order of returns only is summed up as its parcels.
pub fn summarize_order(parcels: &[Summary], returns: &[Summary], lang: Lang) -> OrderSummary {
    if parcels.is_empty() {
        return summarize_order(returns, &[], lang);
    }
    let returns_back = returns
        .iter()
        .filter(|s| s.verdict == Verdict::Returned)
        .count();
    let under_way = returns.len() - returns_back;
    let verdicts: Vec<Verdict> = parcels.iter().map(|s| s.verdict).collect();
    let count = |v: &[Verdict]| verdicts.iter().filter(|x| v.contains(x)).count();
    let (n, delivered) = (parcels.len(), count(&[Verdict::Delivered]));
    let late = count(&[Verdict::Late]);
    let attention = count(&[Verdict::Exception, Verdict::AtRisk]);
    let all = n > 0 && delivered == n;
    let headline = match (lang, all) {
        (Lang::En, true) => "All delivered".to_string(),
        (Lang::Fr, true) => "Tous livrés".to_string(),
        (Lang::De, true) => "Alle zugestellt".to_string(),
        (Lang::Nl, true) => "Alles bezorgd".to_string(),
        (Lang::En, false) => format!("{delivered} of {n} delivered"),
        (Lang::Fr, false) => format!("{delivered} sur {n} livrés"),
        (Lang::De, false) => format!("{delivered} von {n} zugestellt"),
        (Lang::Nl, false) => format!("{delivered} van {n} bezorgd"),
    };
    let mut sentence = match lang {
        Lang::En => format!(
            "{delivered} of {n} {} delivered",
            if n == 1 { "parcel" } else { "parcels" }
        ),
        Lang::Fr => format!(
            "{delivered} colis sur {n} {}",
            if delivered > 1 { "livrés" } else { "livré" }
        ),
        Lang::De => format!(
            "{delivered} von {n} {} zugestellt",
            if n == 1 { "Paket" } else { "Paketen" }
        ),
        Lang::Nl => format!(
            "{delivered} van {n} {} bezorgd",
            if n == 1 { "pakket" } else { "pakketten" }
        ),
    };
    if late > 0 {
        sentence.push_str(&match lang {
            Lang::En => format!(", {late} running late"),
            Lang::Fr => format!(", {late} en retard"),
            Lang::De => format!(", {late} verspätet"),
            Lang::Nl => format!(", {late} vertraagd"),
        });
    }
    if attention > 0 {
        sentence.push_str(&match lang {
            Lang::En => format!(", {attention} may need your attention"),
            Lang::Fr => format!(", {attention} peuvent demander votre attention"),
            Lang::De => format!(", {attention} brauchen eventuell Ihre Aufmerksamkeit"),
            Lang::Nl => format!(", {attention} vragen mogelijk uw aandacht"),
        });
    }
    if under_way > 0 {
        let one = under_way == 1;
        sentence.push_str(&match lang {
            Lang::En => format!(
                ", {under_way} {} under way",
                if one { "return" } else { "returns" }
            ),
            Lang::Fr => format!(
                ", {under_way} {} en cours",
                if one { "retour" } else { "retours" }
            ),
            Lang::De => format!(
                ", {under_way} {} unterwegs",
                if one {
                    "Rücksendung"
                } else {
                    "Rücksendungen"
                }
            ),
            Lang::Nl => format!(
                ", {under_way} {} onderweg",
                if one { "retour" } else { "retouren" }
            ),
        });
    }
    if returns_back > 0 {
        let one = returns_back == 1;
        sentence.push_str(&match lang {
            Lang::En => format!(
                ", {returns_back} {} back with the retailer",
                if one { "return" } else { "returns" }
            ),
            Lang::Fr => format!(
                ", {returns_back} {} au marchand",
                if one {
                    "retour rendu"
                } else {
                    "retours rendus"
                }
            ),
            Lang::De => format!(
                ", {returns_back} {} beim Händler",
                if one {
                    "Rücksendung"
                } else {
                    "Rücksendungen"
                }
            ),
            Lang::Nl => format!(
                ", {returns_back} {} bij de winkel",
                if one {
                    "retour terug"
                } else {
                    "retouren terug"
                }
            ),
        });
    }
    sentence.push('.');
    OrderSummary {
        verdict: if all {
            Verdict::Delivered
        } else {
            order_verdict(&verdicts)
        },
        headline,
        sentence,
        parcels: n,
        delivered,
        late,
        attention,
        returns: returns.len(),
        returns_back,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parcel(verdict: Verdict) -> Summary {
        Summary {
            verdict,
            headline: String::new(),
            sentence: String::new(),
            promised: None,
            expected: None,
            next_step: None,
            facts: vec![],
            lang: "en",
            tz: "UTC".into(),
        }
    }

    #[test]
    fn two_of_three_in_every_language() {
        let order = [
            parcel(Verdict::Delivered),
            parcel(Verdict::Delivered),
            parcel(Verdict::Late),
        ];
        let got: Vec<(String, String)> = Lang::ALL
            .iter()
            .map(|l| {
                let s = summarize_order(&order, &[], *l);
                (s.headline, s.sentence)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "2 of 3 delivered",
                    "2 of 3 parcels delivered, 1 running late."
                ),
                ("2 sur 3 livrés", "2 colis sur 3 livrés, 1 en retard."),
                (
                    "2 von 3 zugestellt",
                    "2 von 3 Paketen zugestellt, 1 verspätet."
                ),
                ("2 van 3 bezorgd", "2 van 3 pakketten bezorgd, 1 vertraagd."),
            ]
            .map(|(h, s)| (h.to_string(), s.to_string()))
        );
        assert_eq!(
            summarize_order(&order, &[], Lang::En).verdict,
            Verdict::Late
        );
    }

    #[test]
    fn the_worst_parcel_leads_and_all_delivered_says_so() {
        let all = [parcel(Verdict::Delivered), parcel(Verdict::Delivered)];
        let s = summarize_order(&all, &[], Lang::De);
        assert_eq!(
            (s.verdict, s.headline.as_str()),
            (Verdict::Delivered, "Alle zugestellt")
        );
        let mixed = [
            parcel(Verdict::Early),
            parcel(Verdict::Exception),
            parcel(Verdict::Late),
        ];
        let s = summarize_order(&mixed, &[], Lang::En);
        assert_eq!(s.verdict, Verdict::Exception);
        assert_eq!(
            s.sentence,
            "0 of 3 parcels delivered, 1 running late, 1 may need your attention."
        );
        let one = summarize_order(&[parcel(Verdict::OnTime)], &[], Lang::Nl);
        assert_eq!(one.sentence, "0 van 1 pakket bezorgd.");
        for l in Lang::ALL {
            let long = summarize_order(&vec![parcel(Verdict::AtRisk); 999], &[], l);
            assert!(long.sentence.chars().count() <= 160, "{}", long.sentence);
            let mut worst = vec![parcel(Verdict::AtRisk); 999];
            worst.extend(vec![parcel(Verdict::Late); 999]);
            let rets = [
                vec![parcel(Verdict::OnTime); 999],
                vec![parcel(Verdict::Returned); 999],
            ]
            .concat();
            let longest = summarize_order(&worst, &rets, l);
            assert!(
                longest.sentence.chars().count() <= 160,
                "{}",
                longest.sentence
            );
        }
    }

    #[test]
    fn returns_are_told_apart_from_undelivered_parcels() {
        let out = [parcel(Verdict::Delivered)];
        let rets = [parcel(Verdict::OnTime), parcel(Verdict::Returned)];
        let got: Vec<(String, String)> = Lang::ALL
            .iter()
            .map(|l| {
                let s = summarize_order(&out, &rets, *l);
                (s.headline, s.sentence)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "All delivered",
                    "1 of 1 parcel delivered, 1 return under way, 1 return back with the retailer."
                ),
                (
                    "Tous livrés",
                    "1 colis sur 1 livré, 1 retour en cours, 1 retour rendu au marchand."
                ),
                (
                    "Alle zugestellt",
                    "1 von 1 Paket zugestellt, 1 Rücksendung unterwegs, 1 Rücksendung beim Händler."
                ),
                (
                    "Alles bezorgd",
                    "1 van 1 pakket bezorgd, 1 retour onderweg, 1 retour terug bij de winkel."
                ),
            ]
            .map(|(h, s)| (h.to_string(), s.to_string()))
        );
        let s = summarize_order(&out, &rets, Lang::En);
        assert_eq!(
            (s.verdict, s.parcels, s.delivered, s.returns, s.returns_back),
            (Verdict::Delivered, 1, 1, 2, 1)
        );
        // An order of returns only reads as its returns.
        let only = summarize_order(&[], &rets, Lang::En);
        assert_eq!((only.parcels, only.returns), (2, 0));
    }
}
