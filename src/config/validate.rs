//! Which setting values the server refuses at start, before it touches the
//! database: every value that would panic later (a zero period fed to a
//! timer, a duration that overflows a deadline, a permit count a semaphore
//! cannot hold, a `*` CORS origin) or leave a server that cannot serve
//! (zero limits, zero capacities, zero timeouts). Each refusal names its
//! flag.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Uri};

use super::Config;

/// The longest duration any flag takes: far past any sensible setting,
/// and far below what would overflow a deadline computed from now.
const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);

/// The most permits a count-limited flag takes (semaphores count in `u32`
/// when they wait for every permit).
const MOST_PERMITS: usize = u32::MAX as usize;

/// A setting the server refuses to start with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {flag}: {problem}")]
pub struct InvalidConfig {
    pub flag: &'static str,
    pub problem: String,
}

fn refuse(flag: &'static str, problem: impl Into<String>) -> Result<(), InvalidConfig> {
    Err(InvalidConfig {
        flag,
        problem: problem.into(),
    })
}

/// A period, timeout or lifetime: above zero and at most [`LONGEST`].
fn positive_duration(flag: &'static str, value: Duration) -> Result<(), InvalidConfig> {
    if value.is_zero() {
        return refuse(flag, "must be longer than zero");
    }
    bounded_duration(flag, value)
}

/// A duration where zero has a meaning (it disables something).
fn bounded_duration(flag: &'static str, value: Duration) -> Result<(), InvalidConfig> {
    if value > LONGEST {
        return refuse(flag, "must be at most a year");
    }
    Ok(())
}

fn positive<T: Into<u64>>(flag: &'static str, value: T) -> Result<(), InvalidConfig> {
    if value.into() == 0 {
        return refuse(flag, "must be at least 1");
    }
    Ok(())
}

/// A count of permits: at least 1 and at most [`MOST_PERMITS`].
fn permits(flag: &'static str, value: usize) -> Result<(), InvalidConfig> {
    if value == 0 {
        return refuse(flag, "must be at least 1");
    }
    if value > MOST_PERMITS {
        return refuse(flag, format!("must be at most {MOST_PERMITS}"));
    }
    Ok(())
}

/// One allowed CORS origin: exactly `scheme://host[:port]`, as browsers
/// send it in `Origin` (anything else would never match, and `*` makes the
/// CORS layer panic since credentials are allowed through `Authorization`).
fn cors_origin(origin: &str) -> Result<(), InvalidConfig> {
    const FLAG: &str = "--cors-origins";
    if origin == "*" {
        return refuse(FLAG, "`*` is not allowed; list each origin");
    }
    let exact = origin
        .parse::<Uri>()
        .ok()
        .and_then(|uri| Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?)))
        .is_some_and(|canonical| canonical == origin);
    if !exact || HeaderValue::from_str(origin).is_err() {
        return refuse(
            FLAG,
            format!("`{origin}` is not an origin (`https://host` or `https://host:port`)"),
        );
    }
    Ok(())
}

/// Whether `address` only accepts connections from this machine.
fn is_loopback(address: &std::net::SocketAddr) -> bool {
    address.ip().is_loopback()
}

impl Config {
    /// Refuses, naming the flag, any setting the server cannot run with.
    /// Called before anything is opened or migrated.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.is_dev_mode() && !is_loopback(&self.listen) && !self.allow_remote_dev_mode {
            return refuse(
                "--listen",
                format!(
                    "dev mode (no --jwt-secret) serves an admin token, so it listens on \
                     loopback only, not {}; set --jwt-secret, or --allow-remote-dev-mode",
                    self.listen
                ),
            );
        }
        for origin in self.cors_origins.iter().map(|o| o.trim()) {
            if !origin.is_empty() {
                cors_origin(origin)?;
            }
        }
        for name in self.cors_allow_headers.iter().map(|n| n.trim()) {
            if !name.is_empty() && HeaderName::from_bytes(name.as_bytes()).is_err() {
                return refuse(
                    "--cors-allow-headers",
                    format!("`{name}` is not a header name"),
                );
            }
        }
        self.validate_http()?;
        self.validate_live()?;
        self.validate_db()?;
        self.validate_limits()?;
        if let Some((flag, problem)) = self.budget.problem() {
            return refuse(flag, problem);
        }
        self.validate_caches()
    }

    fn validate_http(&self) -> Result<(), InvalidConfig> {
        let http = &self.http;
        permits("--max-connections", http.max_connections)?;
        positive("--body-limit-bytes", http.body_limit_bytes as u64)?;
        positive_duration("--header-read-timeout", http.header_read_timeout)?;
        positive_duration("--request-timeout", http.request_timeout)?;
        bounded_duration("--shutdown-grace", http.shutdown_grace)?;
        bounded_duration("--shutdown-delay", http.shutdown_delay)
    }

    fn validate_live(&self) -> Result<(), InvalidConfig> {
        let live = &self.live;
        permits(
            "--max-websocket-connections",
            live.max_websocket_connections,
        )?;
        if live.max_anonymous_websockets() >= live.max_websocket_connections {
            return refuse(
                "--max-anonymous-websocket-connections",
                "must be below --max-websocket-connections, or anonymous sockets could hold \
                 every place",
            );
        }
        positive(
            "--max-subscriptions-per-connection",
            live.max_subscriptions_per_connection as u64,
        )?;
        positive_duration("--websocket-keepalive", live.websocket_keepalive)?;
        positive_duration("--websocket-init-timeout", live.websocket_init_timeout)?;
        bounded_duration("--subscription-coalesce", live.subscription_coalesce)
    }

    fn validate_db(&self) -> Result<(), InvalidConfig> {
        positive("--db-max-connections", self.db.db_max_connections)?;
        positive_duration("--db-acquire-timeout", self.db.db_acquire_timeout)?;
        bounded_duration("--db-statement-timeout", self.db.db_statement_timeout)
    }

    fn validate_limits(&self) -> Result<(), InvalidConfig> {
        // Zero aliases or directives is a strict but working policy; zero
        // depth, complexity or fields would refuse every query.
        let limits = &self.limits;
        positive("--max-depth", limits.max_depth as u64)?;
        positive("--max-complexity", limits.max_complexity as u64)?;
        positive("--max-fields", limits.max_fields as u64)?;
        positive("--max-tokens", limits.max_tokens as u64)?;
        positive("--max-nesting", limits.max_nesting as u64)?;
        positive("--max-literal-bytes", limits.max_literal_bytes as u64)
    }

    fn validate_caches(&self) -> Result<(), InvalidConfig> {
        positive_duration(
            "--agent-cache-refresh",
            self.caches.agent_config.agent_cache_refresh,
        )?;
        positive_duration("--listener-heartbeat", self.listener_heartbeat)?;
        for (cache, sizing) in self.caches.sizes() {
            // The response cache's 0 turns it off; every other cache is needed.
            if cache.name != crate::cache::responses::INFO.name {
                positive(cache.capacity_flag, sizing.capacity)?;
            }
            positive_duration(cache.ttl_flag, sizing.ttl)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(flags: &[&str]) -> Option<&'static str> {
        let mut args = vec!["agentgraph", "--jwt-secret", "x"];
        args.extend_from_slice(flags);
        let config = Config::from_flags(args).expect("flags parse");
        config.validate().err().map(|invalid| invalid.flag)
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(refusal(&[]), None);
        let dev = Config::from_flags(["agentgraph"]).expect("flags parse");
        assert_eq!(dev.validate(), Ok(()));
    }

    #[test]
    fn values_that_would_panic_or_refuse_everything_name_their_flag() {
        for (flag, value) in [
            ("--cors-origins", "*"),
            ("--cors-origins", "https://a.example,*"),
            ("--cors-origins", "not an origin"),
            ("--cors-origins", "https://a.example/"),
            ("--cors-origins", "https://a.example/path"),
            ("--websocket-keepalive", "0s"),
            ("--websocket-keepalive", "1000000000y"),
            ("--agent-cache-refresh", "0s"),
            ("--listener-heartbeat", "0s"),
            ("--header-read-timeout", "0s"),
            ("--request-timeout", "0s"),
            ("--websocket-init-timeout", "0s"),
            ("--db-acquire-timeout", "0s"),
            ("--shutdown-grace", "1000000000y"),
            ("--max-connections", "0"),
            ("--max-connections", "99999999999"),
            ("--max-websocket-connections", "0"),
            ("--max-websocket-connections", "99999999999"),
            ("--max-subscriptions-per-connection", "0"),
            ("--body-limit-bytes", "0"),
            ("--db-max-connections", "0"),
            ("--max-depth", "0"),
            ("--max-complexity", "0"),
            ("--max-fields", "0"),
            ("--agent-cache-capacity", "0"),
            ("--readiness-cache-ttl", "0s"),
        ] {
            assert_eq!(refusal(&[flag, value]), Some(flag), "{flag} {value}");
        }
        assert_eq!(
            refusal(&[
                "--max-websocket-connections",
                "10",
                "--max-anonymous-websocket-connections",
                "10"
            ]),
            Some("--max-anonymous-websocket-connections")
        );
    }

    #[test]
    fn meaningful_zeros_and_exact_origins_pass() {
        for flags in [
            &["--cors-origins", "https://a.example,http://localhost:3000"][..],
            &["--cors-origins", ""],
            &["--db-statement-timeout", "0s"],
            &["--persisted-queries-bytes", "0"],
            &["--document-cache-bytes", "0"],
            &["--max-aliases", "0"],
            &["--max-directives", "0"],
            &["--max-anonymous-websocket-connections", "0"],
        ] {
            assert_eq!(refusal(flags), None, "{flags:?}");
        }
    }

    #[test]
    fn dev_mode_listens_on_loopback_unless_forced() {
        let dev = |flags: &[&str]| {
            let mut args = vec!["agentgraph"];
            args.extend_from_slice(flags);
            let config = Config::from_flags(args).expect("flags parse");
            config.validate().err().map(|invalid| invalid.flag)
        };
        assert_eq!(dev(&["--listen", "0.0.0.0:8000"]), Some("--listen"));
        assert_eq!(dev(&["--listen", "192.168.1.2:8000"]), Some("--listen"));
        assert_eq!(dev(&["--listen", "[::]:8000"]), Some("--listen"));
        assert_eq!(dev(&["--listen", "127.0.0.2:8000"]), None);
        assert_eq!(dev(&["--listen", "[::1]:8000"]), None);
        assert_eq!(
            dev(&["--listen", "0.0.0.0:8000", "--allow-remote-dev-mode"]),
            None
        );
        assert_eq!(
            refusal(&["--listen", "0.0.0.0:8000"]),
            None,
            "with a secret, any address"
        );
    }

    #[test]
    fn debug_output_hides_the_secret_and_the_database_password() {
        let config = Config::from_flags([
            "agentgraph",
            "--jwt-secret",
            "the-signing-secret-nobody-may-read-in-a-log",
            "--database-url",
            "postgres://app:hunter2-password@db.internal:5432/agentgraph",
        ])
        .expect("flags parse");
        let debug = format!("{config:?}");
        assert!(!debug.contains("the-signing-secret"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("postgres://app:<redacted>@db.internal:5432/agentgraph"),
            "{debug}"
        );
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains("the-signing-secret") && !pretty.contains("hunter2"));
    }
}
