//! The address and URL policy (THREATS.md §2, §3 layer 1). Knows nothing about HTTP.
//!
//! Everything here is pure: a parsed [`Url`] or an [`IpAddr`] and a policy in, a verdict
//! out. The fetcher runs [`check_url`] on the caller's URL and on every redirect target,
//! and [`check_resolved`] on every DNS answer set before a socket is opened, so the same
//! rules hold whatever path an address takes (literal, name, redirect).
//!
//! The deny table is an explicit prefix table ([`DENY_TABLE`]): the standard library's
//! `is_global`/`is_shared` are unstable, and an explicit list is easy to review against
//! THREATS.md §2.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Which destinations the fetcher may reach besides the public internet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// 127.0.0.0/8 and ::1 (and the name `localhost`).
    pub allow_loopback: bool,
    /// RFC 1918, CGNAT 100.64.0.0/10 and ULA fc00::/7 (and internal names: `*.internal`,
    /// single-label names). Link-local, metadata and the other special ranges stay denied.
    pub allow_private: bool,
    /// Exactly these addresses are allowed whatever the table says (a test harness allows
    /// 127.0.0.1 and nothing else of loopback).
    pub allow_addresses: Vec<IpAddr>,
}

/// The URL rules of layer 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Ports a URL may name, explicitly or by its scheme's default.
    pub allowed_ports: Vec<u16>,
    /// Longest URL accepted, in bytes, before and after parsing.
    pub max_url_len: usize,
    pub addresses: AddressPolicy,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        UrlPolicy {
            allowed_ports: vec![80, 443],
            max_url_len: 2048,
            addresses: AddressPolicy::default(),
        }
    }
}

/// The kind of special-purpose range an address falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// 0.0.0.0/8, `::`: "this host/network"; 0.0.0.0 reaches localhost.
    Unspecified,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, CGNAT 100.64.0.0/10, ULA fc00::/7.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// Cloud metadata and platform endpoints (169.254.169.254, 168.63.129.16,
    /// 100.100.100.200, fd00:ec2::254). Never allowed by `allow_private`.
    Metadata,
    /// IPv6 forms that carry an IPv4 address (IPv4-compatible, IPv4-mapped, NAT64, 6to4,
    /// Teredo): reaching them could mean reaching any IPv4 address.
    EmbeddedIpv4,
    /// 224.0.0.0/4, 255.255.255.255, ff00::/8.
    Multicast,
    /// TEST-NET and 2001:db8::/32.
    Documentation,
    /// IETF protocol assignments, benchmarking, relays, AS112, 240/4, site-local and any
    /// IPv6 outside 2000::/3.
    Reserved,
}

impl AddressClass {
    /// A few words for messages.
    pub const fn describe(self) -> &'static str {
        match self {
            AddressClass::Unspecified => "unspecified",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private network",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "cloud metadata endpoint",
            AddressClass::EmbeddedIpv4 => "IPv6 form of an IPv4 address",
            AddressClass::Multicast => "multicast or broadcast",
            AddressClass::Documentation => "documentation range",
            AddressClass::Reserved => "reserved range",
        }
    }
}

/// Why a URL or an address is refused. The `Display` text is safe to return to the caller:
/// it never contains an address the server learnt by resolving a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The text is not a URL.
    Unparsable(url::ParseError),
    /// Longer than the configured maximum.
    TooLong { max: usize },
    /// Not http or https.
    Scheme,
    /// A user name or password in the URL (it would be sent upstream as Basic auth).
    Userinfo,
    /// No host in the URL.
    MissingHost,
    /// A port outside the allowed list.
    Port(u16),
    /// `localhost`, `*.localhost`, `*.internal`, single-label names.
    ReservedName,
    /// An IP literal (in the URL or a redirect target) in a forbidden range. The caller or
    /// the redirecting server wrote the address, so naming its class leaks nothing.
    Address(AddressClass),
    /// A name whose DNS answers include a forbidden address. Deliberately vague.
    ResolvesToForbidden,
    /// The name resolved to no address at all.
    NoAddresses,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::Unparsable(e) => write!(f, "the URL could not be parsed ({e})"),
            Denial::TooLong { max } => write!(f, "the URL is longer than {max} bytes"),
            Denial::Scheme => f.write_str("only http and https URLs are accepted"),
            Denial::Userinfo => f.write_str("URLs with a user name or password are not accepted"),
            Denial::MissingHost => f.write_str("the URL has no host"),
            Denial::Port(p) => write!(f, "port {p} is not allowed"),
            Denial::ReservedName => f.write_str("the host name is reserved for internal use"),
            Denial::Address(class) => {
                write!(f, "the host is a forbidden address ({})", class.describe())
            }
            Denial::ResolvesToForbidden => f.write_str("the host resolves to a forbidden address"),
            Denial::NoAddresses => f.write_str("the host name did not resolve to any address"),
        }
    }
}

impl std::error::Error for Denial {}

impl Denial {
    /// A fixed label for metrics (`avatarium_urls_refused_total{reason=…}`): the rule that
    /// refused, never text from the URL.
    pub const fn reason(&self) -> &'static str {
        match self {
            Denial::Unparsable(_) | Denial::MissingHost => "malformed",
            Denial::TooLong { .. } => "url_length",
            Denial::Scheme => "scheme",
            Denial::Userinfo => "userinfo",
            Denial::Port(_) => "port",
            Denial::ReservedName => "reserved_name",
            Denial::Address(class) => class.reason(),
            Denial::ResolvesToForbidden => "resolves_to_forbidden",
            Denial::NoAddresses => "no_addresses",
        }
    }
}

impl AddressClass {
    /// The metrics label of an IP literal refused for this class.
    pub const fn reason(self) -> &'static str {
        match self {
            AddressClass::Unspecified => "address_unspecified",
            AddressClass::Loopback => "address_loopback",
            AddressClass::Private => "address_private",
            AddressClass::LinkLocal => "address_link_local",
            AddressClass::Metadata => "address_metadata",
            AddressClass::EmbeddedIpv4 => "address_embedded_ipv4",
            AddressClass::Multicast => "address_multicast",
            AddressClass::Documentation => "address_documentation",
            AddressClass::Reserved => "address_reserved",
        }
    }
}

/// One row of the deny table.
#[derive(Debug, Clone, Copy)]
pub struct DenyEntry {
    pub network: IpAddr,
    pub prefix_len: u8,
    pub class: AddressClass,
    pub note: &'static str,
}

const fn v4(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    prefix_len: u8,
    class: AddressClass,
    note: &'static str,
) -> DenyEntry {
    DenyEntry {
        network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        prefix_len,
        class,
        note,
    }
}

const fn v6(s: [u16; 8], prefix_len: u8, class: AddressClass, note: &'static str) -> DenyEntry {
    DenyEntry {
        network: IpAddr::V6(Ipv6Addr::new(
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
        )),
        prefix_len,
        class,
        note,
    }
}

use AddressClass as C;

/// THREATS.md §2, the union of the anchors' tables plus the gaps it lists (::/96,
/// 168.63.129.16) and the metadata endpoints inside private ranges. The most specific
/// matching row decides the class.
pub const DENY_TABLE: &[DenyEntry] = &[
    // IPv4
    v4(
        0,
        0,
        0,
        0,
        8,
        C::Unspecified,
        "this network; 0.0.0.0 reaches localhost",
    ),
    v4(10, 0, 0, 0, 8, C::Private, "RFC 1918"),
    v4(
        100,
        64,
        0,
        0,
        10,
        C::Private,
        "shared address space (CGNAT)",
    ),
    v4(
        100,
        100,
        100,
        200,
        32,
        C::Metadata,
        "Alibaba Cloud metadata",
    ),
    v4(127, 0, 0, 0, 8, C::Loopback, "loopback"),
    v4(
        168,
        63,
        129,
        16,
        32,
        C::Metadata,
        "Azure WireServer / platform DNS",
    ),
    v4(169, 254, 0, 0, 16, C::LinkLocal, "link-local"),
    v4(
        169,
        254,
        169,
        254,
        32,
        C::Metadata,
        "AWS/GCP/Azure instance metadata",
    ),
    v4(172, 16, 0, 0, 12, C::Private, "RFC 1918"),
    v4(192, 0, 0, 0, 24, C::Reserved, "IETF protocol assignments"),
    v4(192, 0, 2, 0, 24, C::Documentation, "TEST-NET-1"),
    v4(192, 31, 196, 0, 24, C::Reserved, "AS112-v4"),
    v4(192, 52, 193, 0, 24, C::Reserved, "AMT"),
    v4(192, 88, 99, 0, 24, C::Reserved, "6to4 relay anycast"),
    v4(192, 168, 0, 0, 16, C::Private, "RFC 1918"),
    v4(192, 175, 48, 0, 24, C::Reserved, "direct delegation AS112"),
    v4(198, 18, 0, 0, 15, C::Reserved, "benchmarking"),
    v4(198, 51, 100, 0, 24, C::Documentation, "TEST-NET-2"),
    v4(203, 0, 113, 0, 24, C::Documentation, "TEST-NET-3"),
    v4(224, 0, 0, 0, 4, C::Multicast, "multicast"),
    v4(240, 0, 0, 0, 4, C::Reserved, "reserved"),
    v4(255, 255, 255, 255, 32, C::Multicast, "limited broadcast"),
    // IPv6
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, C::Unspecified, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, C::Loopback, "loopback"),
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        C::EmbeddedIpv4,
        "IPv4-compatible (deprecated)",
    ),
    v6(
        [0, 0, 0, 0, 0, 0xffff, 0, 0],
        96,
        C::EmbeddedIpv4,
        "IPv4-mapped",
    ),
    v6(
        [0x64, 0xff9b, 0, 0, 0, 0, 0, 0],
        96,
        C::EmbeddedIpv4,
        "NAT64 well-known prefix",
    ),
    v6(
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        C::EmbeddedIpv4,
        "NAT64 local-use prefix",
    ),
    v6(
        [0x100, 0, 0, 0, 0, 0, 0, 0],
        64,
        C::Reserved,
        "discard-only",
    ),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        C::Reserved,
        "IETF protocol assignments",
    ),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, C::EmbeddedIpv4, "Teredo"),
    v6(
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        C::Documentation,
        "documentation",
    ),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, C::EmbeddedIpv4, "6to4"),
    v6(
        [0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0],
        48,
        C::Reserved,
        "direct delegation AS112",
    ),
    v6(
        [0xfc00, 0, 0, 0, 0, 0, 0, 0],
        7,
        C::Private,
        "unique local (ULA)",
    ),
    v6(
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        128,
        C::Metadata,
        "AWS instance metadata (IPv6)",
    ),
    v6(
        [0xfe80, 0, 0, 0, 0, 0, 0, 0],
        10,
        C::LinkLocal,
        "link-local",
    ),
    v6(
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        C::Reserved,
        "site-local (deprecated)",
    ),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, C::Multicast, "multicast"),
];

fn in_prefix(ip: IpAddr, entry: &DenyEntry) -> bool {
    match (ip, entry.network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = u32::from(entry.prefix_len);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = u32::from(entry.prefix_len);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The most specific deny-table row matching `ip` exactly as given (no unmapping).
pub fn deny_entry(ip: IpAddr) -> Option<&'static DenyEntry> {
    DENY_TABLE
        .iter()
        .filter(|e| in_prefix(ip, e))
        .max_by_key(|e| e.prefix_len)
}

/// The canonical form of an address: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes the
/// IPv4 address it names, because that is where a dual-stack socket connects. Other
/// embedded forms (IPv4-compatible, NAT64, 6to4, Teredo) are left alone: the table
/// denies them outright.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The class of a special-purpose address, or `None` for an ordinary public address.
/// The address is canonicalised first. IPv6 outside global unicast 2000::/3 is
/// [`AddressClass::Reserved`] even where no row names it.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    let ip = canonical(ip);
    if let Some(entry) = deny_entry(ip) {
        return Some(entry.class);
    }
    match ip {
        IpAddr::V6(v6) if v6.segments()[0] & 0xe000 != 0x2000 => Some(AddressClass::Reserved),
        _ => None,
    }
}

/// Layer 1 and 2's address rule: may the fetcher connect to `ip`?
pub fn check_ip(ip: IpAddr, policy: &AddressPolicy) -> Result<(), Denial> {
    let canon = canonical(ip);
    if policy
        .allow_addresses
        .iter()
        .any(|a| *a == ip || canonical(*a) == canon)
    {
        return Ok(());
    }
    match classify(canon) {
        None => Ok(()),
        Some(AddressClass::Loopback) if policy.allow_loopback => Ok(()),
        Some(AddressClass::Private) if policy.allow_private => Ok(()),
        Some(class) => Err(Denial::Address(class)),
    }
}

/// The name rule: `localhost`, `*.localhost` (RFC 6761: always loopback), `*.internal`
/// and single-label names are refused without asking DNS. `localhost` names pass when
/// loopback is allowed; `*.internal` and single-label names pass when private ranges are
/// allowed. Their answers are checked all the same.
pub fn check_name(name: &str, policy: &AddressPolicy) -> Result<(), Denial> {
    if let Ok(ip) = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return check_ip(ip, policy);
    }
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if lower.is_empty() {
        return Err(Denial::MissingHost);
    }
    let loopback_name = lower == "localhost" || lower.ends_with(".localhost");
    let internal_name = lower == "internal" || lower.ends_with(".internal") || !lower.contains('.');
    if loopback_name {
        if policy.allow_loopback {
            return Ok(());
        }
        return Err(Denial::ReservedName);
    }
    if internal_name && !policy.allow_private {
        return Err(Denial::ReservedName);
    }
    Ok(())
}

/// Layer 2's rule for one DNS answer set: every answer must pass [`check_ip`], or the
/// whole request is refused (a name answering [public, 127.0.0.1] is refused). Returns
/// the answers, deduplicated and in order: the only addresses that may be dialled.
pub fn check_resolved(answers: &[IpAddr], policy: &AddressPolicy) -> Result<Vec<IpAddr>, Denial> {
    if answers.is_empty() {
        return Err(Denial::NoAddresses);
    }
    let mut out: Vec<IpAddr> = Vec::with_capacity(answers.len());
    for ip in answers {
        if check_ip(*ip, policy).is_err() {
            return Err(Denial::ResolvesToForbidden);
        }
        if !out.contains(ip) {
            out.push(*ip);
        }
    }
    Ok(out)
}

/// Parse the caller's text and run [`check_url`] on the result. The length is checked on
/// the raw text first, so a 100 KB URL is never parsed.
pub fn parse_url(input: &str, policy: &UrlPolicy) -> Result<Url, Denial> {
    if input.len() > policy.max_url_len {
        return Err(Denial::TooLong {
            max: policy.max_url_len,
        });
    }
    let url = Url::parse(input).map_err(Denial::Unparsable)?;
    check_url(&url, policy)?;
    Ok(url)
}

/// Layer 1: the rules for a parsed URL (the caller's, or a redirect target). Runs on the
/// very `Url` value that is requested, so parser differentials cannot split the check
/// from the use. IP-literal hosts are checked here because the connector never asks the
/// resolver about them (THREATS.md §0.1).
pub fn check_url(url: &Url, policy: &UrlPolicy) -> Result<(), Denial> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Denial::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Denial::Userinfo);
    }
    if url.as_str().len() > policy.max_url_len {
        return Err(Denial::TooLong {
            max: policy.max_url_len,
        });
    }
    let host = url.host().ok_or(Denial::MissingHost)?;
    let port = url.port_or_known_default().ok_or(Denial::MissingHost)?;
    if !policy.allowed_ports.contains(&port) {
        return Err(Denial::Port(port));
    }
    match host {
        Host::Ipv4(ip) => check_ip(IpAddr::V4(ip), &policy.addresses),
        Host::Ipv6(ip) => check_ip(IpAddr::V6(ip), &policy.addresses),
        Host::Domain(name) => check_name(name, &policy.addresses),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn table_rows_are_their_own_networks() {
        for e in DENY_TABLE {
            assert!(in_prefix(e.network, e), "{e:?}");
            let max = if e.network.is_ipv4() { 32 } else { 128 };
            assert!(e.prefix_len <= max, "{e:?}");
        }
    }

    #[test]
    fn most_specific_row_wins() {
        assert_eq!(
            classify(ip("169.254.169.254")),
            Some(AddressClass::Metadata)
        );
        assert_eq!(classify(ip("169.254.1.1")), Some(AddressClass::LinkLocal));
        assert_eq!(classify(ip("::")), Some(AddressClass::Unspecified));
        assert_eq!(classify(ip("::1")), Some(AddressClass::Loopback));
        assert_eq!(classify(ip("::7f00:1")), Some(AddressClass::EmbeddedIpv4));
        assert_eq!(classify(ip("2001::1")), Some(AddressClass::EmbeddedIpv4));
        assert_eq!(classify(ip("2001:2::1")), Some(AddressClass::Reserved));
        assert_eq!(classify(ip("8.8.8.8")), None);
        assert_eq!(classify(ip("2606:4700::1111")), None);
    }

    #[test]
    fn mapped_addresses_are_unmapped() {
        assert_eq!(
            classify(ip("::ffff:127.0.0.1")),
            Some(AddressClass::Loopback)
        );
        assert_eq!(classify(ip("::ffff:8.8.8.8")), None);
        assert_eq!(
            deny_entry(ip("::ffff:8.8.8.8")).map(|e| e.class),
            Some(AddressClass::EmbeddedIpv4)
        );
    }
}
