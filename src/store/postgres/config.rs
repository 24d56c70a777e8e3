//! A PostgreSQL URL as libpq reads it, for a driver that reads less of it. rust-postgres parses
//! the URL itself, but knows only `disable`/`prefer`/`require` for `sslmode`, no `sslrootcert`,
//! and reads neither `PGPASSWORD` nor `~/.pgpass`: those are done here, as libpq does them
//! (PostgreSQL docs, libpq §34.1.2 "Parameter Key Words", §34.15 "The Password File").
//! The password never leaves this value except to the driver: `Display` and `Debug` redact it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::config::Host;

/// How long a connection attempt may take before the database counts as unreachable (libpq's
/// `connect_timeout`; the URL may set its own).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// TCP keepalive idle time, so a database host that vanished (no RST) is noticed in about a
/// minute rather than the kernel's two hours.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);

/// libpq's `sslmode`s (§34.19.1 "Client Verification of Server Certificates"; `allow` is not
/// offered: a plaintext first try buys nothing here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, unverified (libpq's default).
    Prefer,
    /// TLS or no connection; unverified, unless a root certificate is given (then as
    /// `VerifyCa`, as libpq does when `root.crt` exists).
    Require,
    /// TLS, with the server's certificate chained to a trusted root; any host name.
    VerifyCa,
    /// TLS, chained to a trusted root and naming the host connected to.
    VerifyFull,
}

/// A parsed `--db postgres://…`, with the password found (URL, `PGPASSWORD`, or the password file).
#[derive(Clone)]
pub struct PgConfig {
    pub(super) driver: postgres::Config,
    pub(super) ssl: SslMode,
    /// `sslrootcert`: PEM roots to trust; without one, `verify-ca`/`verify-full` trust the
    /// Mozilla roots compiled in (libpq would look for `~/.postgresql/root.crt`, read too).
    pub(super) root_cert: Option<PathBuf>,
    /// The URL as given, its password replaced: what `Display` shows.
    shown: String,
}

impl PgConfig {
    /// Reads a `postgres://` or `postgresql://` URL. Errors never quote the URL.
    pub fn parse(url: &str) -> Result<PgConfig, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ssl = SslMode::Prefer;
        let mut root_cert = None;
        let mut passed = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            match key {
                "sslmode" => ssl = parse_ssl_mode(&value)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                _ => passed.push(pair),
            }
        }
        // libpq reads the scheme case-insensitively; rust-postgres only in lower case.
        let base = match base.split_once("://") {
            Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
            None => base.to_owned(),
        };
        let rebuilt = if passed.is_empty() { base } else { format!("{base}?{}", passed.join("&")) };
        let mut driver: postgres::Config =
            rebuilt.parse().map_err(|e| format!("--db is not a PostgreSQL URL libpq would accept: {e}"))?;
        if driver.get_hosts().is_empty() {
            return Err("--db postgres:// needs a host (postgres://USER@HOST/DB, or ?host=/run/postgresql)".into());
        }
        driver.ssl_mode(match ssl {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        if driver.get_connect_timeout().is_none() {
            driver.connect_timeout(CONNECT_TIMEOUT);
        }
        if !query.contains("keepalives_idle=") {
            driver.keepalives(true).keepalives_idle(KEEPALIVES_IDLE);
        }
        driver.application_name("gpt-todo");
        if driver.get_password().is_none()
            && let Some(password) = find_password(&driver, |name| std::env::var_os(name))
        {
            driver.password(password);
        }
        let root_cert = root_cert.or_else(default_root_cert);
        if ssl == SslMode::Require && root_cert.is_some() {
            ssl = SslMode::VerifyCa;
        }
        Ok(PgConfig { driver, ssl, root_cert, shown: redacted(url) })
    }

    /// The driver's configuration (password included): for the pool only.
    pub(super) fn driver(&self) -> &postgres::Config {
        &self.driver
    }
}

impl fmt::Display for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgConfig({})", self.shown)
    }
}

fn parse_ssl_mode(value: &str) -> Result<SslMode, String> {
    Ok(match value {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        other => {
            return Err(format!(
                "--db: sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            ));
        }
    })
}

/// libpq reads `~/.postgresql/root.crt` when it exists.
fn default_root_cert() -> Option<PathBuf> {
    let path = Path::new(&std::env::var_os("HOME")?).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

/// The URL with the password of its user-info part, and any `password=` parameter, replaced by
/// `***`.
pub fn redacted(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut shown = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&pairs.join("&"));
    }
    shown
}

/// `PGPASSWORD`, else the password file's first matching line (libpq §34.15): `PGPASSFILE` or
/// `~/.pgpass`, ignored (as libpq does) when group or others can read it.
fn find_password(config: &postgres::Config, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<String> {
    if let Some(password) = env("PGPASSWORD").and_then(|p| p.into_string().ok()) {
        return Some(password);
    }
    let file = match env("PGPASSFILE") {
        Some(file) => PathBuf::from(file),
        None => Path::new(&env("HOME")?).join(".pgpass"),
    };
    let metadata = std::fs::metadata(&file).ok()?;
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %file.display(), "password file has group or world access; ignored (as libpq does)");
            return None;
        }
    }
    let text = std::fs::read_to_string(&file).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(host) => host.clone(),
        // §34.15: a socket connection matches `localhost`.
        Host::Unix(_) => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = config.get_user().map(str::to_owned).or_else(|| env("USER").and_then(|u| u.into_string().ok()))?;
    let dbname = config.get_dbname().unwrap_or(&user).to_owned();
    pgpass_lookup(&text, [&host, &port, &dbname, &user])
}

/// The password of the first line whose four fields match (`*` matches anything; `\` escapes
/// `:` and `\`).
fn pgpass_lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let fields = pgpass_fields(line);
        if fields.len() < 5 {
            return None;
        }
        let matches = fields.iter().zip(wanted).all(|(field, want)| field == "*" || field == want);
        matches.then(|| fields[4..].join(":"))
    })
}

fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("never empty").extend(chars.next()),
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("never empty").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_redacted_in_the_user_info_and_in_a_parameter() {
        assert_eq!(redacted("postgres://u:s3cret@h:5/db?sslmode=require"), "postgres://u:***@h:5/db?sslmode=require");
        assert_eq!(redacted("postgresql://u@h/db?password=s3cret&x=1"), "postgresql://u@h/db?password=***&x=1");
        assert_eq!(redacted("postgres://h/db"), "postgres://h/db");
        let config = PgConfig::parse("postgres://u:s3cret@h/db").unwrap();
        assert!(!format!("{config} {config:?}").contains("s3cret"));
    }

    #[test]
    fn libpq_sslmodes_are_read_and_a_wrong_one_is_refused_without_the_url() {
        let mode = |url: &str| PgConfig::parse(url).map(|c| c.ssl);
        assert_eq!(mode("postgres://u@h/db").unwrap(), SslMode::Prefer);
        assert_eq!(mode("postgres://u@h/db?sslmode=verify-full").unwrap(), SslMode::VerifyFull);
        assert_eq!(mode("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/x.pem").unwrap(), SslMode::VerifyCa);
        let refused = mode("postgres://u:s3cret@h/db?sslmode=sometimes").unwrap_err();
        assert!(refused.contains("sometimes") && !refused.contains("s3cret"), "{refused}");
    }

    #[test]
    fn the_password_file_matches_field_by_field_with_wildcards_and_escapes() {
        let file = "# comment\nother:5432:db:u:no\nh:5432:*:u:yes\\:colon\n*:*:*:*:fallback\n";
        assert_eq!(pgpass_lookup(file, ["h", "5432", "db", "u"]).as_deref(), Some("yes:colon"));
        assert_eq!(pgpass_lookup(file, ["x", "1", "db", "v"]).as_deref(), Some("fallback"));
        assert_eq!(pgpass_lookup("h:5432:db:u:p", ["h", "5433", "db", "u"]), None);
    }

    #[test]
    fn pgpassword_fills_a_url_without_a_password_and_never_beats_the_urls() {
        let config: postgres::Config = "postgres://u@h/db".parse().unwrap();
        let env = |name: &str| (name == "PGPASSWORD").then(|| "from-env".into());
        assert_eq!(find_password(&config, env).as_deref(), Some("from-env"));
        let given = PgConfig::parse("postgres://u:in-url@h/db").unwrap();
        assert_eq!(given.driver.get_password(), Some(&b"in-url"[..]));
    }
}
