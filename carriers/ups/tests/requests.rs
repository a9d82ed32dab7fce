//! Request building, token handling, error mapping and simulator routing.

use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault, SimRequestError};
use trackd_carrier_sdk::{
    AuthKind, Carrier, CarrierError, Credentials, HttpRequest, HttpResponse, Method, RetryAfter,
};
use trackd_carrier_ups::{Ups, trans_id};

fn creds() -> Credentials {
    Credentials::new("client-id", "s3cret:with:colons")
}

#[test]
fn descriptor() {
    let d = Ups::new().descriptor().clone();
    assert_eq!(d.slug, "ups");
    assert_eq!(d.name, "UPS");
    assert_eq!(d.auth, AuthKind::OAuth2ClientCredentials);
    assert_eq!(d.batch_size, 1);
    assert_eq!(d.default_base_url, "https://onlinetools.ups.com");
    assert_eq!(d.format, "json");
    assert!(d.quota.per_second > 0 && d.quota.per_day.is_some());
}

#[test]
fn token_request_is_basic_client_credentials() {
    let req = Ups.token_request(&creds()).unwrap().unwrap();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path_and_query, "/security/v1/oauth/token");
    assert_eq!(req.body, b"grant_type=client_credentials");
    assert_eq!(
        req.header_value("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // base64("client-id:s3cret:with:colons")
    assert_eq!(
        req.header_value("authorization"),
        Some("Basic Y2xpZW50LWlkOnMzY3JldDp3aXRoOmNvbG9ucw==")
    );
    assert_eq!(req.header_value("x-merchant-id"), None);

    let mut with_merchant = creds();
    with_merchant
        .extra
        .insert("merchant_id".into(), "12345E".into());
    let req = Ups.token_request(&with_merchant).unwrap().unwrap();
    assert_eq!(req.header_value("x-merchant-id"), Some("12345E"));

    // The simulator reads the credentials back, secret colons included.
    assert_eq!(
        Ups.sim_route(&Ups.token_request(&creds()).unwrap().unwrap()),
        Ok(SimCall::Token {
            client_id: "client-id".into(),
            client_secret: "s3cret:with:colons".into()
        })
    );
}

#[test]
fn token_request_needs_credentials() {
    let missing = Credentials::default();
    assert!(matches!(
        Ups.token_request(&missing),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn token_answers() {
    let ok = |body: &str| {
        Ups.parse_token(&HttpResponse::new(
            200,
            "application/json",
            body.to_string(),
        ))
    };
    // UPS's documented answer: expires_in is a string of seconds.
    let t = ok(r#"{"token_type":"Bearer","issued_at":"1700000000000","client_id":"x","access_token":"eyJ.abc","scope":"","expires_in":"14399","refresh_count":"0","status":"approved"}"#).unwrap();
    assert_eq!((t.token.as_str(), t.expires_in_secs), ("eyJ.abc", 14_399));
    assert_eq!(
        ok(r#"{"access_token":"a","expires_in":3600}"#)
            .unwrap()
            .expires_in_secs,
        3600
    );
    // The SDK's default simulator token answer parses too.
    let sim = Ups.sim_render_token("sim-token", 14_399);
    let t = Ups.parse_token(&sim).unwrap();
    assert_eq!((t.token.as_str(), t.expires_in_secs), ("sim-token", 14_399));
    for bad in [
        r#"{"expires_in":"10"}"#,
        r#"{"access_token":"a"}"#,
        r#"{"access_token":"a","expires_in":"soon"}"#,
        "<html>",
        "null",
    ] {
        assert!(
            matches!(ok(bad), Err(CarrierError::Malformed { .. })),
            "{bad}"
        );
    }
}

#[test]
fn token_failures() {
    let err = |status: u16, body: &str| {
        Ups.parse_token(&HttpResponse::new(
            status,
            "application/json",
            body.to_string(),
        ))
        .unwrap_err()
    };
    let body = r#"{"response":{"errors":[{"code":"10401","message":"ClientId is Invalid"}]}}"#;
    match err(401, body) {
        CarrierError::Auth { message } => {
            assert_eq!(message, "HTTP 401: 10401: ClientId is Invalid")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(err(400, body), CarrierError::Auth { .. }));
    assert!(matches!(
        err(403, "Blocked Merchant"),
        CarrierError::Auth { .. }
    ));
    assert!(matches!(err(429, "{}"), CarrierError::RateLimited { .. }));
    assert!(matches!(
        err(503, "{}"),
        CarrierError::Unavailable { status: 503, .. }
    ));
}

#[test]
fn track_request_shape() {
    let req = Ups
        .track_request(&["1Z5R89390357567127"], &creds(), Some("tok"))
        .unwrap();
    assert_eq!(req.method, Method::Get);
    assert_eq!(
        req.path_and_query,
        "/api/track/v1/details/1Z5R89390357567127?locale=en_US&returnSignature=false&returnMilestones=false&returnPOD=false"
    );
    assert_eq!(req.header_value("authorization"), Some("Bearer tok"));
    assert_eq!(req.header_value("transactionSrc"), Some("trackd"));
    let tid = req.header_value("transId").unwrap();
    assert_eq!(tid, trans_id("1Z5R89390357567127"));
    assert!(tid.len() <= 32 && tid.starts_with("trackd"));
    // Deterministic: same number, same id; other number, other id.
    let again = Ups
        .track_request(&["1Z5R89390357567127"], &creds(), Some("tok"))
        .unwrap();
    assert_eq!(again, req);
    assert_ne!(trans_id("1Z879E930346834440"), tid);
    assert!(req.body.is_empty());
}

#[test]
fn track_request_encodes_the_number() {
    let req = Ups
        .track_request(&["AB/12 3?&"], &creds(), Some("tok"))
        .unwrap();
    assert!(
        req.path_and_query
            .starts_with("/api/track/v1/details/AB%2F12%203%3F%26?")
    );
    match Ups.sim_route(&req) {
        Ok(SimCall::Track {
            numbers,
            credential,
        }) => {
            assert_eq!(numbers, ["AB/12 3?&"]);
            assert_eq!(credential, SimCredential::Bearer("tok".into()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn track_request_errors() {
    let c = creds();
    assert!(matches!(
        Ups.track_request(&["1Z5R89390357567127", "1Z879E930346834440"], &c, Some("t")),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Ups.track_request(&[], &c, Some("t")),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Ups.track_request(&["1Z5R89390357567127"], &c, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Ups.track_request(&[" "], &c, Some("t")),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn sim_routing() {
    let track = Ups
        .track_request(&["1Z5R89390357567127"], &creds(), Some("tok"))
        .unwrap();
    // No credential presented: routed, and the simulator decides.
    let mut anonymous = track.clone();
    anonymous
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
    assert!(matches!(
        Ups.sim_route(&anonymous),
        Ok(SimCall::Track {
            credential: SimCredential::None,
            ..
        })
    ));
    // Required UPS headers.
    let mut no_trans = track.clone();
    no_trans.headers.retain(|(k, _)| k != "transId");
    assert!(matches!(
        Ups.sim_route(&no_trans),
        Err(SimRequestError::BadRequest(_))
    ));
    // Wrong method and unknown paths.
    let mut post = track.clone();
    post.method = Method::Post;
    assert!(matches!(
        Ups.sim_route(&post),
        Err(SimRequestError::BadRequest(_))
    ));
    for path in [
        "/api/track/v1/details/",
        "/api/track/v1/details/a/b",
        "/track/v1/details/1Z",
        "/",
        "/api/track/v2/details/1Z",
    ] {
        let req = HttpRequest::get(path)
            .header("transId", "x")
            .header("transactionSrc", "y");
        assert!(
            matches!(Ups.sim_route(&req), Err(SimRequestError::NotFound(_))),
            "{path}"
        );
    }
    // Token calls need Basic credentials and the client_credentials grant.
    let token = Ups.token_request(&creds()).unwrap().unwrap();
    let mut no_basic = token.clone();
    no_basic
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
    assert!(matches!(
        Ups.sim_route(&no_basic),
        Err(SimRequestError::BadRequest(_))
    ));
    let mut wrong_grant = token.clone();
    wrong_grant.body = b"grant_type=password".to_vec();
    assert!(matches!(
        Ups.sim_route(&wrong_grant),
        Err(SimRequestError::BadRequest(_))
    ));
    let mut get_token = token;
    get_token.method = Method::Get;
    assert!(matches!(
        Ups.sim_route(&get_token),
        Err(SimRequestError::BadRequest(_))
    ));
}

fn parse(status: u16, body: &str) -> Result<Vec<trackd_carrier_sdk::NumberResult>, CarrierError> {
    Ups.parse_track(
        &["1Z5R89390357567127"],
        &HttpResponse::new(status, "application/json", body.to_string()),
    )
}

#[test]
fn faults_render_and_parse_back() {
    let n = ["1Z5R89390357567127"];
    let r = Ups.sim_render_fault(&SimFault::Unauthorized);
    assert_eq!(r.status, 401);
    match Ups.parse_track(&n, &r) {
        Err(CarrierError::Auth { message }) => {
            assert_eq!(
                message,
                "HTTP 401: 250002: Invalid Authentication Information."
            )
        }
        other => panic!("{other:?}"),
    }

    let r = Ups.sim_render_fault(&SimFault::RateLimited {
        retry_after_secs: 7,
    });
    assert_eq!((r.status, r.header_value("retry-after")), (429, Some("7")));
    assert_eq!(
        Ups.parse_track(&n, &r),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(7))
        })
    );

    let r = Ups.sim_render_fault(&SimFault::ServerError);
    assert!(r.status >= 500);
    assert!(matches!(
        Ups.parse_track(&n, &r),
        Err(CarrierError::Unavailable { .. })
    ));

    let r = Ups.sim_render_fault(&SimFault::BadRequest {
        message: "bad \"thing\"".into(),
    });
    assert_eq!(r.status, 400);
    match Ups.parse_track(&n, &r) {
        Err(CarrierError::Rejected { message, .. }) => assert_eq!(message, "bad \"thing\""),
        other => panic!("{other:?}"),
    }
}

#[test]
fn http_error_mapping() {
    // 404 with a UPS error body: that number is unknown.
    let rs = parse(
        404,
        r#"{"response":{"errors":[{"code":"TW0001","message":"Tracking Information Not Found"}]}}"#,
    )
    .unwrap();
    assert!(
        matches!(&rs[0].outcome, Err(CarrierError::NotFound { code: Some(c), .. }) if c == "TW0001")
    );
    // 404 with another UPS code is still "not found" for the number.
    let rs = parse(
        404,
        r#"{"response":{"errors":[{"code":"TV9999","message":"No data"}]}}"#,
    )
    .unwrap();
    assert!(matches!(&rs[0].outcome, Err(CarrierError::NotFound { .. })));
    // 404 without a UPS body (wrong base URL, gateway page): a rejected request.
    assert!(matches!(
        parse(404, "<html>nope</html>"),
        Err(CarrierError::Rejected { .. })
    ));
    // Other 4xx codes reject the whole request.
    assert!(matches!(
        parse(400, r#"{"response":{"errors":[{"code":"VSS002","message":"Missing transId"}]}}"#),
        Err(CarrierError::Rejected { code, .. }) if code == "VSS002"
    ));
    // Token expired / missing on a 400 is still authentication.
    assert!(matches!(
        parse(
            400,
            r#"{"response":{"errors":[{"code":"UJ0001","message":"Invalid token or token is not present"}]}}"#
        ),
        Err(CarrierError::Auth { .. })
    ));
    // 403 blocked merchant.
    assert!(matches!(parse(403, "{}"), Err(CarrierError::Auth { .. })));
    // 503 maintenance.
    assert!(matches!(
        parse(503, ""),
        Err(CarrierError::Unavailable { status: 503, .. })
    ));
    // An error envelope on a 200.
    assert!(matches!(
        parse(
            200,
            r#"{"response":{"errors":[{"code":"10007","message":"Requested Content Type is not supported"}]}}"#
        ),
        Err(CarrierError::Rejected { .. })
    ));
}

#[test]
fn wrong_shapes_are_malformed() {
    for body in [
        "",
        "{}",
        "[]",
        "null",
        r#"{"trackResponse":{"shipment":[]}}"#,
        r#"{"trackResponse":{"shipment":[{}]}}"#,
        r#"{"trackResponse":{"shipment":[{"package":[{"activity":[{"date":20240101,"status":"D"}]}]}]}}"#,
        r#"{"trackResponse":{"shipment":[{"package":"x"}]}}"#,
    ] {
        match parse(200, body) {
            Err(CarrierError::Malformed { message }) => assert!(!message.is_empty()),
            Ok(rs) => assert!(
                matches!(&rs[0].outcome, Err(CarrierError::Malformed { .. })),
                "{body}: {rs:?}"
            ),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn shipments_are_matched_to_numbers() {
    // The inquiry number decides which shipment belongs to which number.
    let body = r#"{"trackResponse":{"shipment":[
        {"inquiryNumber":"1Z879E930346834440","package":[{"activity":[{"status":{"type":"D","code":"FS"},"date":"20240101","time":"120000"}]}]},
        {"inquiryNumber":"1Z5R89390357567127","warnings":[{"code":"TW0001","message":"Tracking Information Not Found"}]}
    ]}}"#;
    let resp = HttpResponse::new(200, "application/json", body);
    let rs = Ups
        .parse_track(&["1Z5R89390357567127", "1Z879E930346834440"], &resp)
        .unwrap();
    assert!(matches!(rs[0].outcome, Err(CarrierError::NotFound { .. })));
    assert_eq!(
        rs[1].outcome.as_ref().unwrap().status,
        trackd_carrier_sdk::Status::Delivered
    );
}
