//! A browser as the server sees one, for the OAuth pages: it keeps the session cookie, sends
//! the page's hidden fields (CSRF token, the authorization request) back with each form, and does
//! not follow redirects, so a test sees every 303 and where it points.

use std::collections::HashMap;

use crate::common::TestServer;

/// A cookie-keeping client that does not follow redirects, like a browser seen from the server.
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    pub cookie: Option<String>,
    /// Sent with form posts, as browsers do.
    pub origin: Option<String>,
    /// Sent with every request, as a reverse proxy in front of the server would add it.
    pub forwarded_for: Option<String>,
}

/// An HTML response.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> &str {
        self.header("location").unwrap_or_else(|| panic!("expected a redirect, got {} {}", self.status, self.body))
    }

    /// The query parameters of the redirect's target.
    pub fn redirect_params(&self) -> HashMap<String, String> {
        let query = self.location().split_once('?').map(|(_, q)| q).unwrap_or("");
        form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    /// The hidden fields the page's forms carry (CSRF token and the authorization request).
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        for input in self.body.split("<input type=\"hidden\" ").skip(1) {
            let attribute = |name: &str| {
                let start = input.find(&format!("{name}=\""))? + name.len() + 2;
                let end = input[start..].find('"')? + start;
                Some(unescape(&input[start..end]))
            };
            if let (Some(name), Some(value)) = (attribute("name"), attribute("value"))
                && name != "action"
                && !fields.iter().any(|(n, _)| *n == name)
            {
                fields.push((name, value));
            }
        }
        fields
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Browser { agent, base: server.base.clone(), cookie: None, origin: None, forwarded_for: None }
    }

    /// A browser on another machine: its connections come from `address` (a 127.x.y.z).
    pub fn from_address(server: &TestServer, address: std::net::IpAddr) -> Browser {
        Browser { agent: crate::common::source_address::http_from(address), ..Browser::new(server) }
    }

    pub fn get(&mut self, path_or_url: &str) -> Page {
        let url = if path_or_url.starts_with('/') { format!("{}{path_or_url}", self.base) } else { path_or_url.into() };
        let mut request = self.agent.get(&url);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        if let Some(address) = &self.forwarded_for {
            request = request.header("X-Forwarded-For", address);
        }
        self.keep(request.call())
    }

    pub fn post(&mut self, page: &Page, action: &str, extra: &[(&str, &str)]) -> Page {
        let mut fields = page.hidden_fields();
        fields.push(("action".into(), action.into()));
        fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post_fields(&fields)
    }

    pub fn post_fields(&mut self, fields: &[(String, String)]) -> Page {
        let mut request = self.agent.post(format!("{}/api/oauth2/authorize", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        if let Some(origin) = &self.origin {
            request = request.header("Origin", origin);
        }
        if let Some(address) = &self.forwarded_for {
            request = request.header("X-Forwarded-For", address);
        }
        self.keep(request.send_form(fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    pub fn keep(&mut self, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
        let mut response = response.expect("HTTP request failed");
        let headers = response.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Page { status: response.status().as_u16(), headers, body }
    }

    /// Signs in on the login page and follows the 303 back to the (consent) page.
    pub fn log_in(&mut self, login_page: &Page, email: &str, password: &str) -> Page {
        let after = self.post(login_page, "login", &[("email", email), ("password", password)]);
        assert_eq!(after.status, 303, "signing in should redirect: {}", after.body);
        let location = after.location().to_owned();
        self.get(&location)
    }
}
