//! The address a request comes from, as the call log, the OAuth event lines and the per-address
//! limits (`crate::http::rate_limit`) see it.
//!
//! By default that is the peer of the TCP connection, which nobody can forge. Behind a reverse
//! proxy or a tunnel every request comes from the proxy, so all clients would share one address;
//! there the operator names the proxy with `--trusted-proxy`, and the address it appended to
//! `X-Forwarded-For` is used instead (entries before it are whatever the client sent, so they
//! are believed only while the hop that added them is trusted too).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use warp::Filter;
use warp::http::{HeaderMap, HeaderValue};

use crate::http::public_address::is_public;

/// The connection's peer address, put on every request by `http::server::run` (warp's own is
/// private to it).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The address of the connection a request came on.
pub fn peer_addr() -> impl warp::Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<PeerAddr>().map(|addr: Option<PeerAddr>| addr.map(|a| a.0))
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Which peers are believed about the client's address, and the first peer seen sending
/// `X-Forwarded-For` without being one of them (the sign of a proxy or tunnel nobody named).
pub struct Forwarding {
    trusted: Vec<IpAddr>,
    untrusted_proxy: OnceLock<IpAddr>,
}

impl Forwarding {
    pub fn new(trusted: &[IpAddr]) -> Forwarding {
        Forwarding { trusted: trusted.to_vec(), untrusted_proxy: OnceLock::new() }
    }

    /// The first peer that sent `X-Forwarded-For` from a loopback or private address without
    /// being a `--trusted-proxy`: every client behind it shares its address.
    pub fn untrusted_proxy(&self) -> Option<IpAddr> {
        self.untrusted_proxy.get().copied()
    }

    /// Warns once about such a peer. Only a non-public peer counts: a client on the internet may
    /// send the header for its own reasons, and must not be the one the warning names.
    fn note_forwarding_peer(&self, peer: IpAddr) {
        if is_public(&peer) || self.untrusted_proxy.get().is_some() {
            return;
        }
        if self.untrusted_proxy.set(peer).is_err() {
            return; // another request set it first, and warned
        }
        tracing::warn!(
            %peer,
            "requests from {peer} carry X-Forwarded-For, but {peer} is not a --trusted-proxy: every client \
             behind that proxy or tunnel shares its address, for the per-address limits, the lockout and the \
             log. If {peer} is your proxy or tunnel, start gpt-todo with --trusted-proxy {peer} \
             (GPT_TODO_TRUSTED_PROXY={peer})"
        );
    }
}

/// The address of the client a request comes from: the connection's peer, or, when the peer is
/// one of the trusted proxies, the address that proxy put in `X-Forwarded-For` (the rightmost
/// entry; walked leftwards while the hop is itself trusted). Anyone can send the header, so it is
/// believed only from a proxy the operator named (`--trusted-proxy`).
pub fn client_address(
    forwarding: &Arc<Forwarding>,
) -> impl Filter<Extract = (IpAddr,), Error = Infallible> + Clone + use<> {
    let forwarding = forwarding.clone();
    let forwarded_for = warp::header::optional::<String>(X_FORWARDED_FOR).or(warp::any().map(|| None)).unify();
    peer_addr().and(forwarded_for).map(move |peer: Option<SocketAddr>, forwarded_for: Option<String>| {
        // Every connection of `server::run` has a peer; anything else shares one bucket.
        let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip().to_canonical());
        if forwarded_for.is_some() && !forwarding.trusted.contains(&peer) {
            forwarding.note_forwarding_peer(peer);
        }
        client_ip(peer, forwarded_for.as_deref(), &forwarding.trusted)
    })
}

/// Joins every `X-Forwarded-For` line of a request into one, as RFC 9110 §5.3 allows for a list
/// field: a proxy may append its own line (HAProxy's `option forwardfor` does), and reading only
/// the first would let the client's own line pick the address. Called by the server loop for
/// every request; a request with one line or none costs a header look-up.
pub fn join_forwarded_for(headers: &mut HeaderMap) {
    let mut lines = headers.get_all(X_FORWARDED_FOR).iter();
    if lines.next().is_none() || lines.next().is_none() {
        return;
    }
    let mut joined = Vec::new();
    for line in headers.get_all(X_FORWARDED_FOR) {
        if !joined.is_empty() {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(line.as_bytes());
    }
    match HeaderValue::from_bytes(&joined) {
        Ok(value) => {
            headers.insert(X_FORWARDED_FOR, value);
        }
        // Not possible for lines that were values themselves; never fall back to the first line.
        Err(_) => {
            headers.remove(X_FORWARDED_FOR);
        }
    }
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
    use super::{HeaderMap, HeaderValue, X_FORWARDED_FOR, client_ip, join_forwarded_for};

    #[test]
    fn every_forwarded_for_line_is_read_and_the_last_hop_wins() {
        let mut headers = HeaderMap::new();
        // The client's own line first, then the one the proxy appended (HAProxy's forwardfor).
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.1, 203.0.113.7"));
        join_forwarded_for(&mut headers);
        let joined = headers.get(X_FORWARDED_FOR).unwrap().to_str().unwrap();
        assert_eq!(joined, "6.6.6.6, 198.51.100.1, 203.0.113.7");
        assert_eq!(headers.get_all(X_FORWARDED_FOR).iter().count(), 1);
        let proxy = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(proxy, Some(joined), &[proxy]), "203.0.113.7".parse::<std::net::IpAddr>().unwrap());
    }

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
