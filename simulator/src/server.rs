//! The HTTP face of one simulated carrier: any path, classified by the plugin,
//! then auth, quota and faults decided here, and the answer rendered by the plugin.

use crate::Inner;
use crate::faults::{self, Fault};
use crate::quota::Limit;
use crate::state::CarrierState;
use crate::stats::bump;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{HttpRequest, HttpResponse, Method, SimParcel, SimReply, SimRequestError};

/// Largest request body the simulator reads (carrier track calls are small).
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
struct Ctx {
    sim: Arc<Inner>,
    carrier: Arc<CarrierState>,
    shutdown: watch::Receiver<bool>,
}

/// Binds the carrier's listener and spawns its server; returns its base URL.
pub(crate) async fn serve_carrier(
    sim: Arc<Inner>,
    carrier: Arc<CarrierState>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(String, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(carrier.listen)
        .await
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "simulated {}: cannot listen on {}: {e}",
                    carrier.slug, carrier.listen
                ),
            )
        })?;
    let addr = listener.local_addr()?;
    let url = base_url(addr);
    let slug = carrier.slug.clone();
    tracing::info!(carrier = %slug, %url, "simulated carrier listening");
    let ctx = Ctx {
        sim,
        carrier,
        shutdown: shutdown.clone(),
    };
    let app = Router::new().fallback(handle).with_state(ctx);
    let task = tokio::spawn(async move {
        let mut rx = shutdown;
        let stop = async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(carrier = %slug, error = %e, "simulated carrier server failed");
        }
    });
    Ok((url, task))
}

/// `http://IP:PORT`, with an unspecified bind address replaced by loopback.
pub(crate) fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

async fn handle(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = &ctx.carrier;
    bump(&c.counters.requests);
    // Set by a huge-body fault: the total size (`None` = endless) to pad the answer to.
    let mut huge = None;
    let resp = match to_sdk_request(req).await {
        Ok(req) => answer(&ctx, &req, &mut huge).await,
        Err(resp) => resp,
    };
    c.counters.record_status(resp.status);
    match huge {
        None => to_axum(resp),
        Some(total) => to_axum_huge(resp, total, ctx.shutdown.clone()),
    }
}

/// Reads the whole request into the SDK's plain form (or answers 405/413).
async fn to_sdk_request(req: Request) -> Result<HttpRequest, HttpResponse> {
    let (parts, body) = req.into_parts();
    let method = match parts.method {
        axum::http::Method::GET => Method::Get,
        axum::http::Method::POST => Method::Post,
        _ => {
            return Err(HttpResponse::new(405, "text/plain", "method not allowed\n")
                .header("allow", "GET, POST"));
        }
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| HttpResponse::new(413, "text/plain", "request body too large\n"))?;
    Ok(HttpRequest {
        method,
        path_and_query,
        headers,
        body: body.to_vec(),
    })
}

async fn answer(ctx: &Ctx, req: &HttpRequest, huge: &mut Option<Option<u64>>) -> HttpResponse {
    let c = &ctx.carrier;
    let plugin = &c.carrier;
    match plugin.sim_route(req) {
        Err(SimRequestError::NotFound(what)) => {
            tracing::debug!(carrier = %c.slug, path = %req.path(), "no such endpoint");
            HttpResponse::new(404, "text/plain", format!("no such endpoint: {what}\n"))
        }
        Err(SimRequestError::BadRequest(message)) => {
            bump(&c.counters.bad_requests);
            tracing::debug!(carrier = %c.slug, path = %req.path(), %message, "bad request");
            plugin.sim_render_fault(&SimFault::BadRequest { message })
        }
        Ok(SimCall::Token {
            client_id,
            client_secret,
        }) => {
            bump(&c.counters.token_requests);
            if c.account_matches(&client_id, &client_secret) {
                let token = c.issue_token();
                tracing::debug!(carrier = %c.slug, "issued access token");
                plugin.sim_render_token(&token, c.token_ttl.as_secs().max(1))
            } else {
                bump(&c.counters.auth_failures);
                tracing::info!(carrier = %c.slug, "token request with wrong client credentials");
                plugin.sim_render_fault(&SimFault::Unauthorized)
            }
        }
        Ok(SimCall::Track {
            numbers,
            credential,
        }) => track(ctx, numbers, credential, huge).await,
    }
}

/// Marks numbers as being answered for the life of one track call, counting a
/// call that asks for a number another call is still being answered for.
struct Answering<'a> {
    carrier: &'a CarrierState,
    numbers: Vec<String>,
}

impl<'a> Answering<'a> {
    fn start(carrier: &'a CarrierState, numbers: &[String]) -> Answering<'a> {
        let numbers: Vec<String> = numbers
            .iter()
            .map(|n| crate::state::normalize(n).into_owned())
            .collect();
        let mut overlapped = false;
        {
            let now = std::time::Instant::now();
            let mut last = carrier.last_asked.lock();
            for n in &numbers {
                last.insert(n.clone(), now);
            }
        }
        {
            let mut in_flight = carrier.in_flight.lock();
            for n in &numbers {
                let calls = in_flight.entry(n.clone()).or_insert(0);
                overlapped |= *calls > 0;
                *calls += 1;
            }
        }
        if overlapped {
            bump(&carrier.counters.overlapping_requests);
            tracing::warn!(carrier = %carrier.slug, tracking_number = %numbers.first().map_or("", String::as_str), "track call overlaps another call for the same number");
        }
        Answering { carrier, numbers }
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.carrier.in_flight.lock();
        for n in &self.numbers {
            if let Some(calls) = in_flight.get_mut(n) {
                *calls -= 1;
                if *calls == 0 {
                    in_flight.remove(n);
                }
            }
        }
    }
}

fn credential_ok(c: &CarrierState, credential: &SimCredential) -> bool {
    match credential {
        SimCredential::Bearer(token) => c.token_is_live(token),
        SimCredential::Basic { user, password } => c.account_matches(user, password),
        SimCredential::ApiKey(key) => c.api_key_matches(key),
        SimCredential::None => false,
    }
}

fn credential_kind(credential: &SimCredential) -> &'static str {
    match credential {
        SimCredential::Bearer(_) => "bearer",
        SimCredential::Basic { .. } => "basic",
        SimCredential::ApiKey(_) => "api_key",
        SimCredential::None => "none",
    }
}

async fn track(
    ctx: &Ctx,
    numbers: Vec<String>,
    credential: SimCredential,
    huge: &mut Option<Option<u64>>,
) -> HttpResponse {
    let c = &ctx.carrier;
    let plugin = &c.carrier;
    bump(&c.counters.track_requests);
    c.counters
        .numbers_asked
        .fetch_add(numbers.len() as u64, Ordering::Relaxed);
    let first = numbers.first().map_or("", String::as_str);
    let _answering = Answering::start(c, &numbers);

    if !credential_ok(c, &credential) {
        bump(&c.counters.auth_failures);
        tracing::info!(carrier = %c.slug, credential = credential_kind(&credential), "track request refused: bad credentials");
        return plugin.sim_render_fault(&SimFault::Unauthorized);
    }

    let batch = plugin.descriptor().batch_size.max(1);
    if numbers.is_empty() || numbers.len() > batch {
        bump(&c.counters.bad_requests);
        let message = if numbers.is_empty() {
            "no tracking number in request".to_string()
        } else {
            format!(
                "at most {batch} tracking numbers per request, got {}",
                numbers.len()
            )
        };
        tracing::debug!(carrier = %c.slug, %message, "bad track request");
        return plugin.sim_render_fault(&SimFault::BadRequest { message });
    }

    let denied = c.quota.lock().try_acquire(Instant::now());
    if let Err(denied) = denied {
        let counter = match denied.limit {
            Limit::PerSecond => &c.counters.quota_violations_per_second,
            Limit::PerMinute | Limit::PerHour => &c.counters.quota_violations_per_window,
            Limit::PerDay => &c.counters.quota_violations_per_day,
        };
        bump(counter);
        let retry_after_secs = denied.retry_after_secs();
        tracing::warn!(carrier = %c.slug, tracking_number = %first, limit = ?denied.limit, retry_after_secs, "quota exceeded");
        return with_retry_after(
            plugin.sim_render_fault(&SimFault::RateLimited { retry_after_secs }),
            retry_after_secs,
        );
    }

    let cfg = *c.faults.read();
    let (fault, cut_rng) = if cfg.is_quiet() {
        (Fault::None, None)
    } else {
        let mut rng = c.fault_rng.lock();
        let f = faults::draw(&cfg, &mut rng);
        // A private stream for garbling, so the shared RNG lock is released now.
        let cut = (f == Fault::Malformed).then(|| {
            use rand::SeedableRng;
            rand_chacha::ChaCha8Rng::seed_from_u64(rand::RngCore::next_u64(&mut *rng))
        });
        (f, cut)
    };
    if fault != Fault::None {
        bump(&c.counters.faults_injected);
        tracing::info!(carrier = %c.slug, tracking_number = %first, fault = fault.name(), "injecting fault");
    }
    match fault {
        Fault::RateLimited => {
            return with_retry_after(
                plugin.sim_render_fault(&SimFault::RateLimited {
                    retry_after_secs: 1,
                }),
                1,
            );
        }
        Fault::ServerError => return plugin.sim_render_fault(&SimFault::ServerError),
        Fault::Timeout => {
            let mut stop = ctx.shutdown.clone();
            if !*stop.borrow() {
                tokio::select! {
                    _ = tokio::time::sleep(cfg.timeout_hold) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            }
        }
        Fault::HugeBody => *huge = Some(cfg.huge_body_bytes),
        Fault::None | Fault::Malformed => {}
    }

    let now = ctx.sim.clock.now();
    let entries: Vec<_> = numbers.iter().map(|n| c.parcel(n)).collect();
    let views: Vec<_> = entries
        .iter()
        .map(|e| e.as_ref().and_then(|p| p.view(now)))
        .collect();
    // A recycled number's older shipment: listed beside the current one, or
    // alone while the current label does not exist yet.
    let olds: Vec<Option<&SimParcel>> = entries
        .iter()
        .map(|e| e.as_ref().and_then(|p| p.previous.as_deref()))
        .collect();
    let replies: Vec<SimReply<'_>> = numbers
        .iter()
        .zip(views.iter().zip(&olds))
        .map(|(n, (v, old))| match (v, old) {
            (Some(p), _) => SimReply::Known(p),
            (None, Some(old)) => SimReply::Known(old),
            (None, None) => SimReply::Unknown(n),
        })
        .collect();
    for (n, v) in numbers.iter().zip(&views) {
        tracing::trace!(carrier = %c.slug, tracking_number = %n, known = v.is_some(), "tracked");
    }
    let beside: Vec<Option<&SimParcel>> = views
        .iter()
        .zip(&olds)
        .map(|(v, old)| v.as_ref().and(*old))
        .collect();
    let mut resp = if beside.iter().any(Option::is_some) {
        plugin.sim_render_track_recycled(&replies, &beside)
    } else {
        plugin.sim_render_track(&replies)
    };
    if let Some(mut rng) = cut_rng {
        faults::garble(&mut resp.body, &mut rng);
    }
    tracing::debug!(carrier = %c.slug, tracking_number = %first, count = numbers.len(), status = resp.status, "track answered");
    resp
}

/// Makes sure a 429 carries `Retry-After` even if the plugin's render forgot it.
fn with_retry_after(resp: HttpResponse, secs: u64) -> HttpResponse {
    if resp.header_value("retry-after").is_some() {
        resp
    } else {
        resp.header("retry-after", secs.to_string())
    }
}

/// Converts the plugin's response; headers that are not valid HTTP are dropped.
fn to_axum(resp: HttpResponse) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    for (k, v) in resp.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) else {
            tracing::warn!(header = %k, "plugin rendered an invalid header; dropped");
            continue;
        };
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        headers.append(name, value);
    }
    out.into_response()
}

/// `to_axum` with the body replaced by the huge-body fault's: the answer padded
/// to `total` bytes (declared in `Content-Length`), or endless and chunked.
fn to_axum_huge(
    mut resp: HttpResponse,
    total: Option<u64>,
    shutdown: watch::Receiver<bool>,
) -> Response {
    let answer = std::mem::take(&mut resp.body);
    let declared = total.map(|t| faults::huge_body_len(answer.len(), t));
    let mut out = to_axum(resp);
    *out.body_mut() = faults::huge_body(answer, total, shutdown);
    if let Some(len) = declared {
        out.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_uses_loopback_for_unspecified() {
        assert_eq!(
            base_url(SocketAddr::from(([0, 0, 0, 0], 8080))),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            base_url(SocketAddr::from(([127, 0, 0, 2], 1))),
            "http://127.0.0.2:1"
        );
    }

    #[test]
    fn retry_after_is_added_once() {
        let r = with_retry_after(HttpResponse::new(429, "text/plain", ""), 3);
        assert_eq!(r.header_value("retry-after"), Some("3"));
        let r = with_retry_after(r, 9);
        assert_eq!(r.header_value("retry-after"), Some("3"));
    }

    #[test]
    fn invalid_headers_are_dropped() {
        let r = HttpResponse::new(200, "application/json", "{}")
            .header("bad header", "x")
            .header("x-ok", "1")
            .header("content-length", "999");
        let out = to_axum(r);
        assert_eq!(out.status(), StatusCode::OK);
        assert_eq!(
            out.headers().get("x-ok").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        assert!(out.headers().get("content-length").is_none());
    }
}
