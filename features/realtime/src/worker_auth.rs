//! The `workerAuth` scheme: the office-router Worker calls `/worker/...` with a bearer JWT that
//! the backend verifies for signature, algorithm, `iss`, `aud` and `exp`/`nbf` (small leeway).
//! Session cookies are not accepted there, and Worker tokens are not accepted anywhere else
//! (client operations take `cookieAuth` only).

use anyhow::{bail, Context};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use poem::Request;
use poem_openapi::{auth::Bearer, SecurityScheme};
use qubital_plugin::{
    secret::{present, present_secret},
    AppContext, ExposeSecret, Problem,
};
use serde::Deserialize;

use crate::settings::{pem_text, WorkerAuthSettings};

/// Smallest accepted shared secret, in bytes.
const MIN_SECRET_BYTES: usize = 32;

/// Longest lifetime a Worker token may have left (`exp` − now, beyond the leeway): the Worker
/// mints short tokens, so a long-lived one is a leaked or forged-by-insider credential.
pub const MAX_WORKER_TOKEN_TTL_SECS: i64 = 900;

/// The verified claims of a Worker token.
#[derive(Clone, Debug, Deserialize)]
pub struct WorkerClaims {
    pub iss: String,
    pub exp: i64,
    /// Which Worker instance (informational).
    #[serde(default)]
    pub sub: Option<String>,
}

/// Verifies Worker tokens. Cheap to clone.
#[derive(Clone)]
pub struct WorkerVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl WorkerVerifier {
    /// From the settings. `Ok(None)`: nothing configured.
    pub fn from_settings(settings: &WorkerAuthSettings) -> anyhow::Result<Option<Self>> {
        let (key, algorithm) = match (
            present(&settings.worker_jwt_public_key),
            present_secret(&settings.worker_jwt_secret).map(|s| s.expose_secret().trim()),
        ) {
            (Some(_), Some(_)) => bail!("set only one of WORKER_JWT_PUBLIC_KEY and WORKER_JWT_SECRET"),
            (None, None) => return Ok(None),
            (Some(pem), None) => public_key(&pem_text(pem)).context("WORKER_JWT_PUBLIC_KEY")?,
            (None, Some(secret)) => {
                if secret.len() < MIN_SECRET_BYTES {
                    bail!("WORKER_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes");
                }
                (DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256)
            }
        };
        Ok(Some(Self::new(key, algorithm, settings)))
    }

    /// A verifier with a random secret nobody knows: every token is refused (development
    /// without a configured Worker).
    pub fn refusing_all(settings: &WorkerAuthSettings) -> Self {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret).expect("the system RNG works");
        Self::new(DecodingKey::from_secret(&secret), Algorithm::HS256, settings)
    }

    fn new(key: DecodingKey, algorithm: Algorithm, settings: &WorkerAuthSettings) -> Self {
        // Exactly one algorithm, fixed by the kind of key: no `alg` switching by the token.
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[settings.worker_jwt_issuer.as_str()]);
        validation.set_audience(&[settings.worker_jwt_audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = settings.worker_jwt_leeway_secs;
        Self { key, validation }
    }

    pub fn verify(&self, token: &str) -> Result<WorkerClaims, jsonwebtoken::errors::Error> {
        let claims = decode::<WorkerClaims>(token, &self.key, &self.validation)?.claims;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if claims.exp - now > MAX_WORKER_TOKEN_TTL_SECS + self.validation.leeway as i64 {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidClaimFormat("exp".into()).into());
        }
        Ok(claims)
    }
}

fn public_key(pem: &str) -> anyhow::Result<(DecodingKey, Algorithm)> {
    let parsed = pem::parse(pem).map_err(|_| anyhow::anyhow!("is not a PEM-encoded public key"))?;
    if !matches!(parsed.tag(), "PUBLIC KEY" | "RSA PUBLIC KEY") {
        bail!("must be a public key, not a `{}` PEM", parsed.tag());
    }
    let der = parsed.contents();
    if let Ok(key) = aws_lc_rs::rsa::PublicKey::from_der(der) {
        // jsonwebtoken wants the PKCS#1 `RSAPublicKey`; `as_ref` is that, whatever form was given.
        return Ok((DecodingKey::from_rsa_der(key.as_ref()), Algorithm::RS256));
    }
    if parsed.tag() == "PUBLIC KEY" {
        if let Some(point) = p256_point(der) {
            return Ok((DecodingKey::from_ec_der(point), Algorithm::ES256));
        }
    }
    bail!("must be an RSA or P-256 public key")
}

/// The uncompressed point of a P-256 SubjectPublicKeyInfo.
fn p256_point(spki: &[u8]) -> Option<&[u8]> {
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) 04 || X || Y }
    const PREFIX: [u8; 27] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    (spki.len() == PREFIX.len() + 64 && spki.starts_with(&PREFIX)).then(|| &spki[PREFIX.len() - 1..])
}

/// A JWT minted by the space-router Worker: RS256/ES256 with its key pair, or HS256 with the
/// shared secret; `iss` and `aud` as configured, short `exp`. Accepted on `/worker/...` only.
#[derive(SecurityScheme)]
#[oai(
    rename = "workerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "authenticate_worker"
)]
pub struct WorkerAuth(pub WorkerClaims);

async fn authenticate_worker(req: &Request, bearer: Bearer) -> poem::Result<WorkerClaims> {
    let ctx = req
        .data::<AppContext>()
        .expect("AppContext is provided by the host");
    let verifier = ctx.get::<WorkerVerifier>();
    verifier.verify(&bearer.token).map_err(|error| {
        tracing::info!(error = %error, "Worker token refused");
        Problem::unauthorized()
            .with_detail("The Worker token is not valid.")
            .into()
    })
}
