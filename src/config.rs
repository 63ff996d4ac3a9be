//! Layered configuration: built-in defaults ← `config/default.toml` ← an application file ←
//! `DEEPER_CACHE__SECTION__KEY` environment variables.
//!
//! ```
//! use deeper_cache::ConfigLoader;
//!
//! // Defaults, then config/default.toml if present, then the environment.
//! let config = ConfigLoader::new().load().expect("valid configuration");
//! assert!(config.enabled);
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use deeper_cache_actors::{CacheConfig, CacheError, CacheResult};

/// The file read after the built-in defaults when it exists (relative to the working directory).
pub const DEFAULT_CONFIG_FILE: &str = "config/default.toml";

/// Builds a [`CacheConfig`] from layered sources. Later layers override earlier ones.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigLoader {
    base_file: Option<PathBuf>,
    files: Vec<PathBuf>,
    env: Option<HashMap<String, String>>,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// Defaults ← `config/default.toml` (optional) ← process environment.
    pub fn new() -> Self {
        ConfigLoader {
            base_file: Some(PathBuf::from(DEFAULT_CONFIG_FILE)),
            files: Vec::new(),
            env: None,
        }
    }

    /// Skips `config/default.toml` (the built-in defaults are the same values).
    pub fn without_default_file(mut self) -> Self {
        self.base_file = None;
        self
    }

    /// Adds an application file (TOML), which must exist, above the defaults.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Uses these variables instead of the process environment (for tests and for
    /// applications that read their environment elsewhere). Keys look like
    /// `DEEPER_CACHE__MEMORY__CLEANUP_INTERVAL_MS`.
    pub fn env_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Reads every layer and validates the result.
    ///
    /// # Errors
    /// [`CacheError::Config`] naming the offending key (an unknown key, a value of the wrong
    /// type, a value out of range) or the file that could not be read.
    pub fn load(self) -> CacheResult<CacheConfig> {
        let defaults = toml_string(&CacheConfig::default())?;
        let mut builder = Config::builder().add_source(File::from_str(&defaults, FileFormat::Toml));
        if let Some(base) = &self.base_file {
            builder = builder.add_source(File::from(base.clone()).required(false));
        }
        for f in &self.files {
            builder = builder.add_source(File::from(f.clone()).required(true));
        }
        let env = Environment::with_prefix("DEEPER_CACHE")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(self.env.clone());
        builder = builder.add_source(env);
        let raw = builder.build().map_err(config_error)?;
        let config: CacheConfig = raw.try_deserialize().map_err(config_error)?;
        config.validate()?;
        Ok(config)
    }
}

fn toml_string(config: &CacheConfig) -> CacheResult<String> {
    // `name = None` has no TOML form; it is simply left out.
    let value = serde_json::to_value(config).map_err(|e| CacheError::Config {
        key: "<defaults>".into(),
        value: String::new(),
        message: e.to_string(),
    })?;
    let mut out = String::new();
    write_toml(&mut out, "", &value);
    Ok(out)
}

/// Minimal TOML writer for the defaults (flat tables of scalars), so the defaults layer is the
/// `Default` impl itself and can never drift from it.
fn write_toml(out: &mut String, table: &str, value: &serde_json::Value) {
    use std::fmt::Write;
    let serde_json::Value::Object(map) = value else {
        return;
    };
    let mut nested = Vec::new();
    for (k, v) in map {
        match v {
            serde_json::Value::Object(_) => nested.push((k, v)),
            serde_json::Value::Null => {}
            scalar => {
                let _ = writeln!(out, "{k} = {scalar}");
            }
        }
    }
    for (k, v) in nested {
        let name = if table.is_empty() {
            k.clone()
        } else {
            format!("{table}.{k}")
        };
        let _ = writeln!(out, "[{name}]");
        write_toml(out, &name, v);
    }
}

/// Turns a `config` crate error into [`CacheError::Config`], keeping the key it names. The
/// text is passed through [`redact_text`](deeper_cache_actors::secret_url::redact_text): a
/// parser error quotes the line it failed on, and a malformed `redis.url` line holds a password.
fn config_error(e: config::ConfigError) -> CacheError {
    use deeper_cache_actors::secret_url::redact_text;
    let text = e.to_string();
    let key = match &e {
        config::ConfigError::Type { key: Some(k), .. } => k.clone(),
        config::ConfigError::FileParse { uri: Some(uri), .. } => format!("<file {uri}>"),
        config::ConfigError::FileParse { uri: None, .. } => "<file>".into(),
        _ => text
            .split('`')
            .nth(1)
            .map(str::to_string)
            .unwrap_or_else(|| "<configuration>".into()),
    };
    let value = match &e {
        config::ConfigError::Type { unexpected, .. } => unexpected.to_string(),
        _ => String::new(),
    };
    CacheError::Config {
        key: redact_text(&key),
        value: redact_text(&value),
        message: redact_text(&text),
    }
}
