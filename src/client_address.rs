//! The address a request comes from, as the call log, the OAuth event lines and the per-address
//! limits (`crate::rate_limit`) see it.
//!
//! By default that is the peer of the TCP connection, which nobody can forge. Behind a reverse
//! proxy or a tunnel every request comes from the proxy, so all clients would share one address;
//! there the operator names the proxy with `--trusted-proxy`, and the address it appended to
//! `X-Forwarded-For` is used instead (entries before it are whatever the client sent, so they
//! are believed only while the hop that added them is trusted too).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use warp::Filter;

/// The address of the client a request comes from: the connection's peer, or, when the peer is
/// one of `trusted` proxies, the address that proxy put in `X-Forwarded-For` (the rightmost
/// entry; walked leftwards while the hop is itself trusted). Anyone can send the header, so it is
/// believed only from a proxy the operator named (`--trusted-proxy`).
pub fn client_address(trusted: &[IpAddr]) -> impl Filter<Extract = (IpAddr,), Error = Infallible> + Clone + use<> {
    let trusted: Arc<[IpAddr]> = trusted.into();
    let forwarded_for = warp::header::optional::<String>("x-forwarded-for").or(warp::any().map(|| None)).unify();
    crate::server::client_addr().and(forwarded_for).map(
        move |peer: Option<SocketAddr>, forwarded_for: Option<String>| {
            // Every connection of `server::run` has a peer; anything else shares one bucket.
            let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip().to_canonical());
            client_ip(peer, forwarded_for.as_deref(), &trusted)
        },
    )
}

fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    let mut ip = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',') {
        if !trusted.contains(&ip) {
            break;
        }
        match hop.trim().parse::<IpAddr>() {
            Ok(hop) => ip = hop.to_canonical(),
            Err(_) => break,
        }
    }
    ip
}

#[cfg(test)]
mod tests {
    use super::client_ip;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy = "127.0.0.1".parse().unwrap();
        let client = "203.0.113.7".parse().unwrap();
        assert_eq!(client_ip(proxy, Some("198.51.100.1, 203.0.113.7"), &[proxy]), client);
        assert_eq!(client_ip(proxy, Some("203.0.113.7"), &[]), proxy, "no proxy trusted");
        assert_eq!(client_ip(client, Some("198.51.100.1"), &[proxy]), client, "the client cannot claim an address");
        assert_eq!(client_ip(proxy, Some("junk"), &[proxy]), proxy);
    }
}
