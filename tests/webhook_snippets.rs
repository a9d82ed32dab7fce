//! The signature-verification programs in `docs/examples/` (shown in the README's
//! "How to verify a signature") verify what the Standard Webhooks reference
//! libraries sign: they accept the published test vector and a rotation header
//! that carries a wrong and the right signature, and they reject a tampered body,
//! a tampered signature and, with the default tolerance, the vector's old timestamp.
//!
//! Python 3 and Node.js run here and in CI (under `CI` a missing one fails the
//! test). The Go program runs only when `go` is on PATH; Go is not installed on
//! the build machines, so there it is the one snippet not executed (the test says
//! it skipped it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// The Standard Webhooks test vector (standard-webhooks/standard-webhooks,
// libraries/*/tests: `test_sign_function` and its counterparts).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: &str = "1614265330";
const BODY: &str = r#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
/// A well-formed `v1` signature made with another key (as the previous key's is, after a rotation).
const OTHER_SIGNATURE: &str = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> PathBuf {
    root().join("docs/examples")
}

/// Whether `tool` runs; under `CI` it must.
fn have(tool: &str, version_flag: &str, required_in_ci: bool) -> bool {
    let ok = Command::new(tool)
        .arg(version_flag)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !required_in_ci || std::env::var_os("CI").is_none(),
            "{tool} must be installed in CI to run the webhook verification snippets"
        );
        eprintln!("{tool} not found: its webhook verification snippet was skipped");
    }
    ok
}

/// Runs one snippet with the body on stdin; returns its exit code.
fn run(program: &[&str], tolerance: Option<&str>, signature: &str, body: &str) -> i32 {
    let mut cmd = Command::new(program[0]);
    cmd.args(&program[1..])
        .args([SECRET, ID, TIMESTAMP, signature])
        .current_dir(examples())
        .env_remove("WEBHOOK_TOLERANCE_SECONDS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = tolerance {
        cmd.env("WEBHOOK_TOLERANCE_SECONDS", t);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{program:?} starts: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code().expect("exited, not killed by a signal");
    eprintln!(
        "{program:?} {signature:?} -> {code}: {}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    code
}

fn check(program: &[&str]) {
    let no_age_check = Some("0");
    assert_eq!(
        run(program, no_age_check, SIGNATURE, BODY),
        0,
        "{program:?}: the Standard Webhooks test vector must verify"
    );
    assert_eq!(
        run(program, no_age_check, SIGNATURE, r#"{"test": 2432232315}"#),
        1,
        "{program:?}: a tampered body must be rejected"
    );
    assert_eq!(
        run(
            program,
            no_age_check,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
            BODY
        ),
        1,
        "{program:?}: a tampered signature must be rejected"
    );
    assert_eq!(
        run(
            program,
            no_age_check,
            &format!("{OTHER_SIGNATURE} {SIGNATURE}"),
            BODY
        ),
        0,
        "{program:?}: during a rotation, the right signature next to a wrong one must verify"
    );
    assert_eq!(
        run(program, no_age_check, OTHER_SIGNATURE, BODY),
        1,
        "{program:?}: only a wrong signature must be rejected"
    );
    assert_eq!(
        run(
            program,
            no_age_check,
            &format!("v1a,{} v2,{}", &SIGNATURE[3..], &SIGNATURE[3..]),
            BODY
        ),
        1,
        "{program:?}: only `v1,` entries are HMAC signatures"
    );
    assert_eq!(
        run(program, None, SIGNATURE, BODY),
        1,
        "{program:?}: with the default 5-minute tolerance, the vector's 2021 timestamp must be rejected"
    );
}

#[test]
fn python_snippet_verifies_standard_webhooks_signatures() {
    if have("python3", "--version", true) {
        check(&["python3", "verify_webhook.py"]);
    }
}

#[test]
fn node_snippet_verifies_standard_webhooks_signatures() {
    if have("node", "--version", true) {
        check(&["node", "verify_webhook.mjs"]);
    }
}

#[test]
fn go_snippet_verifies_standard_webhooks_signatures() {
    // Go is optional everywhere, CI included: when it is missing, this snippet is not executed.
    if !have("go", "version", false) {
        return;
    }
    // Built once, so the exit codes are the program's own (`go run` turns every failure into 1).
    let dir = std::env::temp_dir().join(format!("trackd-webhook-snippet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("verify_webhook");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg("verify_webhook.go")
        .current_dir(examples())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "go build verify_webhook.go:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    check(&[binary.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
}

/// The README's "How to verify a signature" shows the programs' code as it is: each
/// paragraph of its code blocks (imports aside) is in the program it comes from.
#[test]
fn readme_shows_the_snippets_as_they_are() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("### How to verify a signature\n")
        .nth(1)
        .expect("README has \"How to verify a signature\"");
    let section = section.split("\n## ").next().unwrap();
    for (lang, file) in [
        ("python", "verify_webhook.py"),
        ("js", "verify_webhook.mjs"),
        ("go", "verify_webhook.go"),
    ] {
        let fence = format!("```{lang}\n");
        let start = section
            .find(&fence)
            .unwrap_or_else(|| panic!("no {lang} block in the README section"))
            + fence.len();
        let block = &section[start..];
        let block = &block[..block.find("\n```").expect("closed code block")];
        let source = std::fs::read_to_string(examples().join(file)).unwrap();
        for chunk in block
            .split("\n\n")
            .filter(|c| !c.trim_start().starts_with("import"))
        {
            assert!(
                source.contains(chunk),
                "README's {lang} block differs from docs/examples/{file}:\n{chunk}"
            );
        }
    }
}
