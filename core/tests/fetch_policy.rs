//! The pure layer-1 policy (THREATS.md §2, §3 and (b) items 1–29, 31, 33): no socket is
//! opened anywhere in this file, so private, link-local, metadata and public addresses
//! can be named freely.

use std::net::IpAddr;

use avatarium::fetch::policy::{
    check_ip, check_name, check_resolved, check_url, classify, parse_url, AddressClass,
    AddressPolicy, Denial, UrlPolicy, DENY_TABLE,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The default policy: ports 80/443, URLs up to 2048 bytes, nothing special allowed (the
/// same as `FetchConfig::default().url_policy()`; this file only needs the pure module,
/// so it also builds without the `service` feature).
fn strict() -> UrlPolicy {
    UrlPolicy::default()
}

fn refused(url: &str) -> Denial {
    match parse_url(url, &strict()) {
        Ok(u) => panic!("{url} was accepted (parsed as {u})"),
        Err(d) => d,
    }
}

fn assert_address(url: &str, class: AddressClass) {
    assert_eq!(refused(url), Denial::Address(class), "{url}");
}

fn accepted(url: &str) {
    if let Err(d) = parse_url(url, &strict()) {
        panic!("{url} was refused: {d}");
    }
}

#[test]
fn public_urls_pass() {
    accepted("http://example.com/a.png");
    accepted("https://example.com/a.png");
    accepted("https://example.com:443/a.png");
    accepted("http://93.184.215.14/x");
    accepted("http://[2606:4700:4700::1111]/x");
    accepted("http://ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ/"); // item 27: IDNA maps it to example.com
    accepted("http://exa\u{AD}mple.com/");
    assert_eq!(
        parse_url("http://ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ/", &strict())
            .unwrap()
            .host_str(),
        Some("example.com")
    );
}

// Items 1–4: loopback in every IPv4 spelling the url crate normalises.
#[test]
fn item_01_to_04_loopback_spellings() {
    for url in [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://0177.0.0.01/",
        "http://127.255.255.254/",
    ] {
        assert_address(url, AddressClass::Loopback);
    }
}

// Item 5: forms the url crate rejects outright.
#[test]
fn item_05_invalid_ipv4_forms() {
    for url in [
        "http://o177.0.0.1/",
        "http://0o177.0.0.1/",
        "http://q177.0.0.1/",
        "http://425.510.425.510/",
    ] {
        assert!(matches!(refused(url), Denial::Unparsable(_)), "{url}");
    }
}

// Item 6: 0.0.0.0 (imgproxy CVE-2025-24354) and the rest of 0/8.
#[test]
fn item_06_this_network() {
    assert_address("http://0/", AddressClass::Unspecified);
    assert_address("http://0.0.0.0/", AddressClass::Unspecified);
    assert_address("http://0.1.2.3/", AddressClass::Unspecified);
    let loopback_ok = AddressPolicy {
        allow_loopback: true,
        allow_private: true,
        allow_addresses: vec![],
    };
    assert!(check_ip(ip("0.0.0.0"), &loopback_ok).is_err());
    assert!(check_ip(ip("::"), &loopback_ok).is_err());
}

// Item 7.
#[test]
fn item_07_ipv6_unspecified_and_loopback() {
    assert_address("http://[::]/", AddressClass::Unspecified);
    assert_address("http://[::1]/", AddressClass::Loopback);
    assert_address("http://[0000::1]/", AddressClass::Loopback);
}

// Item 8: IPv4-mapped is unmapped before the table.
#[test]
fn item_08_ipv4_mapped() {
    for url in [
        "http://[::ffff:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
    ] {
        assert_address(url, AddressClass::Loopback);
    }
    assert_address("http://[::ffff:10.0.0.1]/", AddressClass::Private);
}

// Item 9: IPv4-compatible ::/96 is denied outright, even with loopback allowed.
#[test]
fn item_09_ipv4_compatible() {
    assert_address("http://[::127.0.0.1]/", AddressClass::EmbeddedIpv4);
    assert_address("http://[::8.8.8.8]/", AddressClass::EmbeddedIpv4);
    let lo = AddressPolicy {
        allow_loopback: true,
        ..Default::default()
    };
    assert!(check_ip(ip("::7f00:1"), &lo).is_err());
}

// Item 10: NAT64, 6to4, Teredo.
#[test]
fn item_10_nat64_6to4_teredo() {
    for url in [
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b::808:808]/",
        "http://[64:ff9b:1::1]/",
        "http://[2002:7f00:1::]/",
        "http://[2002:808:808::1]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    ] {
        assert_address(url, AddressClass::EmbeddedIpv4);
    }
}

// Item 11: instance metadata in every spelling.
#[test]
fn item_11_metadata_spellings() {
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://2852039166/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://169.254.169.254./",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        assert_address(url, AddressClass::Metadata);
    }
    assert_address("http://169.254.170.2/", AddressClass::LinkLocal);
}

// Items 12–14.
#[test]
fn item_12_to_14_cloud_endpoints() {
    assert_address(
        "http://[fd00:ec2::254]/latest/meta-data/",
        AddressClass::Metadata,
    );
    assert_address(
        "http://100.100.100.200/latest/meta-data/",
        AddressClass::Metadata,
    );
    assert_address("http://168.63.129.16/", AddressClass::Metadata);
    // Metadata endpoints inside private ranges stay denied when private is allowed.
    let private = AddressPolicy {
        allow_private: true,
        ..Default::default()
    };
    for a in [
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
        "169.254.169.254",
    ] {
        assert!(check_ip(ip(a), &private).is_err(), "{a}");
    }
    assert!(check_ip(ip("fd00:ec2::253"), &private).is_ok());
    assert!(check_ip(ip("100.100.100.201"), &private).is_ok());
}

// Item 15.
#[test]
fn item_15_rfc1918() {
    for url in [
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
    ] {
        assert_address(url, AddressClass::Private);
    }
    accepted("http://172.32.0.1/");
    accepted("http://100.128.0.1/");
}

// Item 16.
#[test]
fn item_16_multicast_broadcast_reserved() {
    assert_address("http://224.0.0.1/", AddressClass::Multicast);
    assert_address("http://[ff02::1]/", AddressClass::Multicast);
    assert_address("http://255.255.255.255/", AddressClass::Multicast);
    assert_address("http://240.0.0.1/", AddressClass::Reserved);
    assert_address("http://198.18.0.1/", AddressClass::Reserved);
    assert_address("http://192.0.2.1/", AddressClass::Documentation);
}

// Item 17.
#[test]
fn item_17_link_local_v6() {
    assert_address("http://[fe80::1]/", AddressClass::LinkLocal);
    assert!(matches!(
        refused("http://[fe80::1%25eth0]/"),
        Denial::Unparsable(_)
    ));
}

// Items 18 and 20: names refused by name, trailing dots and case included.
#[test]
fn item_18_20_reserved_names() {
    for url in [
        "http://localhost/",
        "http://LOCALHOST./",
        "http://localhost../",
        "http://foo.localhost/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata.google.internal./",
        "http://metadata/",
        "http://intranet./",
    ] {
        assert_eq!(refused(url), Denial::ReservedName, "{url}");
    }
    let lo = AddressPolicy {
        allow_loopback: true,
        ..Default::default()
    };
    assert!(check_name("localhost", &lo).is_ok());
    assert!(check_name("a.localhost.", &lo).is_ok());
    assert!(check_name("metadata.google.internal", &lo).is_err());
    let private = AddressPolicy {
        allow_private: true,
        ..Default::default()
    };
    assert!(check_name("intranet", &private).is_ok());
    assert!(check_name("localhost", &private).is_err());
}

// Items 19, 21, 22: the resolved-answer rule (names are fine; their answers decide).
#[test]
fn item_19_21_22_resolved_answers() {
    accepted("http://localtest.me/");
    accepted("http://127.0.0.1.nip.io/");
    let p = AddressPolicy::default();
    assert_eq!(
        check_resolved(&[ip("127.0.0.1")], &p),
        Err(Denial::ResolvesToForbidden)
    );
    assert_eq!(
        check_resolved(&[ip("169.254.169.254")], &p),
        Err(Denial::ResolvesToForbidden)
    );
    // Mixed answers refuse the whole request (item 22), whatever the order.
    assert_eq!(
        check_resolved(&[ip("93.184.215.14"), ip("127.0.0.1")], &p),
        Err(Denial::ResolvesToForbidden)
    );
    assert_eq!(
        check_resolved(&[ip("127.0.0.1"), ip("10.0.0.1")], &p),
        Err(Denial::ResolvesToForbidden)
    );
    let only_one = AddressPolicy {
        allow_addresses: vec![ip("127.0.0.1")],
        ..Default::default()
    };
    assert_eq!(
        check_resolved(&[ip("127.0.0.1"), ip("10.0.0.1")], &only_one),
        Err(Denial::ResolvesToForbidden)
    );
    assert_eq!(
        check_resolved(&[ip("127.0.0.1"), ip("127.0.0.1")], &only_one),
        Ok(vec![ip("127.0.0.1")])
    );
    assert_eq!(check_resolved(&[], &p), Err(Denial::NoAddresses));
    assert_eq!(
        check_resolved(&[ip("93.184.215.14"), ip("2606:4700::1")], &p),
        Ok(vec![ip("93.184.215.14"), ip("2606:4700::1")])
    );
    // The message never carries the address.
    let text = Denial::ResolvesToForbidden.to_string();
    assert!(!text.contains("127.") && !text.contains("10.0"), "{text}");
}

// Item 23.
#[test]
fn item_23_userinfo() {
    assert_eq!(refused("http://evil.com@127.0.0.1/"), Denial::Userinfo);
    assert_eq!(refused("http://127.0.0.1@evil.com/"), Denial::Userinfo);
    assert_eq!(refused("http://user:pass@example.com/"), Denial::Userinfo);
    assert_eq!(refused("http://:pass@example.com/"), Denial::Userinfo);
}

// Item 24: parser confusions. The check runs on the parsed `Url`, whose host is what
// would be dialled.
#[test]
fn item_24_parser_confusions() {
    // Port 80 is allowed by the strict policy, so only the address can refuse these.
    assert_eq!(
        refused("http://127.1.1.1:80\\@127.2.2.2:80/"),
        Denial::Address(AddressClass::Loopback)
    );
    assert_address("http:/\\127.0.0.1/", AddressClass::Loopback);
    assert_address("http:127.0.0.1/", AddressClass::Loopback);
    assert_address("http://%31%32%37.0.0.1/", AddressClass::Loopback);
    // "http://1.1.1.1 &@2.2.2.2# @3.3.3.3/" is either refused (userinfo) or its host is
    // 2.2.2.2; never 1.1.1.1 or 3.3.3.3 unchecked.
    let d = refused("http://1.1.1.1 &@2.2.2.2# @3.3.3.3/");
    assert!(
        matches!(d, Denial::Userinfo | Denial::Unparsable(_)),
        "{d:?}"
    );
}

// Item 25.
#[test]
fn item_25_ports() {
    for (url, port) in [
        ("http://public.example:22/", 22),
        ("http://public.example:6379/", 6379),
        ("http://public.example:0/", 0),
        ("http://public.example:65535/", 65535),
        ("http://public.example:8080/", 8080),
    ] {
        assert_eq!(refused(url), Denial::Port(port), "{url}");
    }
    assert!(matches!(
        refused("http://public.example:65536/"),
        Denial::Unparsable(_)
    ));
    accepted("http://public.example:80/");
    accepted("https://public.example/");
    // The default port counts as named.
    let only_443 = UrlPolicy {
        allowed_ports: vec![443],
        ..strict()
    };
    assert_eq!(
        parse_url("http://public.example/", &only_443),
        Err(Denial::Port(80))
    );
}

// Item 26 and 33 (the same rule runs on redirect targets).
#[test]
fn item_26_33_schemes() {
    for url in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/stats",
        "ftp://127.0.0.1/",
        "ldap://127.0.0.1/",
        "jar:http://127.0.0.1!/",
        "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)",
        "ws://127.0.0.1/",
        "wss://example.com/",
        "HTTP+unix://x/",
    ] {
        let d = refused(url);
        assert!(
            matches!(d, Denial::Scheme | Denial::Unparsable(_)),
            "{url}: {d:?}"
        );
    }
}

// Item 27.
#[test]
fn item_27_nul_in_host() {
    assert!(matches!(
        refused("http://127.0.0.1%00.evil.com/"),
        Denial::Unparsable(_)
    ));
}

// Item 28.
#[test]
fn item_28_long_url() {
    let long = format!("http://example.com/{}", "a".repeat(100 * 1024));
    assert_eq!(refused(&long), Denial::TooLong { max: 2048 });
    let edge = format!("http://example.com/{}", "a".repeat(2048 - 19));
    assert_eq!(edge.len(), 2048);
    accepted(&edge);
    let over = format!("{edge}a");
    assert_eq!(refused(&over), Denial::TooLong { max: 2048 });
    // Parsing may lengthen a URL (percent-encoding); the serialised length counts too.
    let spaces = format!("http://example.com/{}x", " ".repeat(1000));
    assert_eq!(refused(&spaces), Denial::TooLong { max: 2048 });
}

// Item 29.
#[test]
fn item_29_https_literal() {
    assert_address("https://169.254.169.254/", AddressClass::Metadata);
    assert_address("https://[::1]/", AddressClass::Loopback);
}

// Item 31 (and 30): redirect targets go through `check_url`, which unmaps.
#[test]
fn item_30_31_redirect_targets() {
    let p = UrlPolicy {
        addresses: AddressPolicy {
            allow_addresses: vec![ip("127.0.0.1")],
            ..Default::default()
        },
        ..strict()
    };
    let check = |s: &str| check_url(&url::Url::parse(s).unwrap(), &p);
    assert!(check("http://127.0.0.1/").is_ok());
    assert_eq!(
        check("http://127.0.0.2/"),
        Err(Denial::Address(AddressClass::Loopback))
    );
    assert_eq!(
        check("http://[::ffff:169.254.169.254]/"),
        Err(Denial::Address(AddressClass::Metadata))
    );
    assert_eq!(check("file:///etc/passwd"), Err(Denial::Scheme));
    assert_eq!(check("http://u:p@127.0.0.1/"), Err(Denial::Userinfo));
}

/// Every range of THREATS.md §2 (and the gaps it adds) is denied by default, at its first
/// and last address.
#[test]
fn deny_table_covers_threats_section_2() {
    let ranges = [
        ("0.0.0.0", "0.255.255.255"),
        ("10.0.0.0", "10.255.255.255"),
        ("100.64.0.0", "100.127.255.255"),
        ("127.0.0.0", "127.255.255.255"),
        ("169.254.0.0", "169.254.255.255"),
        ("172.16.0.0", "172.31.255.255"),
        ("192.0.0.0", "192.0.0.255"),
        ("192.0.2.0", "192.0.2.255"),
        ("192.88.99.0", "192.88.99.255"),
        ("192.168.0.0", "192.168.255.255"),
        ("198.18.0.0", "198.19.255.255"),
        ("198.51.100.0", "198.51.100.255"),
        ("203.0.113.0", "203.0.113.255"),
        ("224.0.0.0", "239.255.255.255"),
        ("240.0.0.0", "255.255.255.255"),
        ("168.63.129.16", "168.63.129.16"),
        ("192.31.196.0", "192.31.196.255"),
        ("192.52.193.0", "192.52.193.255"),
        ("192.175.48.0", "192.175.48.255"),
        ("::", "::"),
        ("::1", "::1"),
        ("::2", "::ffff:ffff"),
        ("::ffff:0:0", "::ffff:ffff:ffff"),
        ("64:ff9b::", "64:ff9b::ffff:ffff"),
        ("64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"),
        ("100::", "100::ffff:ffff:ffff:ffff"),
        ("2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2620:4f:8000::", "2620:4f:8000:ffff:ffff:ffff:ffff:ffff"),
        ("fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ];
    let p = AddressPolicy::default();
    for (first, last) in ranges {
        for a in [first, last] {
            assert!(classify(ip(a)).is_some(), "{a} is not in the table");
            assert!(check_ip(ip(a), &p).is_err(), "{a} passed");
        }
    }
    // Neighbours just outside some ranges are public.
    for a in [
        "1.0.0.0",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "126.255.255.255",
        "128.0.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2001:200::1",
        "2620:4f:8001::1",
        "2a00:1450::1",
    ] {
        assert!(check_ip(ip(a), &p).is_ok(), "{a} was denied");
    }
    // IPv6 outside global unicast 2000::/3 is reserved even where no row names it.
    assert_eq!(classify(ip("4000::1")), Some(AddressClass::Reserved));
    assert!(DENY_TABLE.len() >= 30);
}

#[test]
fn allow_switches_are_narrow() {
    let lo = AddressPolicy {
        allow_loopback: true,
        ..Default::default()
    };
    assert!(check_ip(ip("127.0.0.1"), &lo).is_ok());
    assert!(check_ip(ip("127.9.9.9"), &lo).is_ok());
    assert!(check_ip(ip("::1"), &lo).is_ok());
    assert!(check_ip(ip("::ffff:127.0.0.1"), &lo).is_ok());
    for a in ["10.0.0.1", "169.254.169.254", "0.0.0.0", "::", "fe80::1"] {
        assert!(check_ip(ip(a), &lo).is_err(), "{a}");
    }

    let private = AddressPolicy {
        allow_private: true,
        ..Default::default()
    };
    for a in [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "fd00::1",
    ] {
        assert!(check_ip(ip(a), &private).is_ok(), "{a}");
    }
    for a in ["127.0.0.1", "169.254.1.1", "fe80::1", "224.0.0.1", "::1"] {
        assert!(check_ip(ip(a), &private).is_err(), "{a}");
    }

    let exact = AddressPolicy {
        allow_addresses: vec![ip("127.0.0.1")],
        ..Default::default()
    };
    assert!(check_ip(ip("127.0.0.1"), &exact).is_ok());
    assert!(check_ip(ip("::ffff:127.0.0.1"), &exact).is_ok());
    assert!(check_ip(ip("127.0.0.2"), &exact).is_err());
    assert!(check_ip(ip("::1"), &exact).is_err());
    assert!(check_name("localhost", &exact).is_err());
}

#[test]
fn denial_texts_are_words() {
    assert_eq!(
        Denial::Address(AddressClass::Metadata).to_string(),
        "the host is a forbidden address (cloud metadata endpoint)"
    );
    assert_eq!(
        Denial::ResolvesToForbidden.to_string(),
        "the host resolves to a forbidden address"
    );
    assert_eq!(Denial::Port(22).to_string(), "port 22 is not allowed");
}
