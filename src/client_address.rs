//! The address a request comes from, as the per-address limits see it.
//!
//! By default that is the peer of the TCP connection, which nobody can forge. Behind a reverse
//! proxy or a tunnel every request comes from the proxy, so all clients would share one address;
//! there `--trust-forwarded-for` takes the last entry of `X-Forwarded-For` instead, the one the
//! proxy itself appended (entries before it are whatever the client sent, so they are never
//! used). Only turn it on when the listener is reachable through the proxy alone: anyone who can
//! connect directly could then pick their own address.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use warp::Filter;
use warp::http::HeaderMap;

/// The client's address; never rejects. A connection without a socket address (not TCP) counts
/// as the unspecified address, one shared bucket.
pub fn client_address(trust_forwarded_for: bool) -> impl Filter<Extract = (IpAddr,), Error = Infallible> + Clone {
    warp::addr::remote().and(warp::header::headers_cloned()).map(move |peer: Option<SocketAddr>, headers: HeaderMap| {
        let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip());
        if trust_forwarded_for { forwarded_for(&headers).unwrap_or(peer) } else { peer }
    })
}

/// The last address in the last `X-Forwarded-For` header (RFC 7239 §5.2 describes the same
/// chain for `Forwarded`: each proxy appends the address it received the request from).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last_header = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last_entry = last_header.to_str().ok()?.rsplit(',').next()?.trim();
    last_entry.parse::<IpAddr>().ok().or_else(|| last_entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_proxys_own_entry_is_the_last_one() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(forwarded_for(&headers(&["203.0.113.9"])), ip("203.0.113.9"));
        assert_eq!(forwarded_for(&headers(&["1.1.1.1, 203.0.113.9"])), ip("203.0.113.9"));
        assert_eq!(forwarded_for(&headers(&["1.1.1.1", "2001:db8::1"])), ip("2001:db8::1"));
        assert_eq!(forwarded_for(&headers(&["203.0.113.9:4711"])), ip("203.0.113.9"));
        assert_eq!(forwarded_for(&headers(&["1.1.1.1, not-an-address"])), None);
        assert_eq!(forwarded_for(&headers(&[])), None);
    }
}
