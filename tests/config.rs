//! Layered configuration: defaults ← config/default.toml ← application file ← environment.
#![allow(clippy::field_reassign_with_default)]

use std::io::Write;
use std::time::Duration;

use deeper_cache::{AdapterKind, CacheConfig, CacheError, ConfigLoader, Ttl};

fn file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn defaults_match_the_spec() {
    let c = ConfigLoader::new()
        .without_default_file()
        .env_vars(no_env())
        .load()
        .unwrap();
    assert_eq!(c, CacheConfig::default());
    assert!(c.enabled);
    assert_eq!(c.default_adapter, AdapterKind::Memory);
    assert_eq!(
        c.default_ttl_seconds.0,
        Ttl::After(Duration::from_secs(3600))
    );
    assert_eq!(c.memory.cleanup_interval_ms, 60_000);
}

#[test]
fn shipped_default_file_holds_the_defaults() {
    let c = ConfigLoader::new()
        .without_default_file()
        .file(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
        .env_vars(no_env())
        .load()
        .unwrap();
    assert_eq!(c, CacheConfig::default());
}

#[test]
fn file_then_env_override() {
    let f = file(
        "default_ttl_seconds = 60\ncall_timeout_ms = 250\n[memory]\ncleanup_interval_ms = 1000\n",
    );
    let c = ConfigLoader::new()
        .without_default_file()
        .file(f.path())
        .env_vars([
            ("DEEPER_CACHE__MEMORY__CLEANUP_INTERVAL_MS", "5000"),
            ("DEEPER_CACHE__DEFAULT_TTL_SECONDS", "never"),
            ("DEEPER_CACHE__NAME", "orders"),
            ("UNRELATED", "ignored"),
        ])
        .load()
        .unwrap();
    assert_eq!(c.memory.cleanup_interval_ms, 5000, "env beats file");
    assert_eq!(c.call_timeout_ms, 250, "file beats defaults");
    assert_eq!(c.default_ttl_seconds.0, Ttl::Never);
    assert_eq!(c.name.as_deref(), Some("orders"));
    assert_eq!(
        c.metrics_reporter.report_interval_ms, 10_000,
        "untouched default"
    );
}

fn rejected(toml: &str, env: &[(&str, &str)]) -> CacheError {
    let f = file(toml);
    ConfigLoader::new()
        .without_default_file()
        .file(f.path())
        .env_vars(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .load()
        .expect_err("configuration must be rejected")
}

fn assert_names(err: CacheError, key: &str, value: &str) {
    match &err {
        CacheError::Config {
            key: k,
            value: v,
            message,
        } => {
            assert!(
                k.contains(key) || message.contains(key),
                "error should name `{key}`: {err}"
            );
            assert!(
                v.contains(value) || message.contains(value),
                "error should name the value {value:?}: {err}"
            );
        }
        other => panic!("expected a Config error, got {other:?}"),
    }
}

#[test]
fn each_bad_configuration_is_rejected_naming_key_and_value() {
    assert_names(rejected("colour = \"blue\"\n", &[]), "colour", "");
    assert_names(rejected("[memory]\nsize = 3\n", &[]), "size", "");
    assert_names(
        rejected("default_adapter = \"memcached\"\n", &[]),
        "default_adapter",
        "memcached",
    );
    assert_names(
        rejected("default_ttl_seconds = 0\n", &[]),
        "default_ttl_seconds",
        "0",
    );
    assert_names(
        rejected("default_ttl_seconds = \"soon\"\n", &[]),
        "default_ttl_seconds",
        "soon",
    );
    assert_names(
        rejected("[memory]\ncleanup_interval_ms = 0\n", &[]),
        "memory.cleanup_interval_ms",
        "0",
    );
    assert_names(
        rejected("[memory]\ncleanup_interval_ms = \"often\"\n", &[]),
        "cleanup_interval_ms",
        "often",
    );
    assert_names(
        rejected("", &[("DEEPER_CACHE__CALL_TIMEOUT_MS", "-5")]),
        "call_timeout_ms",
        "-5",
    );
    assert_names(rejected("name = \"has space\"\n", &[]), "name", "has space");
    assert_names(
        rejected("[metrics_reporter]\nreport_interval_ms = 0\n", &[]),
        "metrics_reporter.report_interval_ms",
        "0",
    );
}

#[test]
fn missing_application_file_is_an_error() {
    let err = ConfigLoader::new()
        .without_default_file()
        .file("/nonexistent/deeper-cache.toml")
        .env_vars(no_env())
        .load()
        .unwrap_err();
    assert!(matches!(err, CacheError::Config { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_config_is_refused_at_start() {
    let mut c = CacheConfig::default();
    c.memory.cleanup_batch_size = 0;
    let err = deeper_cache::Cache::start(c).await.unwrap_err();
    assert_names(err, "memory.cleanup_batch_size", "0");
}

#[test]
fn durations_accept_human_readable_strings_and_numbers_still_work() {
    let f = file(
        "default_ttl_seconds = \"500ms\"\ncall_timeout_ms = \"2s\"\n\
         [memory]\ncleanup_interval_ms = 1500\nsnapshot_path = \"/tmp/c.snap\"\n\
         snapshot_on_shutdown = true\nsnapshot_on_error = \"start_empty\"\n\
         [supervisor]\nmax_seconds = \"1m\"\n\
         [stampede]\nlease_ms = \"1.5s\"\n\
         [namespaces.sessions]\ntti = \"30m\"\n[namespaces.carts]\ntti = 250\n",
    );
    let c = ConfigLoader::new()
        .without_default_file()
        .file(f.path())
        .env_vars([("DEEPER_CACHE__REDIS__COMMAND_TIMEOUT_MS", "250ms")])
        .load()
        .unwrap();
    assert_eq!(
        c.default_ttl_seconds.0,
        Ttl::After(Duration::from_millis(500))
    );
    assert_eq!(c.call_timeout_ms, 2000);
    assert_eq!(c.memory.cleanup_interval_ms, 1500);
    assert_eq!(c.supervisor.max_seconds, 60);
    assert_eq!(c.stampede.lease_ms, 1500);
    assert_eq!(c.redis.command_timeout_ms, 250);
    assert!(c.memory.snapshot_on_shutdown);
    assert_eq!(
        c.memory.snapshot_on_error,
        deeper_cache::SnapshotOnError::StartEmpty
    );
    assert_eq!(
        c.namespaces["sessions"].tti,
        Some(Duration::from_secs(1800))
    );
    assert_eq!(c.namespaces["carts"].tti, Some(Duration::from_millis(250)));
}

#[test]
fn bad_durations_and_snapshot_settings_are_refused_naming_the_key() {
    for (toml, key) in [
        ("call_timeout_ms = \"soon\"\n", "call_timeout_ms"),
        ("default_ttl_seconds = \"0s\"\n", "default_ttl_seconds"),
        ("[supervisor]\nmax_seconds = \"1500ms\"\n", "max_seconds"),
        (
            "[memory]\nsnapshot_on_shutdown = true\n",
            "snapshot_on_shutdown",
        ),
        ("[namespaces.s]\ntti = 0\n", "namespaces.s.tti"),
    ] {
        let e = rejected(toml, &[]);
        assert!(e.to_string().contains(key), "{toml}: {e}");
    }
}
