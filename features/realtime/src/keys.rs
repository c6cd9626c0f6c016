//! The office-router signing keys: the current RSA key signs (RS256), the current and the
//! previous one are published as a JWKS. A key's `kid` is its RFC 7638 thumbprint, so every
//! replica configured with the same key names it the same way.

use std::sync::{Arc, OnceLock};

use anyhow::{bail, ensure, Context};
use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    rsa::{KeySize, PublicKey},
    signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::settings::pem_text;

/// Smallest accepted RSA modulus, in bits.
const MIN_RSA_BITS: usize = 2048;

/// The public half of a key, as published in the JWKS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicJwk {
    pub kid: String,
    /// Base64url big-endian modulus.
    pub n: String,
    /// Base64url big-endian exponent.
    pub e: String,
}

impl PublicJwk {
    fn of(key: &PublicKey) -> Self {
        let n = URL_SAFE_NO_PAD.encode(key.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(key.exponent().big_endian_without_leading_zero());
        // RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Self { kid, n, e }
    }
}

/// The signing key and every published key.
pub struct Keyring {
    signing: RsaKeyPair,
    current: PublicJwk,
    previous: Option<PublicJwk>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.kid)
            .field("previous", &self.previous.as_ref().map(|k| &k.kid))
            .finish()
    }
}

impl Keyring {
    /// From the configured PEMs; errors name the setting (`JWT_PRIVATE_KEY`,
    /// `JWT_PREVIOUS_KEY`).
    pub fn from_pem(current: &str, previous: Option<&str>) -> anyhow::Result<Self> {
        let signing = private_key(current).context("JWT_PRIVATE_KEY")?;
        let previous = previous
            .map(|pem| public_key(pem).context("JWT_PREVIOUS_KEY"))
            .transpose()?;
        Self::new(signing, previous)
    }

    /// A fresh 2048-bit key (development).
    pub fn generate() -> anyhow::Result<Self> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
        Self::new(pair, None)
    }

    fn new(signing: RsaKeyPair, previous: Option<PublicJwk>) -> anyhow::Result<Self> {
        let current = PublicJwk::of(signing.public_key());
        let previous = previous.filter(|p| p.kid != current.kid);
        Ok(Self {
            signing,
            current,
            previous,
        })
    }

    /// The `kid` of the signing key.
    pub fn kid(&self) -> &str {
        &self.current.kid
    }

    /// Every published key, the signing one first.
    pub fn published(&self) -> Vec<PublicJwk> {
        std::iter::once(self.current.clone())
            .chain(self.previous.clone())
            .collect()
    }

    /// A compact RS256 JWS of `claims` with the signing key's `kid`.
    pub fn sign<C: Serialize>(&self, claims: &C) -> anyhow::Result<String> {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.current.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let mut signature = vec![0; self.signing.public_modulus_len()];
        self.signing
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("RS256 signing failed"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The SubjectPublicKeyInfo PEM of the signing key (for a verifier that does not read the
    /// JWKS).
    pub fn public_pem(&self) -> anyhow::Result<String> {
        let der = self
            .signing
            .public_key()
            .as_der()
            .map_err(|_| anyhow::anyhow!("cannot encode the key"))?;
        Ok(pem::encode(&pem::Pem::new("PUBLIC KEY", der.as_ref().to_vec())))
    }

    /// The PKCS#8 PEM of the signing key (tests and tooling).
    pub fn private_pem(&self) -> anyhow::Result<String> {
        let der = self
            .signing
            .as_der()
            .map_err(|_| anyhow::anyhow!("cannot encode the key"))?;
        Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec())))
    }
}

fn parse_pem(text: &str) -> anyhow::Result<pem::Pem> {
    pem::parse(pem_text(text)).map_err(|_| anyhow::anyhow!("is not a PEM-encoded key"))
}

fn private_key(text: &str) -> anyhow::Result<RsaKeyPair> {
    let pem = parse_pem(text)?;
    let pair = match pem.tag() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(pem.contents()),
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(pem.contents()),
        other => bail!("must be an RSA private key, not a `{other}` PEM"),
    }
    .map_err(|e| anyhow::anyhow!("is not a usable RSA private key ({e})"))?;
    ensure!(
        pair.public_modulus_len() * 8 >= MIN_RSA_BITS,
        "must be an RSA key of at least {MIN_RSA_BITS} bits"
    );
    Ok(pair)
}

fn public_key(text: &str) -> anyhow::Result<PublicJwk> {
    let pem = parse_pem(text)?;
    match pem.tag() {
        "RSA PRIVATE KEY" | "PRIVATE KEY" => Ok(PublicJwk::of(private_key(text)?.public_key())),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {
            let key = PublicKey::from_der(pem.contents())
                .map_err(|e| anyhow::anyhow!("is not a usable RSA public key ({e})"))?;
            Ok(PublicJwk::of(&key))
        }
        other => bail!("must be an RSA key, not a `{other}` PEM"),
    }
}

/// The router keys: configured (parsed at boot) or, in development, generated on first use so
/// that booting stays fast.
#[derive(Clone)]
pub enum RouterKeys {
    Configured(Arc<Keyring>),
    Generated(Arc<OnceLock<Keyring>>),
}

impl RouterKeys {
    pub async fn get(&self) -> anyhow::Result<&Keyring> {
        match self {
            RouterKeys::Configured(keyring) => Ok(keyring),
            RouterKeys::Generated(cell) => {
                if let Some(keyring) = cell.get() {
                    return Ok(keyring);
                }
                let generating = cell.clone();
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    if generating.get().is_none() {
                        let keyring = Keyring::generate()?;
                        // Another request may have won the race: either key is fine.
                        let _ = generating.set(keyring);
                        tracing::warn!("JWT_PRIVATE_KEY is unset: generated a throwaway office-router key");
                    }
                    Ok(())
                })
                .await??;
                cell.get().context("the generated key is stored")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_in_every_pem_form_and_name_themselves_by_thumbprint() {
        let generated = Keyring::generate().unwrap();
        let pkcs8 = generated.private_pem().unwrap();
        let reparsed = Keyring::from_pem(&pkcs8, None).unwrap();
        assert_eq!(reparsed.kid(), generated.kid());
        // `\n`-escaped, as environment files often carry it.
        let escaped = pkcs8.replace("\r\n", "\\n").replace('\n', "\\n");
        assert_eq!(Keyring::from_pem(&escaped, None).unwrap().kid(), generated.kid());

        // The previous key, given as its public half (SubjectPublicKeyInfo).
        let other = Keyring::generate().unwrap();
        let public_pem = other.public_pem().unwrap();
        let rotated = Keyring::from_pem(&pkcs8, Some(&public_pem)).unwrap();
        let kids: Vec<String> = rotated.published().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, [generated.kid().to_owned(), other.kid().to_owned()]);
        // ... or as the whole private key.
        let rotated = Keyring::from_pem(&pkcs8, Some(&other.private_pem().unwrap())).unwrap();
        assert_eq!(rotated.published()[1].kid, other.kid());
        // The same key twice is published once.
        assert_eq!(
            Keyring::from_pem(&pkcs8, Some(&pkcs8)).unwrap().published().len(),
            1
        );
    }

    #[test]
    fn unusable_keys_are_refused_with_the_variable_named() {
        for bad in [
            "",
            "not a pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        ] {
            let error = format!("{:#}", Keyring::from_pem(bad, None).unwrap_err());
            assert!(error.starts_with("JWT_PRIVATE_KEY"), "{error}");
        }
        let good = Keyring::generate().unwrap().private_pem().unwrap();
        let error = format!("{:#}", Keyring::from_pem(&good, Some("junk")).unwrap_err());
        assert!(error.starts_with("JWT_PREVIOUS_KEY"), "{error}");
    }
}
