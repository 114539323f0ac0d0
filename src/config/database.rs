//! Which database (`DATABASE_URL`), and the configuration `ragtime deploy` reads: the release
//! phase needs the database and nothing else, so a release never fails for want of a setting
//! only the web process uses (the media store, the server name, the secret key).

use secrecy::SecretString;

use super::{Config, ConfigError, ConfigName, Environment, Source, load_dotenv, present, refuse};

/// What `ragtime deploy` needs: the configuration's name (heroku refuses SQLite) and the
/// database.
#[derive(Clone)]
pub struct DeployConfig {
    pub name: ConfigName,
    pub database_url: SecretString,
}

impl std::fmt::Debug for DeployConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployConfig")
            .field("name", &self.name)
            .field("database_url", &"[redacted]")
            .finish()
    }
}

impl DeployConfig {
    /// Read the process environment (and `.env`, whose values never override real ones).
    pub fn from_env() -> Result<Self, ConfigError> {
        load_dotenv()?;
        Self::from_source(&Environment)
    }

    pub fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        let var = present(source);
        let name = ConfigName::read(&var)?;
        Ok(DeployConfig {
            name,
            database_url: database_url(name, &var)?,
        })
    }
}

/// The same settings, out of a whole configuration.
impl From<&Config> for DeployConfig {
    fn from(config: &Config) -> Self {
        DeployConfig {
            name: config.name,
            database_url: config.database_url.clone(),
        }
    }
}

/// `DATABASE_URL`, or the development and testing default, checked for the configuration.
pub(super) fn database_url(
    name: ConfigName,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<SecretString, ConfigError> {
    let url = match var("DATABASE_URL") {
        Some(url) => url,
        None => match name {
            ConfigName::Development => "sqlite://data-dev.sqlite?mode=rwc".to_owned(),
            ConfigName::Testing => "sqlite::memory:".to_owned(),
            _ => {
                return Err(refuse(
                    "DATABASE_URL",
                    format!("is required in the {name} configuration"),
                ));
            }
        },
    };
    check_database_url(name, url)
}

/// Accepts `postgres://`, `postgresql://` and `sqlite:` URLs. Heroku's Postgres needs TLS but its
/// URL does not say so, so the heroku configuration asks for it unless the URL decides.
fn check_database_url(name: ConfigName, url: String) -> Result<SecretString, ConfigError> {
    let parsed = url::Url::parse(&url).map_err(|e| {
        refuse(
            "DATABASE_URL",
            format!("is not a valid URL ({e}); expected postgres://user:password@host:port/db"),
        )
    })?;
    match parsed.scheme() {
        "postgres" | "postgresql" => {
            if name == ConfigName::Heroku && !parsed.query_pairs().any(|(k, _)| k == "sslmode") {
                let mut with_tls = parsed;
                with_tls.query_pairs_mut().append_pair("sslmode", "require");
                return Ok(SecretString::from(with_tls.to_string()));
            }
            Ok(SecretString::from(url))
        }
        "sqlite" if name == ConfigName::Heroku => Err(refuse(
            "DATABASE_URL",
            "SQLite is refused in the heroku configuration: a dyno's disk is ephemeral and \
             every restart would lose the data; attach Heroku Postgres",
        )),
        "sqlite" => Ok(SecretString::from(url)),
        other => Err(refuse(
            "DATABASE_URL",
            format!("unsupported scheme {other:?}; use postgres://, postgresql:// or sqlite:"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn deploy_config(vars: &[(&'static str, &'static str)]) -> Result<DeployConfig, ConfigError> {
        let vars = vars.to_vec();
        DeployConfig::from_source(&move |k: &str| {
            vars.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn deploy_needs_only_the_configuration_name_and_the_database() {
        for name in ["production", "heroku"] {
            let c = deploy_config(&[
                ("RAGTIME_CONFIG", name),
                ("DATABASE_URL", "postgres://u:p@db.example.com/ragtime"),
                ("DYNO", "release.1234"),
            ])
            .unwrap();
            assert_eq!(c.name.as_str(), name);
            assert!(!format!("{c:?}").contains("u:p@"));
        }
        let c = deploy_config(&[
            ("RAGTIME_CONFIG", "heroku"),
            ("DATABASE_URL", "postgres://u:p@db.example.com/ragtime"),
        ])
        .unwrap();
        assert!(c.database_url.expose_secret().ends_with("?sslmode=require"));
    }

    #[test]
    fn deploy_refuses_what_the_server_refuses_about_the_database() {
        let missing = deploy_config(&[("RAGTIME_CONFIG", "heroku")]).unwrap_err();
        assert_eq!(missing.variable, "DATABASE_URL");
        let sqlite = deploy_config(&[
            ("RAGTIME_CONFIG", "heroku"),
            ("DATABASE_URL", "sqlite://data.sqlite"),
        ])
        .unwrap_err();
        assert!(sqlite.message.contains("ephemeral"), "{}", sqlite.message);
        let name = deploy_config(&[("RAGTIME_CONFIG", "staging")]).unwrap_err();
        assert_eq!(name.variable, "RAGTIME_CONFIG");
    }
}
