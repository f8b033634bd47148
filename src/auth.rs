//! Identity: the bearer JWT (HS256, Supabase convention) becomes a
//! [`Viewer`]. Cookies are never read.

use entity::UserId;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header::AUTHORIZATION, HeaderMap};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

/// Who is asking: the token's subject, and whether it may write agents,
/// tools and circles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub id: UserId,
    pub is_admin: bool,
}

impl Viewer {
    /// `FORBIDDEN` unless the viewer holds the `admin` role.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden("this change needs the admin role"))
        }
    }
}

/// A token was presented but is not acceptable (bad signature, expired,
/// malformed, `alg: none`, a subject that is not a UUID, or another scheme).
/// Over HTTP the client only learns that; the detail is logged. A
/// WebSocket's close reason also names its [`TokenFault`].
#[derive(Debug, thiserror::Error)]
#[error("invalid bearer token: {0}")]
pub struct InvalidToken(String, TokenFault);

/// Why a token was refused, in the terms its holder acts on: renew an
/// expired one, fix the secret behind a bad signature, or send a token at
/// all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenFault {
    Expired,
    NotYetValid,
    BadSignature,
    /// Malformed, another scheme or algorithm, an unusable subject or
    /// expiry.
    Unacceptable,
}

impl InvalidToken {
    fn unacceptable(detail: impl Into<String>) -> Self {
        Self(detail.into(), TokenFault::Unacceptable)
    }

    pub(crate) fn fault(&self) -> TokenFault {
        self.1
    }
}

impl From<jsonwebtoken::errors::Error> for InvalidToken {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        let fault = match error.kind() {
            ErrorKind::ExpiredSignature => TokenFault::Expired,
            ErrorKind::ImmatureSignature => TokenFault::NotYetValid,
            ErrorKind::InvalidSignature => TokenFault::BadSignature,
            _ => TokenFault::Unacceptable,
        };
        Self(error.to_string(), fault)
    }
}

/// A configured secret that must not be used: HS256 with a key shorter than
/// its 256-bit hash can be brute-forced offline from one token, and an empty
/// key signs tokens anyone can forge.
#[derive(Debug, thiserror::Error)]
pub enum WeakSecret {
    #[error("the JWT secret (--jwt-secret / AGENTGRAPH_JWT_SECRET) is set but empty; set a secret of at least {MIN_SECRET_BYTES} bytes, or unset it to run in dev mode")]
    Empty,
    #[error("the JWT secret (--jwt-secret / AGENTGRAPH_JWT_SECRET) is {0} bytes long; HS256 needs at least {MIN_SECRET_BYTES} bytes")]
    TooShort(usize),
}

/// Shortest accepted secret: the length of an HS256 hash.
pub const MIN_SECRET_BYTES: usize = 32;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

/// Latest `exp` accepted, counted from now: 100 years. Long-lived service
/// tokens expire within a decade or two; an `exp` beyond this is a mistake
/// or a forgery, and refusing it keeps every expiry a time the clock and
/// the timers can represent.
pub const MAX_TOKEN_HORIZON: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The claims read. `exp` and `nbf` must be whole non-negative seconds
/// (what every mainstream issuer writes); any other value, fractional,
/// negative, too large or not a number, makes the token malformed rather
/// than being skipped. `iat` is not used, so it is not read.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

const ADMIN_ROLE: &str = "admin";

/// Verifies and (for dev mode and tests) issues tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Keys for a configured secret; a weak one is refused.
    pub fn new(secret: &[u8]) -> Result<Self, WeakSecret> {
        match secret.len() {
            0 => Err(WeakSecret::Empty),
            n if n < MIN_SECRET_BYTES => Err(WeakSecret::TooShort(n)),
            _ => Ok(Self::from_secret(secret)),
        }
    }

    fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Supabase puts `aud: authenticated` in its tokens; the audience
        // carries no authority here, so it is not checked.
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            validation,
        }
    }

    /// A secret for one process, for dev mode: random, never written down.
    pub fn random() -> Self {
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        Self::from_secret(secret.as_bytes())
    }

    pub fn verify(&self, token: &str) -> Result<Viewer, InvalidToken> {
        self.verify_until(token).map(|(viewer, _)| viewer)
    }

    /// [`Self::verify`], and until when the token is valid (its `exp` plus
    /// the tolerated clock skew): a long-lived connection authenticated by
    /// it must end then.
    pub fn verify_until(&self, token: &str) -> Result<(Viewer, SystemTime), InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(InvalidToken::from)?;
        let id = UserId::parse(&data.claims.sub)
            .map_err(|_| InvalidToken::unacceptable("subject is not a UUID"))?;
        let viewer = Viewer {
            id,
            is_admin: data.claims.role.as_deref() == Some(ADMIN_ROLE),
        };
        let until = valid_until(data.claims.exp, SystemTime::now())?;
        Ok((viewer, until))
    }

    /// Signs a token for `viewer`, valid for `ttl`.
    pub fn issue(&self, viewer: Viewer, ttl: Duration) -> String {
        let exp = SystemTime::now()
            .checked_add(ttl)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let claims = Claims {
            sub: viewer.id.to_string(),
            exp,
            nbf: None,
            role: viewer.is_admin.then(|| ADMIN_ROLE.to_owned()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_else(|error| {
                // HS256 signing of a serialisable struct cannot fail.
                tracing::error!(%error, "signing a token failed");
                String::new()
            })
    }

    /// The viewer of a request: `Ok(None)` without an `Authorization` header.
    pub fn viewer_from_headers(&self, headers: &HeaderMap) -> Result<Option<Viewer>, InvalidToken> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| InvalidToken::unacceptable("header is not ASCII"))?;
        self.verify(bearer_token(value)?).map(Some)
    }
}

/// Until when a token expiring at `exp` (seconds since the epoch) is
/// accepted, seen at `now`: `exp` plus the tolerated clock skew. An `exp`
/// beyond [`MAX_TOKEN_HORIZON`] is refused rather than capped, so no
/// arithmetic on it can overflow.
fn valid_until(exp: u64, now: SystemTime) -> Result<SystemTime, InvalidToken> {
    let horizon = now
        .checked_add(MAX_TOKEN_HORIZON)
        .ok_or_else(|| InvalidToken::unacceptable("the clock is beyond any token horizon"))?;
    UNIX_EPOCH
        .checked_add(Duration::from_secs(exp.saturating_add(CLOCK_LEEWAY_SECS)))
        .filter(|until| *until <= horizon)
        .ok_or_else(|| {
            InvalidToken::unacceptable(format!("exp {exp} is beyond the accepted horizon"))
        })
}

/// The token of an `Authorization` value (`Bearer <token>`, scheme in any
/// case).
pub fn bearer_token(value: &str) -> Result<&str, InvalidToken> {
    value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| InvalidToken::unacceptable("not a bearer token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn keys(secret: &str) -> TokenKeys {
        let padded = format!("{secret:-<32}");
        TokenKeys::new(padded.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn empty_and_short_secrets_are_refused() {
        assert!(matches!(TokenKeys::new(b""), Err(WeakSecret::Empty)));
        assert!(matches!(
            TokenKeys::new(&[b'x'; 31]),
            Err(WeakSecret::TooShort(31))
        ));
        assert!(TokenKeys::new(&[b'x'; 32]).is_ok());
    }

    #[test]
    fn a_token_not_yet_valid_is_rejected_beyond_the_leeway() {
        let keys = keys("nbf");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let token = |nbf: u64| {
            let claims = serde_json::json!({
                "sub": Uuid::now_v7().to_string(), "exp": now + 3600, "nbf": nbf,
            });
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(keys.verify(&token(now + 600)).is_err(), "nbf 10 min ahead");
        assert!(keys.verify(&token(now + 10)).is_ok(), "within the leeway");
        assert!(keys.verify(&token(now - 10)).is_ok());
    }

    /// JSON values for a numeric claim: edges of every numeric type,
    /// fractions, non-numbers and random integers and floats.
    fn claim_values(now: u64) -> Vec<serde_json::Value> {
        use serde_json::json;
        let mut values = vec![
            json!(0),
            json!(-1),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(10_000_000_000_000_000_000_u64),
            json!(now),
            json!(now + 3600),
            json!(now - 3600),
            json!(now + 3600 * 24 * 365 * 99),
            json!(now + 3600 * 24 * 365 * 101),
            json!(now as f64 + 0.5),
            json!(1e300),
            json!(-1e300),
            json!(f64::MIN_POSITIVE),
            json!("1"),
            json!(null),
            json!(true),
            json!([now]),
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            values.push(json!(rng.u64(..)));
            values.push(json!(rng.i64(..)));
            values.push(json!(rng.f64() * 10f64.powi(rng.i32(0..40))));
            values.push(json!(now + rng.u64(..200 * 365 * 24 * 3600)));
        }
        values
    }

    /// What `verify` must decide for these claim values, seen at `now`.
    fn acceptable(exp: &serde_json::Value, nbf: Option<&serde_json::Value>, now: u64) -> bool {
        let horizon = now + MAX_TOKEN_HORIZON.as_secs();
        let exp_ok = exp
            .as_u64()
            .map(|exp| exp.saturating_add(CLOCK_LEEWAY_SECS))
            .is_some_and(|until| (now..=horizon).contains(&until));
        // A null `nbf` is an absent one.
        let nbf_ok = nbf.filter(|nbf| !nbf.is_null()).is_none_or(|nbf| {
            nbf.as_u64()
                .is_some_and(|nbf| nbf <= now + CLOCK_LEEWAY_SECS)
        });
        exp_ok && nbf_ok
    }

    #[test]
    fn every_numeric_claim_is_accepted_or_refused_without_a_panic() {
        let keys = keys("claims");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let sign = |claims: &serde_json::Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &keys.encoding)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let sub = Uuid::now_v7().to_string();
        for value in claim_values(now) {
            let as_exp = serde_json::json!({ "sub": sub, "exp": value, "iat": value });
            let verdict = keys.verify_until(&sign(&as_exp));
            // A few seconds of slack around `now`: the check reads the clock.
            if value.as_u64().is_none_or(|v| v.abs_diff(now) > 5) {
                assert_eq!(
                    verdict.is_ok(),
                    acceptable(&value, None, now),
                    "exp {value}"
                );
            }
            if let Ok((_, until)) = verdict {
                assert!(
                    until <= SystemTime::now() + MAX_TOKEN_HORIZON,
                    "exp {value}"
                );
            }
            let as_nbf = serde_json::json!({ "sub": sub, "exp": now + 3600, "nbf": value });
            let verdict = keys.verify(&sign(&as_nbf));
            if value.as_u64().is_none_or(|v| v.abs_diff(now) > 5) {
                let expected = acceptable(&serde_json::json!(now + 3600), Some(&value), now);
                assert_eq!(verdict.is_ok(), expected, "nbf {value}");
            }
        }
    }

    #[test]
    fn an_expiry_beyond_the_horizon_is_refused_not_capped() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let within = 1_800_000_000 + MAX_TOKEN_HORIZON.as_secs() - CLOCK_LEEWAY_SECS;
        assert!(valid_until(within, now).is_ok());
        assert!(valid_until(within + 1, now).is_err());
        assert!(valid_until(10_000_000_000_000_000_000, now).is_err());
        assert!(valid_until(u64::MAX, now).is_err());
    }

    #[test]
    fn a_token_round_trips_with_its_role() {
        let keys = keys("secret");
        let viewer = Viewer {
            id: UserId::new(),
            is_admin: true,
        };
        assert_eq!(keys.verify(&keys.issue(viewer, HOUR)).ok(), Some(viewer));
    }

    #[test]
    fn another_secret_is_rejected() {
        let viewer = Viewer {
            id: UserId::new(),
            is_admin: false,
        };
        let token = keys("one").issue(viewer, HOUR);
        assert!(keys("two").verify(&token).is_err());
    }

    #[test]
    fn only_the_bearer_scheme_is_accepted() {
        let keys = keys("secret");
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            "Basic abc".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(keys.viewer_from_headers(&headers).is_err());
        assert!(matches!(
            keys.viewer_from_headers(&HeaderMap::new()),
            Ok(None)
        ));
    }
}
