//! The pure URL/address policy (`fetch::policy`) on arbitrary strings.
//!
//! Besides "never panics", it checks the properties the fetcher relies on:
//! - whatever `parse_url` accepts passes `check_url` again on the same value and on a
//!   re-parse of its serialisation (no parser differential between check and use);
//! - an accepted URL is http(s), has no userinfo, an allowed port, fits the length cap, and
//!   an IP-literal host is an ordinary public address (with the default, deny-all policy);
//! - `check_ip` agrees on an IPv4 address and its IPv4-mapped IPv6 form, and allowing
//!   exactly one address allows that one and no other forbidden address;
//! - a DNS answer set passes `check_resolved` only if every answer passes `check_ip`.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use avatarium::fetch::policy::{
    check_ip, check_name, check_resolved, check_url, classify, parse_url, AddressPolicy, UrlPolicy,
};
use url::Host;

fuzz_target!(|data: &[u8]| {
    // Addresses straight from the bytes.
    if data.len() >= 16 {
        let mut b = [0u8; 16];
        b.copy_from_slice(&data[..16]);
        let v6 = Ipv6Addr::from(b);
        let v4 = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
        let deny = AddressPolicy::default();
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert_eq!(
            check_ip(IpAddr::V4(v4), &deny).is_ok(),
            check_ip(mapped, &deny).is_ok(),
            "{v4} and its mapped form disagree"
        );
        assert_eq!(
            check_ip(IpAddr::V6(v6), &deny).is_ok(),
            classify(IpAddr::V6(v6)).is_none()
        );
        let one = AddressPolicy {
            allow_addresses: vec![IpAddr::V4(v4)],
            ..AddressPolicy::default()
        };
        assert!(check_ip(IpAddr::V4(v4), &one).is_ok());
        assert!(check_ip(mapped, &one).is_ok());
        if IpAddr::V6(v6).to_canonical() != IpAddr::V4(v4) && classify(IpAddr::V6(v6)).is_some() {
            assert!(
                check_ip(IpAddr::V6(v6), &one).is_err(),
                "{v6} allowed by allowing {v4}"
            );
        }
        let answers = [IpAddr::V4(v4), IpAddr::V6(v6)];
        assert_eq!(
            check_resolved(&answers, &deny).is_ok(),
            answers.iter().all(|a| check_ip(*a, &deny).is_ok())
        );
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = check_name(text, &AddressPolicy::default());
    for policy in [
        UrlPolicy::default(),
        UrlPolicy {
            allowed_ports: vec![80, 443, 8080],
            max_url_len: 4096,
            addresses: AddressPolicy {
                allow_loopback: true,
                allow_private: true,
                allow_addresses: vec![],
            },
        },
    ] {
        let Ok(url) = parse_url(text, &policy) else {
            continue;
        };
        assert!(check_url(&url, &policy).is_ok());
        let again = url::Url::parse(url.as_str()).expect("a serialised URL re-parses");
        assert_eq!(again, url, "serialisation is not stable");
        assert!(check_url(&again, &policy).is_ok());
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.username().is_empty() && url.password().is_none());
        assert!(url.as_str().len() <= policy.max_url_len);
        let port = url.port_or_known_default().expect("http(s) has a port");
        assert!(policy.allowed_ports.contains(&port));
        if policy.addresses == AddressPolicy::default() {
            match url.host() {
                Some(Host::Ipv4(ip)) => assert!(classify(IpAddr::V4(ip)).is_none(), "{url}"),
                Some(Host::Ipv6(ip)) => assert!(classify(IpAddr::V6(ip)).is_none(), "{url}"),
                Some(Host::Domain(name)) => {
                    // What the resolver would be asked: never a forbidden literal in disguise.
                    if let Ok(ip) = name.parse::<IpAddr>() {
                        assert!(classify(ip).is_none(), "{url}");
                    }
                    let lower = name.trim_end_matches('.').to_ascii_lowercase();
                    assert!(
                        lower != "localhost" && !lower.ends_with(".localhost"),
                        "{url}"
                    );
                    assert!(
                        !lower.ends_with(".internal") && lower.contains('.'),
                        "{url}"
                    );
                }
                None => panic!("accepted a URL without a host: {url}"),
            }
        }
    }
});
