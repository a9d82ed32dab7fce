//! Every carrier parser meets every other carrier's documented payloads (and
//! its own, truncated): it must answer with a typed error or a result, never
//! panic, and never report a foreign carrier's answer as its own tracking data.

use std::path::Path;
use trackd_carrier_sdk::HttpResponse;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("carriers");
    let mut out = Vec::new();
    for carrier in std::fs::read_dir(&root).unwrap() {
        let dir = carrier.unwrap().path().join("fixtures");
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in files {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".md") {
                continue;
            }
            let owner = dir
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            out.push((format!("{owner}/{name}"), std::fs::read(&path).unwrap()));
        }
    }
    assert!(out.len() > 80, "fixtures found: {}", out.len());
    out
}

#[test]
fn foreign_and_truncated_payloads_never_panic_or_pass_as_data() {
    let plugins = trackd::carriers::builtin();
    let all = fixtures();
    let mut checked = 0;
    for p in &plugins {
        let slug = p.descriptor().slug;
        for (name, body) in &all {
            let own = name.starts_with(&format!("{slug}/"));
            for status in [200u16, 404, 500] {
                let mut cuts = vec![body.len()];
                if own {
                    cuts.extend((0..body.len()).step_by((body.len() / 16).max(1)));
                }
                for cut in cuts {
                    let resp =
                        HttpResponse::new(status, "application/octet-stream", body[..cut].to_vec());
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        p.parse_track(&[], &resp)
                    }));
                    let outcome = outcome.unwrap_or_else(|_| {
                        panic!("{slug} panicked on {name} (HTTP {status}, {cut} bytes)")
                    });
                    checked += 1;
                    if !own && let Ok(results) = &outcome {
                        let data = results
                            .iter()
                            .filter_map(|r| r.outcome.as_ref().ok())
                            .filter(|s| !s.checkpoints.is_empty())
                            .count();
                        assert_eq!(
                            data, 0,
                            "{slug} read tracking data out of {name} (HTTP {status})"
                        );
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}
