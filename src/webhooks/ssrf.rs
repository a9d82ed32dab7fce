//! Refuses webhook URLs that lead into private networks (SSRF), and pins the connection to the
//! address that was checked.
//!
//! Webhook URLs come from users, so a URL such as `http://169.254.169.254/latest/meta-data` or
//! `https://internal-admin.example/` (resolving to 10.0.0.5) would let them make trackd call
//! services they cannot reach themselves. [`UrlPolicy::check_syntax`] checks the URL when it is
//! saved, [`UrlPolicy::resolve`] checks every address its host resolves to before each delivery,
//! and [`Pinned::client`] builds a client that connects to exactly the checked address (no DNS
//! rebinding between check and connect), follows no redirects and uses no proxy.
//!
//! Self-hosted setups that deliver to their own network list it in `webhooks.allow_networks`
//! ([`UrlPolicy::allow`]); a listed network permits any address in it, loopback included.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Which webhook URLs may be delivered to; built from the `webhooks` configuration section.
#[derive(Debug, Clone, Default)]
pub struct UrlPolicy {
    /// Accept plain `http://` URLs (`webhooks.allow_http`); the default is https only.
    pub allow_http: bool,
    /// Networks delivered to even though they are not public (`webhooks.allow_networks`).
    pub allow: Vec<ipnet::IpNet>,
}

/// Why a webhook URL is refused; shown to the user who configured it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The string does not parse as a URL (the reason, not the URL, which may hold tokens).
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    /// A plain `http://` URL while `webhooks.allow_http` is off.
    #[error("webhook URLs must use https; set webhooks.allow_http to deliver over plain http")]
    HttpsRequired,
    /// A scheme other than http and https.
    #[error("unsupported URL scheme {0:?}: webhook URLs must use https")]
    UnsupportedScheme(String),
    /// A user name or password in the URL, which would be sent to every redirect and logged.
    #[error("webhook URLs must not contain credentials (user:password@host)")]
    CredentialsInUrl,
    /// A URL without a host name or address.
    #[error("the webhook URL has no host")]
    NoHost,
    /// The host name did not resolve, or resolved to no address.
    #[error("could not resolve {host}: {reason}")]
    Unresolvable {
        /// The host name that was looked up.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// The host is, or resolves to, an address in a non-public network.
    #[error(
        "{host} resolves to {addr}, a {class} address; webhooks are not delivered there unless its \
         network is listed in webhooks.allow_networks"
    )]
    Forbidden {
        /// The URL's host.
        host: String,
        /// The first refused address.
        addr: IpAddr,
        /// The address class, as given by [`classify`].
        class: &'static str,
    },
}

impl Refusal {
    /// A stable machine-readable code for API responses and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InvalidUrl(_) => "invalid_url",
            Refusal::HttpsRequired => "https_required",
            Refusal::UnsupportedScheme(_) => "unsupported_scheme",
            Refusal::CredentialsInUrl => "credentials_in_url",
            Refusal::NoHost => "no_host",
            Refusal::Unresolvable { .. } => "unresolvable",
            Refusal::Forbidden { .. } => "forbidden_address",
        }
    }
}

/// A checked URL with the address to connect to, so the delivery cannot be re-resolved elsewhere.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The URL to request.
    pub url: reqwest::Url,
    /// The URL's host as written (name or address literal), the key of the DNS override.
    pub host: String,
    /// The checked address and port the connection goes to.
    pub addr: SocketAddr,
}

impl Pinned {
    /// A client that connects only to `addr`, follows no redirects and bypasses proxies.
    pub fn client(
        &self,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .resolve(&self.host, self.addr)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .user_agent(concat!("trackd-webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32)
            .tcp_nodelay(true)
            .build()
    }
}

impl UrlPolicy {
    /// Checks what can be checked without DNS (when a URL is saved): scheme, credentials, host,
    /// and the address itself when the host is an IP literal.
    pub fn check_syntax(&self, url: &str) -> Result<reqwest::Url, Refusal> {
        let url =
            reqwest::Url::parse(url.trim()).map_err(|e| Refusal::InvalidUrl(e.to_string()))?;
        self.check_url(&url)?;
        Ok(url)
    }

    /// Whether an address may be delivered to: public, or inside an allowed network; the
    /// error is the address class that refuses it.
    pub fn permits(&self, ip: IpAddr) -> Result<(), &'static str> {
        match classify(ip) {
            None => Ok(()),
            Some(class) => {
                let canonical = canonical(ip);
                if self
                    .allow
                    .iter()
                    .any(|net| net.contains(&ip) || net.contains(&canonical))
                {
                    Ok(())
                } else {
                    Err(class)
                }
            }
        }
    }

    /// Resolves the URL's host (before each delivery), checks every address, and pins the
    /// first permitted one; refuses with the first refused address when none is permitted.
    pub async fn resolve(&self, url: &reqwest::Url) -> Result<Pinned, Refusal> {
        self.check_url(url)?;
        let host = url.host_str().ok_or(Refusal::NoHost)?.to_string();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refusal::UnsupportedScheme(url.scheme().to_string()))?;

        let addrs: Vec<SocketAddr> = match literal_ip(&host) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| Refusal::Unresolvable {
                    host: host.clone(),
                    reason: e.to_string(),
                })?
                .collect(),
        };

        let mut first_refused = None;
        for addr in addrs {
            match self.permits(addr.ip()) {
                Ok(()) => {
                    return Ok(Pinned {
                        url: url.clone(),
                        host,
                        addr,
                    });
                }
                Err(class) => {
                    first_refused.get_or_insert((addr.ip(), class));
                }
            }
        }
        match first_refused {
            Some((addr, class)) => Err(Refusal::Forbidden { host, addr, class }),
            None => Err(Refusal::Unresolvable {
                host,
                reason: "the name resolved to no addresses".to_string(),
            }),
        }
    }

    fn check_url(&self, url: &reqwest::Url) -> Result<(), Refusal> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(Refusal::HttpsRequired),
            other => return Err(Refusal::UnsupportedScheme(other.to_string())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::CredentialsInUrl);
        }
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host,
            _ => return Err(Refusal::NoHost),
        };
        if let Some(ip) = literal_ip(host) {
            self.permits(ip).map_err(|class| Refusal::Forbidden {
                host: host.to_string(),
                addr: ip,
                class,
            })?;
        }
        Ok(())
    }
}

/// The class of a non-public address (why it is refused), or `None` for public unicast.
///
/// IPv4-mapped, IPv4-compatible, NAT64 (`64:ff9b::/96`) and 6to4 IPv6 addresses are classified
/// by the IPv4 address they embed.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let in_net = |net: [u8; 4], prefix: u32| in_v4(ip, Ipv4Addr::from(net), prefix);
    // Cloud metadata endpoints first: they sit inside link-local and CGNAT space.
    const METADATA: [Ipv4Addr; 2] = [
        Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, ...
        Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    ];
    if ip.is_unspecified() {
        Some("unspecified")
    } else if METADATA.contains(&ip) {
        Some("metadata")
    } else if in_net([127, 0, 0, 0], 8) {
        Some("loopback")
    } else if in_net([10, 0, 0, 0], 8)
        || in_net([172, 16, 0, 0], 12)
        || in_net([192, 168, 0, 0], 16)
    {
        Some("private")
    } else if in_net([169, 254, 0, 0], 16) {
        Some("link-local")
    } else if in_net([100, 64, 0, 0], 10) {
        Some("cgnat")
    } else if in_net([224, 0, 0, 0], 4) {
        Some("multicast")
    } else if ip == Ipv4Addr::BROADCAST {
        Some("broadcast")
    } else if in_net([192, 0, 2, 0], 24)
        || in_net([198, 51, 100, 0], 24)
        || in_net([203, 0, 113, 0], 24)
    {
        Some("documentation")
    } else if in_net([0, 0, 0, 0], 8)
        || in_net([240, 0, 0, 0], 4)
        || in_net([192, 0, 0, 0], 24)
        || in_net([198, 18, 0, 0], 15)
    {
        Some("reserved")
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let in_net = |net: Ipv6Addr, prefix: u32| in_v6(ip, net, prefix);
    let bits = ip.to_bits();
    let embedded_low = Ipv4Addr::from_bits((bits & 0xffff_ffff) as u32);
    const METADATA: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254); // AWS

    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        classify_v4(v4)
    } else if in_net(Ipv6Addr::UNSPECIFIED, 96) {
        // IPv4-compatible (::a.b.c.d, deprecated): what it embeds is where it leads.
        classify_v4(embedded_low)
    } else if in_net(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        // NAT64 well-known prefix: translated to the embedded IPv4 address.
        classify_v4(embedded_low)
    } else if in_net(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48) {
        // Local-use NAT64 (RFC 8215): translates into the operator's own networks.
        Some("reserved")
    } else if ip == METADATA {
        Some("metadata")
    } else if in_net(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8) {
        Some("multicast")
    } else if in_net(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10) {
        Some("link-local")
    } else if in_net(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7) {
        Some("ula")
    } else if in_net(Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0), 32)
        || in_net(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20)
    {
        Some("documentation")
    } else if in_net(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        // 6to4: relayed to the IPv4 address in bits 16..48.
        classify_v4(Ipv4Addr::from_bits((bits >> 80) as u32))
    } else if in_net(Ipv6Addr::new(0x2001, 0x0002, 0, 0, 0, 0, 0, 0), 48)
        || in_net(Ipv6Addr::new(0x2001, 0x0010, 0, 0, 0, 0, 0, 0), 28)
        || in_net(Ipv6Addr::new(0x2001, 0x0020, 0, 0, 0, 0, 0, 0), 28)
        || !in_net(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
    {
        // Benchmarking, ORCHID, and everything outside global unicast (2000::/3),
        // such as the discard prefix 100::/64 and deprecated site-local fec0::/10.
        Some("reserved")
    } else {
        None
    }
}

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    ip.to_bits() & mask == net.to_bits() & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    ip.to_bits() & mask == net.to_bits() & mask
}

/// IPv4-mapped IPv6 addresses as the IPv4 address, so `allow` entries match either spelling.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The address of a host that is an IP literal (`host_str` brackets IPv6), or `None` for a name.
fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    fn allow(nets: &[&str]) -> UrlPolicy {
        UrlPolicy {
            allow_http: true,
            allow: nets.iter().map(|n| n.parse().unwrap()).collect(),
        }
    }

    fn http_ok() -> UrlPolicy {
        allow(&[])
    }

    #[test]
    fn classification_table() {
        let table: &[(&str, Option<&str>)] = &[
            // public unicast
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("192.0.1.255", None),
            ("198.20.0.0", None),
            ("223.255.255.255", None),
            ("2606:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
            // unspecified
            ("0.0.0.0", Some("unspecified")),
            ("::", Some("unspecified")),
            // loopback
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("::1", Some("loopback")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::127.0.0.1", Some("loopback")),
            // private
            ("10.0.0.1", Some("private")),
            ("10.255.255.255", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("::ffff:10.1.2.3", Some("private")),
            ("::ffff:192.168.0.1", Some("private")),
            ("64:ff9b::a00:1", Some("private")),
            ("2002:c0a8:101::1", Some("private")),
            // link-local
            ("169.254.0.1", Some("link-local")),
            ("169.254.169.253", Some("link-local")),
            ("fe80::1", Some("link-local")),
            ("febf:ffff::1", Some("link-local")),
            // cgnat
            ("100.64.0.1", Some("cgnat")),
            ("100.127.255.255", Some("cgnat")),
            // ula
            ("fc00::1", Some("ula")),
            ("fd12:3456::1", Some("ula")),
            // metadata, ahead of link-local / cgnat / ula
            ("169.254.169.254", Some("metadata")),
            ("100.100.100.200", Some("metadata")),
            ("fd00:ec2::254", Some("metadata")),
            ("::ffff:169.254.169.254", Some("metadata")),
            ("64:ff9b::a9fe:a9fe", Some("metadata")),
            // multicast
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("ff02::1", Some("multicast")),
            // broadcast
            ("255.255.255.255", Some("broadcast")),
            // documentation
            ("192.0.2.1", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.200", Some("documentation")),
            ("2001:db8::1", Some("documentation")),
            ("3fff::1", Some("documentation")),
            // reserved
            ("0.1.2.3", Some("reserved")),
            ("240.0.0.1", Some("reserved")),
            ("255.255.255.254", Some("reserved")),
            ("192.0.0.8", Some("reserved")),
            ("198.18.0.1", Some("reserved")),
            ("198.19.255.255", Some("reserved")),
            ("64:ff9b:1::a00:1", Some("reserved")),
            ("100::1", Some("reserved")),
            ("fec0::1", Some("reserved")),
            ("2001:2::1", Some("reserved")),
            ("4000::1", Some("reserved")),
        ];
        for (addr, expected) in table {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(classify(ip), *expected, "{addr}");
        }
    }

    #[test]
    fn permits_follows_the_allow_list() {
        let strict = UrlPolicy::default();
        assert!(!strict.allow_http);
        assert!(strict.allow.is_empty());
        assert_eq!(strict.permits("8.8.8.8".parse().unwrap()), Ok(()));
        assert_eq!(
            strict.permits("127.0.0.1".parse().unwrap()),
            Err("loopback")
        );
        let lab = allow(&["127.0.0.0/8", "10.1.0.0/16", "fd00::/8"]);
        assert_eq!(lab.permits("127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(lab.permits("::ffff:127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(lab.permits("10.1.2.3".parse().unwrap()), Ok(()));
        assert_eq!(lab.permits("10.2.0.1".parse().unwrap()), Err("private"));
        assert_eq!(lab.permits("fd12::1".parse().unwrap()), Ok(()));
        assert_eq!(lab.permits("::1".parse().unwrap()), Err("loopback"));
        assert_eq!(
            lab.permits("169.254.169.254".parse().unwrap()),
            Err("metadata")
        );
    }

    #[test]
    fn http_needs_allow_http() {
        let strict = UrlPolicy::default();
        let err = strict.check_syntax("http://example.com/hook").unwrap_err();
        assert!(matches!(err, Refusal::HttpsRequired));
        assert_eq!(err.code(), "https_required");
        assert!(err.to_string().contains("set webhooks.allow_http"));
        assert!(strict.check_syntax("https://example.com/hook").is_ok());
        let url = http_ok().check_syntax("http://example.com/hook").unwrap();
        assert_eq!(url.as_str(), "http://example.com/hook");
    }

    #[test]
    fn syntax_refusals_have_codes() {
        let policy = http_ok();
        let cases = [
            ("not a url", "invalid_url"),
            ("https://", "invalid_url"),
            ("ftp://example.com/", "unsupported_scheme"),
            ("file:///etc/passwd", "unsupported_scheme"),
            ("https://user:pw@example.com/", "credentials_in_url"),
            ("https://user@example.com/", "credentials_in_url"),
            ("https://:pw@example.com/", "credentials_in_url"),
        ];
        for (url, code) in cases {
            let err = policy.check_syntax(url).unwrap_err();
            assert_eq!(err.code(), code, "{url}: {err}");
        }
        let err = UrlPolicy::default()
            .check_syntax("ftp://example.com/")
            .unwrap_err();
        assert!(err.to_string().contains("\"ftp\""), "{err}");
        let err = policy
            .check_syntax("mailto:someone@example.com")
            .unwrap_err();
        assert_eq!(err.code(), "unsupported_scheme");
    }

    #[test]
    fn refusal_codes_and_messages() {
        let forbidden = Refusal::Forbidden {
            host: "internal.example".into(),
            addr: "10.0.0.5".parse().unwrap(),
            class: "private",
        };
        assert_eq!(forbidden.code(), "forbidden_address");
        let message = forbidden.to_string();
        assert!(message.contains("private"), "{message}");
        assert!(message.contains("10.0.0.5"), "{message}");
        assert!(message.contains("webhooks.allow_networks"), "{message}");
        let refusals = [
            Refusal::InvalidUrl("x".into()),
            Refusal::HttpsRequired,
            Refusal::UnsupportedScheme("ftp".into()),
            Refusal::CredentialsInUrl,
            Refusal::NoHost,
            Refusal::Unresolvable {
                host: "h".into(),
                reason: "r".into(),
            },
            forbidden,
        ];
        let codes: Vec<&str> = refusals.iter().map(Refusal::code).collect();
        assert_eq!(
            codes,
            [
                "invalid_url",
                "https_required",
                "unsupported_scheme",
                "credentials_in_url",
                "no_host",
                "unresolvable",
                "forbidden_address"
            ]
        );
    }

    #[test]
    fn invalid_url_message_does_not_echo_the_url() {
        let err = UrlPolicy::default()
            .check_syntax("https://exa mple.com/?token=s3cret")
            .unwrap_err();
        assert_eq!(err.code(), "invalid_url");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn ip_literals_are_checked_at_once() {
        let policy = http_ok();
        let cases = [
            ("http://127.0.0.1:1/", "loopback"),
            ("http://[::1]/", "loopback"),
            ("http://[::ffff:127.0.0.1]/", "loopback"),
            ("http://2130706433/", "loopback"), // decimal spelling of 127.0.0.1
            ("http://0x7f.1/", "loopback"),
            ("http://0/", "unspecified"),
            ("https://10.0.0.1/", "private"),
            ("https://[fd00:ec2::254]/", "metadata"),
            ("https://[fe80::1]/", "link-local"),
            ("http://169.254.169.254/latest/meta-data", "metadata"),
        ];
        for (url, class) in cases {
            match policy.check_syntax(url) {
                Err(Refusal::Forbidden { class: got, .. }) => assert_eq!(got, class, "{url}"),
                other => panic!("{url}: expected Forbidden({class}), got {other:?}"),
            }
        }
        assert!(policy.check_syntax("https://8.8.8.8/").is_ok());
        assert!(policy.check_syntax("https://[2606:4700::1111]/").is_ok());
    }

    #[tokio::test]
    async fn loopback_literal_needs_the_allow_list() {
        let url: reqwest::Url = "http://127.0.0.1:1/".parse().unwrap();
        match http_ok().resolve(&url).await {
            Err(Refusal::Forbidden { host, addr, class }) => {
                assert_eq!(host, "127.0.0.1");
                assert_eq!(addr, "127.0.0.1".parse::<IpAddr>().unwrap());
                assert_eq!(class, "loopback");
            }
            other => panic!("expected Forbidden, got {other:?}"),
        }
        let lab = allow(&["127.0.0.0/8"]);
        assert!(lab.check_syntax(url.as_str()).is_ok());
        let pinned = lab.resolve(&url).await.unwrap();
        assert_eq!(pinned.addr, "127.0.0.1:1".parse().unwrap());
        assert_eq!(pinned.host, "127.0.0.1");
        assert_eq!(pinned.url, url);
    }

    #[tokio::test]
    async fn resolve_rechecks_the_syntax() {
        let url: reqwest::Url = "http://example.com/".parse().unwrap();
        let err = UrlPolicy::default().resolve(&url).await.unwrap_err();
        assert_eq!(err.code(), "https_required");
        let url: reqwest::Url = "https://u:p@example.com/".parse().unwrap();
        let err = http_ok().resolve(&url).await.unwrap_err();
        assert_eq!(err.code(), "credentials_in_url");
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let url: reqwest::Url = "http://localhost:8080/hook".parse().unwrap();
        // The name passes the syntax check: only DNS tells where it leads.
        assert!(http_ok().check_syntax(url.as_str()).is_ok());
        match http_ok().resolve(&url).await {
            Err(Refusal::Forbidden { host, addr, class }) => {
                assert_eq!(host, "localhost");
                assert!(addr.is_loopback(), "{addr}");
                assert_eq!(class, "loopback");
            }
            other => panic!("expected Forbidden, got {other:?}"),
        }
        // Allowing 127.0.0.0/8 pins the IPv4 loopback address even if ::1 resolves first.
        let pinned = allow(&["127.0.0.0/8"]).resolve(&url).await.unwrap();
        assert_eq!(pinned.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(pinned.host, "localhost");
    }

    #[tokio::test]
    async fn metadata_is_refused_as_metadata() {
        let url: reqwest::Url = "http://169.254.169.254/latest/meta-data".parse().unwrap();
        for policy in [http_ok(), allow(&["10.0.0.0/8", "127.0.0.0/8"])] {
            match policy.resolve(&url).await {
                Err(Refusal::Forbidden { class, .. }) => assert_eq!(class, "metadata"),
                other => panic!("expected Forbidden(metadata), got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn mapped_ipv6_loopback_is_refused() {
        let url: reqwest::Url = "http://[::ffff:127.0.0.1]/".parse().unwrap();
        match http_ok().resolve(&url).await {
            Err(Refusal::Forbidden { class, .. }) => assert_eq!(class, "loopback"),
            other => panic!("expected Forbidden(loopback), got {other:?}"),
        }
        // An IPv4 allow entry covers the mapped spelling too.
        assert!(allow(&["127.0.0.0/8"]).resolve(&url).await.is_ok());
    }

    #[tokio::test]
    async fn unresolvable_names_are_refused() {
        let url: reqwest::Url = "https://receiver.invalid/hook".parse().unwrap();
        let err = http_ok().resolve(&url).await.unwrap_err();
        assert_eq!(err.code(), "unresolvable", "{err}");
        assert!(err.to_string().contains("receiver.invalid"), "{err}");
    }

    /// Serves one connection on loopback with `response`, and hands back the request head.
    async fn one_shot_server(
        response: &'static str,
    ) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "client closed before sending a request");
                head.extend_from_slice(&buf[..n]);
            }
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            String::from_utf8(head).unwrap()
        });
        (addr, task)
    }

    const TIMEOUTS: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(10));

    #[tokio::test]
    async fn pinned_client_does_not_follow_redirects() {
        let (addr, server) = one_shot_server(
            "HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
        )
        .await;
        let url: reqwest::Url = format!("http://127.0.0.1:{}/hook", addr.port())
            .parse()
            .unwrap();
        let pinned = allow(&["127.0.0.0/8"]).resolve(&url).await.unwrap();
        assert_eq!(pinned.addr, addr);
        let client = pinned.client(TIMEOUTS.0, TIMEOUTS.1).unwrap();
        let response = client.get(pinned.url.clone()).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::FOUND);
        assert_eq!(response.headers()["location"], "http://10.0.0.1/");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /hook HTTP/1.1\r\n"), "{head}");
        let user_agent = concat!("user-agent: trackd-webhooks/", env!("CARGO_PKG_VERSION"));
        assert!(head.to_ascii_lowercase().contains(user_agent), "{head}");
    }

    #[tokio::test]
    async fn pinned_client_connects_to_the_pinned_address() {
        let (addr, server) =
            one_shot_server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        // The name does not resolve anywhere; only the pin can bring the request to `addr`.
        let pinned = Pinned {
            url: format!("http://receiver.invalid:{}/hook", addr.port())
                .parse()
                .unwrap(),
            host: "receiver.invalid".to_string(),
            addr,
        };
        let client = pinned.client(TIMEOUTS.0, TIMEOUTS.1).unwrap();
        let response = client.get(pinned.url.clone()).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "ok");
        let head = server.await.unwrap().to_ascii_lowercase();
        assert!(
            head.contains(&format!("host: receiver.invalid:{}", addr.port())),
            "{head}"
        );
    }
}
