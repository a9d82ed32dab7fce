//! Replays every example of the vendored `tracking_number_data` set (embedded
//! in the binary; nothing is read from outside the repository) through the
//! offline detector.

use trackd::detection::{Confidence, Verdict, definitions, detect};

#[test]
fn every_test_number_of_the_data_set_is_honoured() {
    let defs = definitions();
    assert!(defs.len() >= 39, "only {} formats loaded", defs.len());
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut failures = Vec::new();
    for def in defs {
        assert!(
            !def.test_numbers.valid.is_empty(),
            "{} has no valid examples",
            def.id
        );
        for n in &def.test_numbers.valid {
            valid += 1;
            let d = detect(n);
            let hit = d
                .matches
                .iter()
                .find(|m| m.type_id == def.id && m.courier_code == def.courier_code);
            match hit {
                None => failures.push(format!(
                    "{} should accept {n:?}, got {:?}",
                    def.id, d.matches
                )),
                Some(m) if def.checksum.is_some() && m.confidence != Confidence::Checksum => {
                    failures.push(format!("{} accepted {n:?} without its checksum", def.id))
                }
                Some(_) => {}
            }
        }
        for n in &def.test_numbers.invalid {
            invalid += 1;
            if let Some(m) = def.check(n) {
                failures.push(format!("{} should reject {n:?}, got {m:?}", def.id));
            }
        }
    }
    println!(
        "checked {} test numbers ({valid} valid, {invalid} invalid) over {} formats",
        valid + invalid,
        defs.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_examples_of_trackd_carriers_get_a_sound_verdict() {
    // A valid example of a format trackd has a plugin for must never be
    // decided for another carrier; it may be ambiguous, which is reported.
    let mut ambiguous = Vec::new();
    for def in definitions() {
        for n in &def.test_numbers.valid {
            let d = detect(n);
            let Some(own) = d.matches.iter().find(|m| m.type_id == def.id) else {
                continue; // covered by the test above
            };
            let Some(slug) = own.carrier else { continue };
            match &d.verdict {
                Verdict::Unique(s) => {
                    assert_eq!(*s, slug, "{n:?} ({}) decided for {s}", def.id)
                }
                Verdict::Ambiguous(c) => {
                    // Only when another best-confidence match competes.
                    assert!(own.confidence <= d.matches[0].confidence);
                    ambiguous.push(format!("{n:?} ({}): {c:?}", def.id));
                }
                Verdict::None => {
                    assert!(
                        own.confidence < d.matches[0].confidence,
                        "{n:?} ({}) got no verdict",
                        def.id
                    );
                    ambiguous.push(format!(
                        "{n:?} ({}): outranked by {}",
                        def.id, d.matches[0].type_id
                    ));
                }
            }
        }
    }
    println!(
        "{} valid examples are not decided uniquely:",
        ambiguous.len()
    );
    for a in &ambiguous {
        println!("  {a}");
    }
}

#[test]
fn typical_numbers() {
    let ups = detect("1z 5r8 939 0357 5671 27");
    assert_eq!(ups.number, "1Z5R89390357567127");
    assert_eq!(ups.verdict, Verdict::Unique("ups"));
    assert_eq!(ups.confidence(), Some(Confidence::Checksum));
    assert_eq!(detect("RB123456785GB").carrier(), Some("royalmail"));
    assert_eq!(detect("RB123456785US").carrier(), Some("usps"));
    assert_eq!(detect("not a number").verdict, Verdict::None);
}

#[test]
fn registration_sized_batches_are_fast_enough() {
    // 10,000 numbers, as one registration batch may carry; printed, not
    // asserted, since the build profile and machine load vary.
    let numbers: Vec<String> = definitions()
        .iter()
        .flat_map(|d| d.test_numbers.valid.iter().chain(&d.test_numbers.invalid))
        .cycle()
        .take(10_000)
        .cloned()
        .collect();
    let _ = detect("warm up");
    let start = std::time::Instant::now();
    let decided = numbers
        .iter()
        .filter(|n| detect(n).carrier().is_some())
        .count();
    let took = start.elapsed();
    println!(
        "detected 10000 numbers in {took:?} ({:.1} us each), {decided} decided",
        took.as_secs_f64() * 1e6 / 10_000.0
    );
}
