//! The SRE view is proven, not just shipped: the alert rules pass `promtool`
//! (syntax and unit tests), the Grafana dashboards follow the import rules
//! (datasource variable, `$__rate_interval`, units), every metric a dashboard or
//! rule names is exported by trackd, and a real Prometheus scraping the
//! `trackd demo` binary evaluates every panel and alert expression (each parses;
//! each panel returns data unless it is on the written allow-list below).
//!
//! CI installs Debian's `prometheus` package (promtool and the server); locally
//! the tools are optional and the tests say so when they are missing.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Carrier the drill-down dashboard is evaluated for (it gets injected faults).
const DRILL_CARRIER: &str = "canadapost";

/// Panels (dashboard uid, panel title) legitimately empty in a few minutes of a
/// simulated run, with the reason. Everything else must return data.
const EMPTY_IN_SHORT_RUN: &[(&str, &str, &str)] = &[
    (
        "trackd-overview",
        "Daily quota remaining",
        "present only for carriers with a per-day quota; the test world has one (u32::MAX) so this is usually filled, but an unlimited quota exports no day limit",
    ),
    (
        "trackd-carrier",
        "Unmapped status codes",
        "the simulator only sends status codes the plugins map, so trackd_unmapped_codes_total has no series",
    ),
    (
        "trackd-carrier",
        "Quota wait time",
        "a histogram quantile over waits for the per-second quota: empty (NaN) when no request had to wait within the last minute",
    ),
    (
        "trackd-carrier",
        "ETA slip size",
        "ETA slips depend on the seeded journeys; a short run may see none for one carrier",
    ),
    (
        "trackd-stream",
        "ETA slip size p90",
        "ETA slips depend on the seeded journeys; a short run may see none",
    ),
];

/// Metric names used by dashboards or rules that trackd only exports once the
/// thing happened (a label value cannot be created in advance).
const EXPORTED_WHEN_SEEN: &[(&str, &str)] = &[
    (
        "trackd_unmapped_codes_total",
        "labelled by the unmapped code itself, so no series exists before the first one",
    ),
    (
        "trackd_webhook_backlog_events",
        "labelled by webhook endpoint: no series before an endpoint is delivered to (the demo registers one)",
    ),
    (
        "trackd_webhook_oldest_pending_seconds",
        "labelled by webhook endpoint: no series before an endpoint is delivered to (the demo registers one)",
    ),
    (
        "trackd_webhook_endpoint_failing",
        "labelled by webhook endpoint: no series before an endpoint is delivered to (the demo registers one)",
    ),
];

/// Series Prometheus makes itself.
const PROMETHEUS_SERIES: &[&str] = &["up"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `tool` runs; in CI it must.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} must be installed in CI (.ci/run installs Debian's prometheus package)"
        );
        eprintln!("{tool} not installed: install Debian's `prometheus` package to run this check");
    }
    ok
}

fn run(tool: &str, args: &[&str], dir: &Path) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------- sources

struct PanelExprs {
    dashboard: String,
    title: String,
    exprs: Vec<String>,
}

fn dashboards() -> Vec<(PathBuf, Value)> {
    let dir = root().join("grafana/dashboards");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (p, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 3, "expected at least 3 dashboards in {dir:?}");
    out
}

/// Every panel (rows' nested panels included).
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels array") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner.iter());
        }
    }
    out
}

fn panel_exprs() -> Vec<PanelExprs> {
    let mut out = Vec::new();
    for (_, d) in dashboards() {
        let uid = d["uid"].as_str().unwrap().to_string();
        for p in panels(&d) {
            let exprs: Vec<String> = p["targets"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .filter_map(|t| t["expr"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if !exprs.is_empty() {
                out.push(PanelExprs {
                    dashboard: uid.clone(),
                    title: p["title"].as_str().unwrap_or("").to_string(),
                    exprs,
                });
            }
        }
    }
    out
}

/// (alert name, expr) from the rules file (the subset of YAML it uses: plain
/// or block-literal `expr:` values).
fn rule_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("prometheus/trackd.rules.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut alert = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(name) = trimmed.strip_prefix("- alert:") {
            alert = name.trim().to_string();
        } else if let Some(rest) = trimmed.strip_prefix("expr:") {
            let rest = rest.trim();
            if rest.starts_with('|') || rest.starts_with('>') {
                let mut body = Vec::new();
                while i + 1 < lines.len() {
                    let next = lines[i + 1];
                    let next_indent = next.len() - next.trim_start().len();
                    if next.trim().is_empty() || next_indent > indent {
                        body.push(next.trim());
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push((alert.clone(), body.join("\n")));
            } else {
                out.push((alert.clone(), rest.trim_matches('\'').to_string()));
            }
        }
        i += 1;
    }
    assert!(out.len() >= 6, "alert rules not found: {out:?}");
    out
}

/// Metric names in a PromQL expression: identifiers that are not functions,
/// keywords, label names (inside `{}`), strings, durations or grouping labels.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "offset",
        "bool",
        "inf",
        "nan",
    ];
    let b = expr.as_bytes();
    let mut names = BTreeSet::new();
    let (mut i, mut braces, mut brackets) = (0, 0i32, 0i32);
    let mut after_grouping = false;
    while i < b.len() {
        let c = b[i] as char;
        match c {
            '"' | '\'' => {
                i += 1;
                while i < b.len() && b[i] as char != c {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            '{' => braces += 1,
            '}' => braces -= 1,
            '[' => brackets += 1,
            ']' => brackets -= 1,
            // Numbers and durations (`0.9`, `5m`, `1e3`) are not names.
            c if c.is_ascii_digit() => {
                while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                continue;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < b.len()
                    && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                let word = &expr[start..i];
                let mut j = i;
                while j < b.len() && (b[j] as char).is_whitespace() {
                    j += 1;
                }
                // `f(`, and aggregations written `sum by (l) (...)`.
                let rest = &expr[j..];
                let call = rest.starts_with('(')
                    || ["by", "without"].iter().any(|k| {
                        rest.strip_prefix(k)
                            .and_then(|r| r.trim_start().chars().next())
                            == Some('(')
                    });
                if KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                    // `by (a, b)`: the parenthesised words are labels.
                    after_grouping = matches!(
                        word,
                        "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                    );
                } else if braces == 0 && brackets == 0 && !call && !after_grouping {
                    names.insert(word.to_string());
                }
                continue;
            }
            ')' => after_grouping = false,
            _ => {}
        }
        i += 1;
    }
    names
}

// ---------------------------------------------------------------- tests

#[test]
fn metric_name_scanner() {
    let n = metric_names(
        r#"sum by (carrier, le) (rate(trackd_x_bucket{carrier="$carrier",a=~"b|c"}[$__rate_interval])) / ignoring(window) trackd_y or on() vector(0) unless up offset 5m > 0.5 * max without (le) (trackd_z)"#,
    );
    assert_eq!(
        n.into_iter().collect::<Vec<_>>(),
        ["trackd_x_bucket", "trackd_y", "trackd_z", "up"]
    );
}

#[test]
fn alert_rules_pass_promtool() {
    if !have("promtool") {
        return;
    }
    let dir = root().join("prometheus");
    run("promtool", &["check", "rules", "trackd.rules.yml"], &dir);
    run(
        "promtool",
        &["test", "rules", "trackd.rules.test.yml"],
        &dir,
    );
    run("promtool", &["check", "config", "prometheus.yml"], &dir);
    // Each alert has a unit test that expects it firing and one that expects silence.
    let tests = std::fs::read_to_string(dir.join("trackd.rules.test.yml")).unwrap();
    for (alert, _) in rule_exprs() {
        let cases: Vec<&str> = tests
            .split("- eval_time:")
            .filter(|c| c.contains(&format!("alertname: {alert}\n")))
            .collect();
        assert!(
            cases.iter().any(|c| c.contains("exp_labels")),
            "{alert}: no unit test expects it to fire"
        );
        assert!(
            cases.iter().any(|c| c.contains("exp_alerts: []")),
            "{alert}: no unit test expects it to stay silent"
        );
    }
}

#[test]
fn dashboards_follow_the_import_rules() {
    let ds = json!({ "type": "prometheus", "uid": "${datasource}" });
    let mut uids = BTreeSet::new();
    for (path, d) in dashboards() {
        let name = path.display().to_string();
        let raw = std::fs::read_to_string(&path).unwrap();
        assert!(!raw.contains("${DS_"), "{name}: uses ${{DS_...}} inputs");
        assert!(!raw.contains("__inputs"), "{name}: has __inputs");
        assert!(d["id"].is_null(), "{name}: id must be null");
        assert!(
            uids.insert(d["uid"].as_str().unwrap().to_string()),
            "{name}: duplicate uid"
        );
        assert!(d["schemaVersion"].as_u64().unwrap() >= 36, "{name}");
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{name}: no `datasource` variable of type datasource"
        );
        for v in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(v["datasource"], ds, "{name}: variable {}", v["name"]);
        }
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("?");
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{name}: panel ids");
            let kind = p["type"].as_str().unwrap();
            if kind == "row" || kind == "text" {
                continue;
            }
            assert_eq!(p["datasource"], ds, "{name}/{title}: panel datasource");
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            assert!(!unit.is_empty(), "{name}/{title}: no unit");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}/{title}: no query");
            for t in targets {
                assert_eq!(t["datasource"], ds, "{name}/{title}: target datasource");
                let expr = t["expr"].as_str().unwrap();
                for f in ["rate(", "increase("] {
                    for (at, _) in expr.match_indices(f) {
                        let rest = &expr[at + f.len()..];
                        let mut depth = 1;
                        let end = rest
                            .char_indices()
                            .find(|(_, c)| {
                                match c {
                                    '(' => depth += 1,
                                    ')' => depth -= 1,
                                    _ => {}
                                }
                                depth == 0
                            })
                            .map_or(rest.len(), |(i, _)| i);
                        assert!(
                            rest[..end].ends_with("[$__rate_interval]"),
                            "{name}/{title}: {f} without [$__rate_interval]: {expr}"
                        );
                    }
                }
            }
        }
        if d["uid"] == "trackd-carrier" {
            let carrier = vars.iter().find(|v| v["name"] == "carrier").unwrap();
            assert_eq!(
                carrier["definition"],
                "label_values(trackd_carrier_requests_total, carrier)"
            );
        }
    }
    for want in ["trackd-overview", "trackd-carrier", "trackd-stream"] {
        assert!(uids.contains(want), "missing dashboard {want}");
    }
    // Provisioning: fixed datasource uid, provider pointing at a dashboards folder.
    let dsp = std::fs::read_to_string(root().join("grafana/provisioning/datasources/trackd.yaml"))
        .unwrap();
    assert!(dsp.contains("uid: trackd-prometheus") && dsp.contains("type: prometheus"));
    let dbp = std::fs::read_to_string(root().join("grafana/provisioning/dashboards/trackd.yaml"))
        .unwrap();
    assert!(dbp.contains("type: file") && dbp.contains("path:"));
}

/// Registers parcels of every carrier (plus one unknown number each) and waits
/// until events and carrier latencies are on `/metrics`.
async fn busy_harness(opts: Options) -> Harness {
    let h = Harness::start(opts).await;
    let mut body = Vec::new();
    for p in trackd::carriers::builtin() {
        let slug = p.descriptor().slug;
        for n in h.sim.create_parcels(slug, 8).unwrap() {
            body.push(json!({ "tracking_number": n }));
        }
        body.push(json!({ "tracking_number": p.sim_mint_number(900_000), "carrier": slug }));
    }
    let (s, b) = h.post("/v1/trackers", &json!({ "trackers": body })).await;
    assert_eq!(s, 201, "{b}");
    let url = h.url.clone();
    wait_until(Duration::from_secs(120), "events on /metrics", || {
        let u = url.clone();
        async move {
            let m = reqwest::get(format!("{u}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            m.contains("trackd_events_total{type=\"checkpoint.added\"} ")
                && !m.contains("trackd_events_total{type=\"checkpoint.added\"} 0\n")
                && m.contains("trackd_tracker_staleness_seconds_count")
        }
    })
    .await;
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_in_dashboards_and_rules_is_exported() {
    let h = busy_harness(Options::default()).await;
    let text = h.text("/metrics").await;
    let exported: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    for p in panel_exprs() {
        for e in &p.exprs {
            for n in metric_names(e) {
                used.insert(n, format!("{} / {}", p.dashboard, p.title));
            }
        }
    }
    for (alert, e) in rule_exprs() {
        for n in metric_names(&e) {
            used.insert(n, format!("alert {alert}"));
        }
    }
    let mut missing = Vec::new();
    for (name, place) in &used {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| exported.contains(b))
            .unwrap_or(name);
        let ok = exported.contains(base)
            || PROMETHEUS_SERIES.contains(&base)
            || EXPORTED_WHEN_SEEN.iter().any(|(n, _)| *n == base);
        if !ok {
            missing.push(format!("{name} (used in {place})"));
        }
    }
    assert!(
        missing.is_empty(),
        "not exported by trackd:\n{}",
        missing.join("\n")
    );
    // The allow-listed names are real trackd metrics (declared in the metrics module).
    let source = std::fs::read_to_string(root().join("src/metrics.rs")).unwrap();
    for (n, _) in EXPORTED_WHEN_SEEN {
        assert!(source.contains(&format!("\"{n}\"")), "{n} is not defined");
    }
    h.stop().await;
}

// ---------------------------------------------------------------- Prometheus

struct Prom {
    base: String,
    http: reqwest::Client,
}

impl Prom {
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await;
        match r {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    async fn query(&self, expr: &str) -> Value {
        self.get("/api/v1/query", &[("query", expr)]).await
    }
}

/// A successful answer with at least one non-NaN sample.
fn has_data(answer: &Value) -> bool {
    answer["data"]["result"].as_array().is_some_and(|r| {
        r.iter().any(|s| {
            s["value"][1]
                .as_str()
                .is_some_and(|v| v != "NaN" && v != "+Inf" && v != "-Inf")
        })
    })
}

fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$carrier", DRILL_CARRIER)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_evaluates_every_panel_and_alert() {
    if !have("prometheus") {
        return;
    }
    // `trackd demo` itself, as an SRE would first try it: the daemon and its
    // simulated carriers on embedded defaults. A lower quota than the demo's
    // default makes quota waits and a poll backlog show up; faults on the
    // drill-down carrier (through the simulator's control API) give the error
    // panels something to show.
    let demo = Demo::spawn(&["--per-second", "20"]).await;
    let resp = reqwest::Client::new()
        .put(format!("{}/_sim/faults/{DRILL_CARRIER}", demo.control))
        .json(&json!({ "server_error": 0.05, "rate_limited": 0.05, "malformed": 0.03 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204, "faults injected");
    let consumer = Consumer::connect(&demo.url, Some(0), "").await;

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = demo.url.trim_start_matches("http://").to_string();
    let rules = root().join("prometheus/trackd.rules.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: trackd\n    static_configs:\n      - targets: [\"{target}\"]\n",
        rules.display()
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let mut child = tokio::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    let prom = Prom {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    };
    let show_log =
        || std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();

    wait_until(Duration::from_secs(60), "prometheus scrapes trackd", || {
        let p = &prom;
        async move {
            let t = p.get("/api/v1/targets", &[]).await;
            t["data"]["activeTargets"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t["health"] == "up"))
        }
    })
    .await;
    wait_until(Duration::from_secs(60), "several scrapes stored", || {
        let p = &prom;
        async move {
            let a = p.query("count_over_time(trackd_build_info[1m])").await;
            a["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|n| n >= 8.0)
        }
    })
    .await;

    // The drill-down's carrier variable lists every carrier.
    let carriers = prom
        .get(
            "/api/v1/label/carrier/values",
            &[("match[]", "trackd_carrier_requests_total")],
        )
        .await;
    for slug in ["ups", DRILL_CARRIER] {
        assert!(
            carriers["data"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == slug)),
            "carrier variable lacks {slug}: {carriers}"
        );
    }

    // Every alert expression parses and evaluates; Prometheus loaded every rule healthy.
    for (alert, expr) in rule_exprs() {
        let a = prom.query(&expr).await;
        assert_eq!(a["status"], "success", "alert {alert}: {a}\n{expr}");
    }
    let loaded = prom.get("/api/v1/rules", &[]).await;
    let rules: Vec<&Value> = loaded["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert_eq!(rules.len(), rule_exprs().len(), "{loaded}");
    wait_until(Duration::from_secs(30), "every rule evaluated", || {
        let p = &prom;
        async move {
            let l = p.get("/api/v1/rules", &[]).await;
            l["data"]["groups"].as_array().is_some_and(|gs| {
                gs.iter()
                    .flat_map(|g| g["rules"].as_array().unwrap())
                    .all(|r| r["health"] == "ok")
            })
        }
    })
    .await;

    // Every panel expression parses; every panel returns data unless allow-listed.
    let panels = panel_exprs();
    let allowed = |p: &PanelExprs| {
        EMPTY_IN_SHORT_RUN
            .iter()
            .any(|(d, t, _)| *d == p.dashboard && *t == p.title)
    };
    let mut empty: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        empty.clear();
        for p in &panels {
            let mut data = false;
            for e in &p.exprs {
                let q = substitute(e);
                let a = prom.query(&q).await;
                assert_eq!(
                    a["status"], "success",
                    "{} / {}: {a}\n{q}",
                    p.dashboard, p.title
                );
                data |= has_data(&a);
            }
            if !data && !allowed(p) {
                empty.push(format!("{} / {}: {:?}", p.dashboard, p.title, p.exprs));
            }
        }
        if empty.is_empty() || tokio::time::Instant::now() > deadline {
            break;
        }
        eprintln!("{} panels still empty, e.g. {}", empty.len(), empty[0]);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(
        empty.is_empty(),
        "panels without data (not allow-listed):\n{}\nprometheus log:\n{}",
        empty.join("\n"),
        show_log()
    );
    for p in panels.iter().filter(|p| allowed(p)) {
        let mut data = false;
        for e in &p.exprs {
            data |= has_data(&prom.query(&substitute(e)).await);
        }
        eprintln!(
            "allow-listed panel {} / {}: {}",
            p.dashboard,
            p.title,
            if data { "has data" } else { "empty" }
        );
    }
    assert!(consumer.len() > 0, "the stream consumer received events");

    child.kill().await.unwrap();
    consumer.abort();
    demo.stop().await;
}

/// A running `trackd demo` process and the URLs it printed.
struct Demo {
    child: tokio::process::Child,
    url: String,
    control: String,
}

impl Demo {
    /// Starts `trackd demo` on an OS-chosen port and reads its URLs from stdout.
    async fn spawn(args: &[&str]) -> Demo {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_trackd"))
            .args(["demo", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("trackd demo starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut control) = (None, None);
        while url.is_none() || control.is_none() {
            let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
                .await
                .expect("demo prints its URLs within 2 minutes")
                .unwrap()
                .expect("demo stdout open");
            let found = |marker: &str, suffix: &str| {
                line.contains(marker)
                    .then(|| line.split_whitespace().find(|w| w.starts_with("http://")))
                    .flatten()
                    .and_then(|w| w.strip_suffix(suffix))
                    .map(str::to_string)
            };
            url = url.or_else(|| found("event stream:", "/v1/events/stream"));
            control = control.or_else(|| found("simulator:", "/_sim/stats"));
        }
        // Keep draining stdout (progress lines) so the demo never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Demo {
            child,
            url: url.unwrap(),
            control: control.unwrap(),
        }
    }

    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}
