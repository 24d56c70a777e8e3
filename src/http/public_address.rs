//! Which IP addresses are on the public internet: the Client ID Metadata Document fetcher reaches
//! only those, and the untrusted-proxy hint (`client_address`) names only a peer that is not one.
//!
//! Everything in IANA's special-purpose address registries (RFC 6890 and its updates) is refused,
//! and so is every IPv6 form that carries an IPv4 address inside it, except the plain IPv4-mapped
//! one, whose IPv4 address is checked instead (it is that address, written as IPv6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(&v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network" (RFC 791), 0.0.0.0 included
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments (RFC 6890), e.g. DS-Lite's 192.0.0.1
        || (a == 192 && b == 88 && c == 99) // the former 6to4 relay anycast (RFC 7526)
        || (a == 198 && (18..20).contains(&b)) // benchmarking (RFC 2544)
        || a >= 240) // reserved (RFC 1112) and the broadcast address
}

fn is_public_v6(ip: &Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    // Global unicast is 2000::/3 (RFC 4291 §2.4). Outside it: unspecified, loopback, the
    // IPv4-compatible ::/96 and IPv4-translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and
    // 64:ff9b:1::/48 (RFC 6052, 8215), discard-only 100::/64, unique local fc00::/7, link-local
    // fe80::/10, the old site-local fec0::/10, multicast ff00::/8.
    if first & 0xe000 != 0x2000 {
        return false;
    }
    let special = match first {
        // IETF protocol assignments 2001::/23 (Teredo 2001::/32 among them); documentation
        // 2001:db8::/32 (RFC 3849).
        0x2001 => second < 0x0200 || second == 0x0db8,
        // 6to4 (RFC 3056): the IPv4 address of a relay inside.
        0x2002 => true,
        // Documentation 3fff::/20 (RFC 9637).
        _ => first & 0xfff0 == 0x3ff0,
    };
    !special
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn special_purpose_ranges_are_not_public() {
        for special in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:0:7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "3fff::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(&special.parse().unwrap()), "{special}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "1.1.1.1", "::ffff:8.8.8.8", "2606:2800:220:1::1", "2a00:1450::1"] {
            assert!(is_public(&public.parse().unwrap()), "{public}");
        }
    }
}
