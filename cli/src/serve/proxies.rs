//! `--trusted-proxy`: the peers whose `X-Forwarded-For`, `X-Forwarded-Proto` and
//! `X-Forwarded-Host` are believed, so that behind a TLS-terminating proxy a request is
//! handled as its client sent it: the client's address pays the address budgets, `https`
//! lets a `secret` through, and a signature is checked against the public URL.
//!
//! Anyone else's forwarding headers are ignored: they are the caller's own words. Each
//! proxy appends to `X-Forwarded-For`, so the list is read from the right and the first
//! address that is not a trusted proxy is the client; what a client wrote further left is
//! never reached. `X-Forwarded-Proto` and `-Host` are taken from their last value, the one
//! the nearest (trusted) proxy set: the proxy must set them (overwrite, not pass a client's
//! through), as docs/rest.md says.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, Uri};
use ipnet::IpNet;

use super::Conn;

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Addresses and CIDR blocks of the proxies in front of this server.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From `--trusted-proxy` values: IP addresses (`10.0.0.7`, `::1`) or CIDR blocks
    /// (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| unmapped(net.trunc()))
                    .map_err(|_| {
                        format!(
                            "--trusted-proxy {entry:?} is neither an IP address nor a CIDR block"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The connection as the client made it, and `request`'s host as the client named it,
    /// when `conn`'s peer is a trusted proxy; otherwise `conn` unchanged.
    pub fn client_view<B>(&self, conn: Conn, request: &mut Request<B>) -> Conn {
        if !self.trusts(conn.peer.ip()) {
            return conn;
        }
        let headers = request.headers();
        let client = self.client_address(conn.peer.ip(), headers);
        let tls = match last_value(headers, &FORWARDED_PROTO) {
            Some(proto) => proto.eq_ignore_ascii_case(b"https"),
            None => conn.tls,
        };
        let host =
            last_value(headers, &FORWARDED_HOST).and_then(|h| HeaderValue::from_bytes(h).ok());
        if let Some(host) = host {
            request.headers_mut().insert(header::HOST, host);
            // HTTP/2 names the host in the URI, which the signature check reads first.
            if request.uri().authority().is_some() {
                if let Some(path) = request.uri().path_and_query().cloned() {
                    *request.uri_mut() = Uri::from(path);
                }
            }
        }
        Conn {
            peer: SocketAddr::new(client, 0),
            tls,
            forwarded: true,
        }
    }

    /// The nearest address in `X-Forwarded-For` that is not a trusted proxy; the leftmost
    /// when all are (or the peer when there is none). An entry that is not an address
    /// (`unknown`, `unix:`) stops the walk there: nothing left of it can be told apart from
    /// the caller's words.
    fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // Split as bytes: a client's own non-ASCII entry must not hide the proxy's.
        let entries: Vec<&[u8]> = headers
            .get_all(&FORWARDED_FOR)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .collect();
        let mut client = peer.to_canonical();
        for entry in entries.iter().rev() {
            let Some(ip) = parse_address(entry) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// `203.0.113.7`, `2001:db8::1`, and the forms with a port some proxies write
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_address(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The last comma-separated value of the last `name` header.
fn last_value<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h [u8]> {
    let value = headers.get_all(name).iter().next_back()?.as_bytes();
    let last = value.rsplit(|b| *b == b',').next()?.trim_ascii();
    (!last.is_empty()).then_some(last)
}

/// An IPv4-mapped block (`::ffff:10.0.0.0/104`) as the IPv4 block it is, since peers are
/// compared in their canonical form.
fn unmapped(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .addr()
            .to_ipv4_mapped()
            .and_then(|v4| ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, IpNet::V4),
        _ => net,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        TrustedProxies::parse(&list).expect("valid list")
    }

    fn view(trusted: &TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> (Conn, Request<()>) {
        let mut request = Request::builder().uri("/accounts.getPolicies");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(()).expect("request");
        let conn = Conn {
            peer: peer.parse().expect("peer"),
            tls: false,
            forwarded: false,
        };
        (trusted.client_view(conn, &mut request), request)
    }

    #[test]
    fn parses_addresses_and_blocks_and_refuses_anything_else() {
        let t = proxies(&[
            "10.0.0.0/8",
            "127.0.0.1",
            " ::1 ",
            "fd00::/8",
            "::ffff:192.0.2.7",
        ]);
        for ip in [
            "10.1.2.3",
            "127.0.0.1",
            "::1",
            "fd12::1",
            "::ffff:10.9.9.9",
            "192.0.2.7",
        ] {
            assert!(t.trusts(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["11.0.0.1", "127.0.0.2", "::2", "fe80::1", "192.0.2.8"] {
            assert!(!t.trusts(ip.parse().expect("ip")), "{ip}");
        }
        let mapped = proxies(&["::ffff:10.0.0.0/104"]);
        assert!(mapped.trusts("10.200.0.1".parse().expect("ip")));
        for bad in ["example.com", "10.0.0.0/33", "", "10.0.0.1:80"] {
            let err = TrustedProxies::parse(&[bad.to_string()]).expect_err(bad);
            assert!(err.contains("--trusted-proxy"), "{err}");
        }
    }

    #[test]
    fn a_trusted_proxy_names_the_client_its_scheme_and_host() {
        let t = proxies(&["10.0.0.0/8"]);
        let (conn, request) = view(
            &t,
            "10.0.0.5:5000",
            &[
                ("x-forwarded-for", "198.51.100.9, 203.0.113.7, 10.0.0.9"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "photos.example.com"),
                ("host", "backend:8080"),
            ],
        );
        // 198.51.100.9 is what 203.0.113.7 claimed: not believed.
        assert_eq!(conn.peer.ip(), "203.0.113.7".parse::<IpAddr>().expect("ip"));
        assert!(conn.tls && conn.forwarded);
        assert_eq!(request.headers()[header::HOST], "photos.example.com");
    }

    #[test]
    fn an_http2_request_s_authority_gives_way_to_the_forwarded_host() {
        let t = proxies(&["10.0.0.0/8"]);
        let mut request = Request::builder()
            .uri("https://backend:8443/accounts.getPolicies?apiKey=k")
            .header("x-forwarded-host", "photos.example.com")
            .body(())
            .expect("request");
        let conn = Conn {
            peer: "10.0.0.5:5000".parse().expect("peer"),
            tls: true,
            forwarded: false,
        };
        let conn = t.client_view(conn, &mut request);
        assert!(conn.tls, "no X-Forwarded-Proto: the hop's own scheme");
        assert!(request.uri().authority().is_none());
        assert_eq!(request.uri(), "/accounts.getPolicies?apiKey=k");
        assert_eq!(request.headers()[header::HOST], "photos.example.com");
    }

    #[test]
    fn a_client_s_non_ascii_entry_does_not_hide_the_proxy_s() {
        let t = proxies(&["127.0.0.1"]);
        let mut request = Request::builder()
            .uri("/accounts.getPolicies")
            .header(
                "x-forwarded-for",
                HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.7").expect("value"),
            )
            .body(())
            .expect("request");
        let conn = Conn {
            peer: "127.0.0.1:5000".parse().expect("peer"),
            tls: false,
            forwarded: false,
        };
        let conn = t.client_view(conn, &mut request);
        assert_eq!(conn.peer.ip(), "203.0.113.7".parse::<IpAddr>().expect("ip"));
        assert!(conn.forwarded && !conn.tls);
    }

    #[test]
    fn anyone_else_s_forwarding_headers_are_ignored() {
        let t = proxies(&["10.0.0.0/8"]);
        let headers = [
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "photos.example.com"),
            ("host", "backend:8080"),
        ];
        let (conn, request) = view(&t, "203.0.113.7:5000", &headers);
        assert_eq!(conn.peer, "203.0.113.7:5000".parse().expect("addr"));
        assert!(!conn.tls && !conn.forwarded);
        assert_eq!(request.headers()[header::HOST], "backend:8080");
        let (conn, _) = view(&TrustedProxies::default(), "10.0.0.5:5000", &headers);
        assert_eq!(conn.peer, "10.0.0.5:5000".parse().expect("addr"));
    }

    #[test]
    fn the_last_values_count_and_odd_entries_stop_the_walk() {
        let t = proxies(&["10.0.0.0/8"]);
        // Several header lines are one list; ports and brackets are read.
        let (conn, _) = view(
            &t,
            "10.0.0.5:5000",
            &[
                ("x-forwarded-for", "192.0.2.1"),
                ("x-forwarded-for", "[2001:db8::7]:4711, 10.0.0.8:80"),
                ("x-forwarded-proto", "https, http"),
            ],
        );
        assert_eq!(conn.peer.ip(), "2001:db8::7".parse::<IpAddr>().expect("ip"));
        assert!(!conn.tls, "the nearest proxy saw http");
        // Garbage appended by a trusted hop: the client is the last address known.
        let (conn, _) = view(
            &t,
            "10.0.0.5:5000",
            &[("x-forwarded-for", "203.0.113.7, unknown, 10.0.0.8")],
        );
        assert_eq!(conn.peer.ip(), "10.0.0.8".parse::<IpAddr>().expect("ip"));
        // No header at all: the proxy itself, with its own scheme.
        let (conn, _) = view(&t, "10.0.0.5:5000", &[]);
        assert_eq!(conn.peer.ip(), "10.0.0.5".parse::<IpAddr>().expect("ip"));
        assert!(!conn.tls && conn.forwarded, "still behind the proxy");
    }
}
