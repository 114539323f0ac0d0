//! Typed configuration, read from the environment (and an optional `.env` file) and validated
//! once at start-up. `RAGTIME_CONFIG` picks one of the four configurations of the Flask
//! original; every refusal names the variable to fix.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

mod database;
mod media;
mod secret_key;
pub use database::DeployConfig;
pub use media::{MediaConfig, MediaStoreConfig};

/// The four configurations of the Flask original (`FLASK_CONFIG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigName {
    Development,
    Testing,
    Production,
    Heroku,
}

impl ConfigName {
    fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "development" | "default" => Some(Self::Development),
            "testing" => Some(Self::Testing),
            "production" => Some(Self::Production),
            "heroku" => Some(Self::Heroku),
            _ => None,
        }
    }

    /// `RAGTIME_CONFIG`, development when unset.
    fn read(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = var("RAGTIME_CONFIG").unwrap_or_default();
        Self::parse(&raw).ok_or_else(|| {
            refuse(
                "RAGTIME_CONFIG",
                format!(
                    "unknown configuration {raw:?}; use development, testing, production or heroku"
                ),
            )
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Testing => "testing",
            Self::Production => "production",
            Self::Heroku => "heroku",
        }
    }

    /// Production-like configurations refuse weak settings and never migrate on start.
    pub fn is_production_like(self) -> bool {
        matches!(self, Self::Production | Self::Heroku)
    }
}

impl fmt::Display for ConfigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A start-up refusal: one line naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration error: {}: {}",
            self.variable, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn refuse(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

/// Minimum length of `SECRET_KEY` in production-like configurations.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// The avatar service SPEC §3 names, for `RAGTIME_AVATAR_URL`; by default the site draws its
/// own avatars (`/avatar/<key>.svg`), so no page waits on another host.
pub const UNICORNIFY_AVATAR_URL: &str = "https://unicornify.pictures/avatar/";

#[derive(Clone)]
pub struct MailConfig {
    pub server: Option<String>,
    pub port: u16,
    pub use_tls: bool,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub sender: String,
    pub subject_prefix: String,
    /// Days a sent or given-up message is kept before it is deleted
    /// (`RAGTIME_MAIL_RETENTION_DAYS`): its body holds signed links, its recipient an address.
    pub retention_days: u32,
    /// Attempts after which a message the relay keeps refusing for now (4xx) is given up
    /// (`RAGTIME_MAIL_MAX_ATTEMPTS`); a permanent refusal (5xx) gives it up at once.
    pub max_attempts: i32,
}

/// What `RAGTIME_MAIL_RETENTION_DAYS` is when unset.
pub const MAIL_RETENTION_DAYS: u32 = 7;
/// What `RAGTIME_MAIL_MAX_ATTEMPTS` is when unset: with the backoff (30 s doubling to 6 h),
/// about two days of retrying.
pub const MAIL_MAX_ATTEMPTS: i32 = 16;

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("use_tls", &self.use_tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("sender", &self.sender)
            .field("subject_prefix", &self.subject_prefix)
            .field("retention_days", &self.retention_days)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// Limits on authentication attempts and on requests that send mail, per fixed window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub window: Duration,
    /// Failed logins for one account (its email address) per window.
    pub login_per_account: i64,
    /// Failed logins from one client address per window.
    pub login_per_address: i64,
    /// Registrations, confirmation resends and reset requests for one account per window.
    pub mail_per_account: i64,
    /// The same requests from one client address per window.
    pub mail_per_address: i64,
    /// Reads of the API without credentials from one client address per minute.
    pub api_anonymous_reads_per_minute: i64,
}

/// Which `X-Forwarded-*` values to believe (see `web::client`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    /// How many reverse proxies in front of us append to `X-Forwarded-*` (1 on Heroku).
    pub hops: usize,
    /// The site's public host (and port): every absolute URL, mailed link and redirect uses
    /// it, whatever the request says.
    pub server_name: String,
    /// The public site is served over HTTPS (production, or HTTPS enforced as on a Heroku
    /// dyno): absolute URLs say https even when a request reached us over plain HTTP.
    pub https: bool,
}

impl Proxies {
    /// The site's origin as absolute URLs written outside any request use it (mail written by
    /// the worker): https when the public site is, the host without the scheme's default port.
    pub fn origin(&self) -> String {
        let (scheme, default_port) = if self.https {
            ("https", ":443")
        } else {
            ("http", ":80")
        };
        let host = self
            .server_name
            .strip_suffix(default_port)
            .unwrap_or(&self.server_name);
        format!("{scheme}://{host}")
    }
}

#[derive(Clone)]
pub struct Config {
    pub name: ConfigName,
    pub secret_key: SecretString,
    /// True when no `SECRET_KEY` was given and a random one was generated (development only).
    pub secret_key_generated: bool,
    /// Where that generated key is kept across restarts (development, see `from_env`).
    pub secret_key_file: Option<std::path::PathBuf>,
    pub database_url: SecretString,
    pub database_pool_size: u32,
    /// How long a request waits for a database connection before answering 503.
    pub database_acquire_timeout: Duration,
    /// Longest a statement may run on PostgreSQL; `None` for no limit.
    pub database_statement_timeout: Option<Duration>,
    /// Address to bind; `None` means "all interfaces" (`[::]` dual-stack, falling back to IPv4).
    pub host: Option<std::net::IpAddr>,
    pub port: u16,
    /// The reverse proxies in front of us, and the host name the site goes by.
    pub proxies: Proxies,
    pub https_redirect: bool,
    pub content_security_policy: String,
    /// A third-party avatar service's base URL; empty: our own avatars.
    pub avatar_base_url: String,
    pub compositions_per_page: u64,
    pub followers_per_page: u64,
    pub comments_per_page: u64,
    pub admin_email: Option<String>,
    pub mail: MailConfig,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// How long a connection may take to send a request's head (and a new one to begin it).
    pub header_timeout: Duration,
    /// Connections a process holds at most; more wait in the listen queue.
    pub max_connections: usize,
    pub max_body_bytes: usize,
    pub rate_limits: RateLimits,
    /// Create and migrate the database on start (development and testing only).
    pub auto_migrate: bool,
    pub media: MediaConfig,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("secret_key", &"[redacted]")
            .field("database_url", &"[redacted]")
            .field("database_pool_size", &self.database_pool_size)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("proxies", &self.proxies)
            .field("https_redirect", &self.https_redirect)
            .field("mail", &self.mail)
            .field("media", &self.media)
            .finish_non_exhaustive()
    }
}

/// Where variables come from: the process environment in production, a map in tests.
pub trait Source {
    fn get(&self, key: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, key: &str) -> Option<String> {
        self(key)
    }
}

/// The process environment, after loading `.env` if there is one (like `heroku local`).
pub struct Environment;

impl Source for Environment {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// Load `.env` into the environment: a missing one is normal, a malformed one is refused.
fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(refuse(".env", format!("cannot be read: {e}"))),
    }
}

/// The variables of `source` that are set to something: an empty value counts as unset.
fn present(source: &impl Source) -> impl Fn(&str) -> Option<String> + '_ {
    |key: &str| source.get(key).filter(|v| !v.trim().is_empty())
}

impl Config {
    /// Read the process environment (and `.env`, whose values never override real ones). In
    /// development without `SECRET_KEY`, the key is kept in a file beside the database, so a
    /// restart keeps every signed link, form and token valid.
    pub fn from_env() -> Result<Self, ConfigError> {
        load_dotenv()?;
        let mut config = Self::from_source(&Environment)?;
        config.keep_development_key()?;
        Ok(config)
    }

    pub fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        let var = present(source);
        let name = ConfigName::read(&var)?;

        let (secret_key, secret_key_generated) = match var("SECRET_KEY") {
            Some(key) if name.is_production_like() && key.len() < MIN_SECRET_KEY_BYTES => {
                return Err(refuse(
                    "SECRET_KEY",
                    format!(
                        "must be at least {MIN_SECRET_KEY_BYTES} bytes in the {name} configuration \
                         (generate one with `openssl rand -hex 32`)"
                    ),
                ));
            }
            Some(key) => (SecretString::from(key), false),
            None if name.is_production_like() => {
                return Err(refuse(
                    "SECRET_KEY",
                    format!(
                        "is required in the {name} configuration (at least {MIN_SECRET_KEY_BYTES} bytes)"
                    ),
                ));
            }
            None => (SecretString::from(crate::crypto::random_token(32)), true),
        };

        let database_url = database::database_url(name, &var)?;

        let https_redirect = match var("HTTPS_REDIRECT") {
            Some(v) => parse_bool("HTTPS_REDIRECT", &v)?,
            // The lesson's rule: only on a real dyno, so `heroku local` stays on http.
            None => name == ConfigName::Heroku && var("DYNO").is_some(),
        };

        let proxy_hops = match var("RAGTIME_PROXY_HOPS") {
            Some(v) => parse_number("RAGTIME_PROXY_HOPS", &v, 0, 10)?,
            None if name == ConfigName::Heroku => 1,
            None => 0,
        };

        let port = match var("PORT") {
            Some(v) => parse_number("PORT", &v, 0, 65535)? as u16,
            None => 5000,
        };
        // On Heroku the app's default domain can come from the dyno metadata
        // (`heroku labs:enable runtime-dyno-metadata`).
        let server_name = var("RAGTIME_SERVER_NAME").or_else(|| {
            (name == ConfigName::Heroku)
                .then(|| var("HEROKU_APP_DEFAULT_DOMAIN_NAME"))
                .flatten()
        });
        let server_name = match server_name {
            Some(v) if valid_server_name(&v) => Some(v.to_ascii_lowercase()),
            Some(v) => {
                return Err(refuse(
                    "RAGTIME_SERVER_NAME",
                    format!("{v:?} is not a host name (with an optional :port)"),
                ));
            }
            None if name.is_production_like() => {
                return Err(refuse(
                    "RAGTIME_SERVER_NAME",
                    "is required in production and heroku: the site's public host name, which \
                     mailed links point to (your domain, or the app's \
                     <app>-<random>.herokuapp.com domain that `heroku domains` shows; on \
                     Heroku, `heroku labs:enable runtime-dyno-metadata` gives it to the dyno)",
                ));
            }
            None => None,
        };

        let host = match var("RAGTIME_HOST") {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| refuse("RAGTIME_HOST", format!("{v:?} is not an IP address")))?,
            ),
            None if name.is_production_like() => None,
            None => Some(std::net::Ipv4Addr::LOCALHOST.into()),
        };
        // In development and testing, links point where the server listens.
        let server_name = server_name.unwrap_or_else(|| {
            let ip = host.unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
            std::net::SocketAddr::new(ip, port).to_string()
        });

        let avatar_base_url = var("RAGTIME_AVATAR_URL").unwrap_or_default();
        let avatar_origin = if avatar_base_url.is_empty() {
            String::new()
        } else {
            url::Url::parse(&avatar_base_url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .map(|u| u.origin().ascii_serialization())
                .ok_or_else(|| {
                    refuse(
                        "RAGTIME_AVATAR_URL",
                        format!("{avatar_base_url:?} is not an http(s) URL"),
                    )
                })?
        };
        let media = MediaConfig::read(name, &var)?;
        let content_security_policy = var("RAGTIME_CSP")
            .unwrap_or_else(|| default_csp(&avatar_origin, media.store.origin().as_deref()));

        let mail = MailConfig {
            server: var("MAIL_SERVER"),
            port: match var("MAIL_PORT") {
                Some(v) => parse_number("MAIL_PORT", &v, 1, 65535)? as u16,
                None => 587,
            },
            use_tls: match var("MAIL_USE_TLS") {
                Some(v) => parse_bool("MAIL_USE_TLS", &v)?,
                None => true,
            },
            username: var("MAIL_USERNAME"),
            password: var("MAIL_PASSWORD").map(SecretString::from),
            sender: var("RAGTIME_MAIL_SENDER")
                .unwrap_or_else(|| "Ragtime Admin <ragtime@example.com>".into()),
            subject_prefix: var("RAGTIME_MAIL_SUBJECT_PREFIX")
                .unwrap_or_else(|| "[Ragtime]".into()),
            retention_days: match var("RAGTIME_MAIL_RETENTION_DAYS") {
                Some(v) => parse_number("RAGTIME_MAIL_RETENTION_DAYS", &v, 0, 3650)? as u32,
                None => MAIL_RETENTION_DAYS,
            },
            max_attempts: match var("RAGTIME_MAIL_MAX_ATTEMPTS") {
                Some(v) => parse_number("RAGTIME_MAIL_MAX_ATTEMPTS", &v, 1, 100)? as i32,
                None => MAIL_MAX_ATTEMPTS,
            },
        };

        let admin_email = var("RAGTIME_ADMIN").map(|a| a.trim().to_lowercase());

        let number = |key: &'static str, default: u64, min: u64, max: u64| match var(key) {
            Some(v) => parse_number(key, &v, min, max),
            None => Ok(default),
        };

        // SQLite in memory lives in one connection; a bigger pool would see empty databases.
        let pool_default = if database_url.expose_secret().contains(":memory:") {
            1
        } else {
            5
        };

        Ok(Config {
            name,
            secret_key,
            secret_key_generated,
            secret_key_file: None,
            database_pool_size: number("DATABASE_POOL_SIZE", pool_default, 1, 1000)? as u32,
            database_acquire_timeout: Duration::from_millis(number(
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                1000,
                10,
                60_000,
            )?),
            database_statement_timeout: match number(
                "DATABASE_STATEMENT_TIMEOUT_MS",
                10_000,
                0,
                3_600_000,
            )? {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            database_url,
            host,
            port,
            proxies: Proxies {
                hops: proxy_hops as usize,
                server_name,
                // On a dyno HTTPS is enforced; `heroku local` stays on http, links included.
                https: name == ConfigName::Production || https_redirect,
            },
            https_redirect,
            content_security_policy,
            avatar_base_url,
            compositions_per_page: number("RAGTIME_COMPOSITIONS_PER_PAGE", 20, 1, 1000)?,
            followers_per_page: number("RAGTIME_FOLLOWERS_PER_PAGE", 50, 1, 1000)?,
            comments_per_page: number("RAGTIME_COMMENTS_PER_PAGE", 30, 1, 1000)?,
            admin_email,
            mail,
            request_timeout: Duration::from_secs(number("RAGTIME_REQUEST_TIMEOUT", 30, 1, 3600)?),
            shutdown_timeout: Duration::from_secs(number("RAGTIME_SHUTDOWN_TIMEOUT", 25, 1, 3600)?),
            header_timeout: Duration::from_secs(number("RAGTIME_HEADER_TIMEOUT", 5, 1, 3600)?),
            max_connections: number("RAGTIME_MAX_CONNECTIONS", 512, 1, 1_000_000)? as usize,
            max_body_bytes: number("RAGTIME_MAX_BODY_BYTES", 1024 * 1024, 1024, 1 << 30)? as usize,
            rate_limits: RateLimits {
                window: Duration::from_secs(number("RAGTIME_RATE_LIMIT_WINDOW", 900, 1, 86400)?),
                login_per_account: number("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", 10, 1, 1_000_000)?
                    as i64,
                login_per_address: number("RAGTIME_LOGIN_LIMIT_PER_ADDRESS", 50, 1, 1_000_000)?
                    as i64,
                mail_per_account: number("RAGTIME_MAIL_LIMIT_PER_ACCOUNT", 5, 1, 1_000_000)? as i64,
                mail_per_address: number("RAGTIME_MAIL_LIMIT_PER_ADDRESS", 20, 1, 1_000_000)?
                    as i64,
                api_anonymous_reads_per_minute: number(
                    "RAGTIME_API_ANONYMOUS_READS_PER_MINUTE",
                    300,
                    1,
                    1_000_000,
                )? as i64,
            },
            auto_migrate: !name.is_production_like(),
            media,
        })
    }

    /// Development without `SECRET_KEY`: use the key kept beside the database (made on the
    /// first start), so sessions' forms, mailed links and tokens outlive a restart.
    fn keep_development_key(&mut self) -> Result<(), ConfigError> {
        if !(self.secret_key_generated && self.name == ConfigName::Development) {
            return Ok(());
        }
        if let Some(path) = secret_key::file_for(self.database_url.expose_secret()) {
            self.secret_key = secret_key::load_or_create(&path)?;
            self.secret_key_file = Some(path);
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        !self.database_url.expose_secret().starts_with("sqlite:")
    }
}

/// Our pages use only our own scripts, styles and fonts; images may also come from the avatar
/// host, and audio from the media bucket when it is not served by us. Nothing inline is
/// allowed, so an injected `<script>` cannot run.
pub fn default_csp(avatar_origin: &str, media_origin: Option<&str>) -> String {
    let media = media_origin.map(|o| format!(" {o}")).unwrap_or_default();
    let avatars = if avatar_origin.is_empty() {
        String::new()
    } else {
        format!(" {avatar_origin}")
    };
    format!(
        "default-src 'self'; img-src 'self' data:{avatars}; media-src 'self'{media}; \
         script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'self'"
    )
}

/// A host name or address with an optional port, as it appears in a URL.
fn valid_server_name(value: &str) -> bool {
    url::Url::parse(&format!("http://{value}/"))
        .is_ok_and(|u| u.host_str().is_some() && u.path() == "/" && u.username().is_empty())
        && !value.contains(['/', '@', '?', '#'])
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(refuse(variable, format!("{value:?} is not true or false"))),
    }
}

pub(crate) fn parse_number(
    variable: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            refuse(
                variable,
                format!("{value:?} is not a whole number from {min} to {max}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_source(&move |k: &str| map.get(k).cloned())
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const PG: &str = "postgres://u:p@db.example.com:5432/ragtime";

    #[test]
    fn development_is_the_default_and_needs_nothing() {
        let c = config(&[]).unwrap();
        assert_eq!(c.name, ConfigName::Development);
        assert!(c.secret_key_generated);
        assert_eq!(
            c.database_url.expose_secret(),
            "sqlite://data-dev.sqlite?mode=rwc"
        );
        assert_eq!(c.host, Some(std::net::Ipv4Addr::LOCALHOST.into()));
        assert_eq!(c.port, 5000);
        assert!(c.auto_migrate);
        assert!(!c.https_redirect);
    }

    #[test]
    fn mail_is_kept_seven_days_and_tried_sixteen_times_unless_configured() {
        let c = config(&[]).unwrap();
        assert_eq!((c.mail.retention_days, c.mail.max_attempts), (7, 16));
        let c = config(&[
            ("RAGTIME_MAIL_RETENTION_DAYS", "30"),
            ("RAGTIME_MAIL_MAX_ATTEMPTS", "3"),
        ])
        .unwrap();
        assert_eq!((c.mail.retention_days, c.mail.max_attempts), (30, 3));
        for (variable, bad) in [
            ("RAGTIME_MAIL_RETENTION_DAYS", "a week"),
            ("RAGTIME_MAIL_RETENTION_DAYS", "-1"),
            ("RAGTIME_MAIL_MAX_ATTEMPTS", "0"),
        ] {
            assert_eq!(config(&[(variable, bad)]).unwrap_err().variable, variable);
        }
    }

    #[test]
    fn anonymous_api_reads_have_a_limit_per_minute_that_can_be_set() {
        let limit = |vars: &[(&str, &str)]| {
            config(vars)
                .map(|c| c.rate_limits.api_anonymous_reads_per_minute)
                .map_err(|e| e.variable)
        };
        let var = "RAGTIME_API_ANONYMOUS_READS_PER_MINUTE";
        assert_eq!(limit(&[]), Ok(300));
        assert_eq!(limit(&[(var, "60")]), Ok(60));
        assert_eq!(limit(&[(var, "0")]), Err(var));
        assert_eq!(limit(&[(var, "many")]), Err(var));
    }

    #[test]
    fn production_without_secret_key_is_refused_naming_it() {
        for name in ["production", "heroku"] {
            let err = config(&[("RAGTIME_CONFIG", name), ("DATABASE_URL", PG)]).unwrap_err();
            assert_eq!(err.variable, "SECRET_KEY");
            assert!(err.to_string().contains("SECRET_KEY"));
        }
    }

    #[test]
    fn production_with_short_secret_key_is_refused() {
        let err = config(&[
            ("RAGTIME_CONFIG", "production"),
            ("SECRET_KEY", "too-short"),
            ("DATABASE_URL", PG),
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "SECRET_KEY");
    }

    #[test]
    fn production_without_database_url_is_refused_naming_it() {
        let err = config(&[("RAGTIME_CONFIG", "production"), ("SECRET_KEY", KEY)]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
    }

    #[test]
    fn heroku_refuses_sqlite() {
        let err = config(&[
            ("RAGTIME_CONFIG", "heroku"),
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", "sqlite://data.sqlite"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(err.message.contains("ephemeral"));
    }

    #[test]
    fn unknown_config_name_and_bad_values_are_refused_naming_them() {
        assert_eq!(
            config(&[("RAGTIME_CONFIG", "staging")])
                .unwrap_err()
                .variable,
            "RAGTIME_CONFIG"
        );
        assert_eq!(config(&[("PORT", "http")]).unwrap_err().variable, "PORT");
        assert_eq!(
            config(&[("DATABASE_URL", "mysql://x/y")])
                .unwrap_err()
                .variable,
            "DATABASE_URL"
        );
        assert_eq!(
            config(&[("DATABASE_URL", "not a url")])
                .unwrap_err()
                .variable,
            "DATABASE_URL"
        );
        assert_eq!(
            config(&[("HTTPS_REDIRECT", "maybe")]).unwrap_err().variable,
            "HTTPS_REDIRECT"
        );
        assert_eq!(
            config(&[("DATABASE_POOL_SIZE", "0")]).unwrap_err().variable,
            "DATABASE_POOL_SIZE"
        );
    }

    #[test]
    fn heroku_trusts_one_proxy_and_redirects_only_on_a_dyno() {
        let base = [
            ("RAGTIME_CONFIG", "heroku"),
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", PG),
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ];
        let local = config(&base).unwrap();
        assert_eq!(local.proxies.hops, 1);
        assert!(!local.https_redirect, "heroku local must not redirect");
        assert_eq!(local.host, None, "heroku listens on all interfaces");

        assert!(!local.proxies.https, "heroku local links stay on http");

        let mut on_dyno = base.to_vec();
        on_dyno.push(("DYNO", "web.1"));
        assert!(config(&on_dyno).unwrap().https_redirect);
        assert!(
            config(&on_dyno).unwrap().proxies.https,
            "links say https on a dyno"
        );

        let mut forced = base.to_vec();
        forced.push(("DYNO", "web.1"));
        forced.push(("HTTPS_REDIRECT", "false"));
        assert!(!config(&forced).unwrap().https_redirect);
    }

    #[test]
    fn a_server_name_must_be_a_host_and_defaults_to_the_listening_address_in_development() {
        let c = config(&[("RAGTIME_PROXY_HOPS", "1"), ("PORT", "5001")]).unwrap();
        assert_eq!(c.proxies.server_name, "127.0.0.1:5001");
        let c = config(&[("RAGTIME_SERVER_NAME", "Ragtime.example:8443")]).unwrap();
        assert_eq!(c.proxies.server_name, "ragtime.example:8443");
        for bad in ["evil.example/x", "a@b", "exa mple.com", "https://x.example"] {
            assert_eq!(
                config(&[("RAGTIME_SERVER_NAME", bad)])
                    .unwrap_err()
                    .variable,
                "RAGTIME_SERVER_NAME",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn production_and_heroku_refuse_to_start_without_a_server_name() {
        for name in ["production", "heroku"] {
            let err = config(&[
                ("RAGTIME_CONFIG", name),
                ("SECRET_KEY", KEY),
                ("DATABASE_URL", PG),
                ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ])
            .unwrap_err();
            assert_eq!(err.variable, "RAGTIME_SERVER_NAME", "{name}");
        }
        // On Heroku, the dyno metadata's default domain will do.
        let c = config(&[
            ("RAGTIME_CONFIG", "heroku"),
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", PG),
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ("HEROKU_APP_DEFAULT_DOMAIN_NAME", "ragtime-1.herokuapp.com"),
        ])
        .unwrap();
        assert_eq!(c.proxies.server_name, "ragtime-1.herokuapp.com");
    }

    #[test]
    fn heroku_asks_postgres_for_tls_unless_the_url_decides() {
        let c = config(&[
            ("RAGTIME_CONFIG", "heroku"),
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", PG),
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ("HEROKU_APP_DEFAULT_DOMAIN_NAME", "ragtime-1.herokuapp.com"),
        ])
        .unwrap();
        assert!(c.database_url.expose_secret().ends_with("?sslmode=require"));
        let c = config(&[
            ("RAGTIME_CONFIG", "heroku"),
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", "postgresql://u:p@h/db?sslmode=disable"),
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ])
        .unwrap();
        assert!(c.database_url.expose_secret().ends_with("?sslmode=disable"));
    }

    #[test]
    fn media_is_a_local_directory_in_development_and_s3_in_production() {
        let c = config(&[]).unwrap();
        assert!(
            matches!(&c.media.store, MediaStoreConfig::Local { dir } if dir.ends_with("media"))
        );
        assert_eq!(c.media.max_track_bytes, 100 * 1024 * 1024);
        assert_eq!(c.media.quota_bytes, 1024 * 1024 * 1024);
        assert_eq!(c.media.max_tracks, 20);

        let prod = [
            ("RAGTIME_CONFIG", "production"),
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", PG),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = prod.to_vec();
            vars.push(("RAGTIME_SERVER_NAME", "ragtime.example.com"));
            vars.extend_from_slice(extra);
            config(&vars)
        };
        assert_eq!(with(&[]).unwrap_err().variable, "RAGTIME_MEDIA_URL");
        let c = with(&[
            ("RAGTIME_MEDIA_URL", "s3://tunes/ragtime/"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
        ])
        .unwrap();
        let MediaStoreConfig::S3 {
            bucket,
            prefix,
            region,
            endpoint,
            ..
        } = &c.media.store
        else {
            panic!("not S3: {:?}", c.media.store)
        };
        assert_eq!(
            (bucket.as_str(), prefix.as_str(), region.as_str()),
            ("tunes", "ragtime", "eu-west-1")
        );
        assert_eq!(*endpoint, None);
        assert!(!format!("{c:?}").contains("very-secret"));
        // The browser fetches presigned audio from the bucket: exactly that origin, no wider.
        assert!(
            c.content_security_policy
                .contains("media-src 'self' https://s3.eu-west-1.amazonaws.com;")
        );

        for bad in ["s3://", "s3://UPPER", "ftp://x/y", "file://"] {
            let e = with(&[("RAGTIME_MEDIA_URL", bad)]).unwrap_err();
            assert_eq!(e.variable, "RAGTIME_MEDIA_URL", "{bad}");
        }
        let e = with(&[
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ("AWS_ENDPOINT_URL", "nonsense"),
        ]);
        assert_eq!(e.unwrap_err().variable, "AWS_ENDPOINT_URL");
        let e = with(&[
            ("RAGTIME_MEDIA_URL", "file:///srv/x"),
            ("RAGTIME_MAX_TRACKS", "0"),
        ]);
        assert_eq!(e.unwrap_err().variable, "RAGTIME_MAX_TRACKS");
    }

    #[test]
    fn heroku_refuses_a_local_media_directory_on_a_dyno_and_reads_the_s3_addons() {
        let heroku = |extra: &[(&'static str, &'static str)]| {
            let mut vars = vec![
                ("RAGTIME_CONFIG", "heroku"),
                ("SECRET_KEY", KEY),
                ("DATABASE_URL", PG),
                ("RAGTIME_SERVER_NAME", "ragtime.herokuapp.com"),
            ];
            vars.extend_from_slice(extra);
            config(&vars)
        };
        let e = heroku(&[
            ("RAGTIME_MEDIA_URL", "file:///app/media"),
            ("DYNO", "web.1"),
        ]);
        let e = e.unwrap_err();
        assert_eq!(e.variable, "RAGTIME_MEDIA_URL");
        assert!(e.message.contains("wiped"), "{}", e.message);
        // `heroku local` runs the heroku configuration on a laptop, whose disk stays.
        let c = heroku(&[("RAGTIME_MEDIA_URL", "file:///tmp/media")]).unwrap();
        assert!(matches!(c.media.store, MediaStoreConfig::Local { .. }));

        let c = heroku(&[
            ("BUCKETEER_BUCKET_NAME", "bucketeer-1234"),
            ("BUCKETEER_AWS_REGION", "eu-west-1"),
            ("BUCKETEER_AWS_ACCESS_KEY_ID", "AKIA1"),
        ])
        .unwrap();
        assert!(
            matches!(&c.media.store, MediaStoreConfig::S3 { bucket, region, access_key_id, .. }
            if bucket == "bucketeer-1234" && region == "eu-west-1" && access_key_id.as_deref() == Some("AKIA1"))
        );

        let c = heroku(&[(
            "CLOUDCUBE_URL",
            "https://cloud-cube-us2.s3.amazonaws.com/abc123",
        )])
        .unwrap();
        assert!(
            matches!(&c.media.store, MediaStoreConfig::S3 { bucket, prefix, .. }
            if bucket == "cloud-cube-us2" && prefix == "abc123")
        );

        // A server of our own (MinIO, moto): its origin in media-src.
        let c = heroku(&[
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ])
        .unwrap();
        assert!(
            c.content_security_policy
                .contains("media-src 'self' http://127.0.0.1:9000;")
        );
    }

    #[test]
    fn default_csp_allows_our_origin_and_the_avatar_host_only() {
        let c = config(&[]).unwrap();
        assert!(c.content_security_policy.contains("default-src 'self'"));
        // Our own avatars by default: no other image host.
        assert!(c.content_security_policy.contains("img-src 'self' data:; "));
        let c = config(&[("RAGTIME_AVATAR_URL", UNICORNIFY_AVATAR_URL)]).unwrap();
        assert!(
            c.content_security_policy
                .contains("img-src 'self' data: https://unicornify.pictures;")
        );
        assert!(!c.content_security_policy.contains("unsafe-inline"));
        let c = config(&[("RAGTIME_AVATAR_URL", "https://img.example.org/a/")]).unwrap();
        assert!(
            c.content_security_policy
                .contains("https://img.example.org")
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = config(&[
            ("RAGTIME_CONFIG", "production"),
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", PG),
            ("RAGTIME_MEDIA_URL", "s3://tunes"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
            ("MAIL_PASSWORD", "hunter2-mail"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains(KEY));
        assert!(!shown.contains("u:p@"));
        assert!(!shown.contains("hunter2-mail"));
    }
}
