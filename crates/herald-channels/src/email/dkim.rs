//! DKIM signing (RFC 6376) of outgoing mail, with RSA-SHA256 or Ed25519-SHA256 (RFC 8463).
//!
//! [`DkimSigner::from_pem`] reads the private key in the forms `openssl` writes: RSA as PKCS#1
//! (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), Ed25519 as PKCS#8. The signature
//! itself is lettre's; this module turns the key into the form lettre takes, chooses the signed
//! header fields and canonicalization, and says what to publish in DNS
//! ([`DkimSigner::public_key_dns_record`] at [`DkimSigner::dns_name`]).
//!
//! Canonicalization is relaxed/relaxed: relays that refold headers or touch trailing whitespace
//! then do not break the signature.
//!
//! Ed25519 signatures are small and fast, but not every receiver checks them yet; a signature
//! a receiver cannot check counts as no signature, so RSA (2048 bits) is the safe default.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lettre::Message;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::RsaPrivateKey;
use rsa::pkcs1::der::zeroize::Zeroizing;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::der::SecretDocument;
use rsa::pkcs8::{EncodePublicKey, LineEnding, ObjectIdentifier, PrivateKeyInfo};
use rsa::traits::PublicKeyParts;

/// `rsaEncryption` (RFC 8017).
const RSA_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-Ed25519` (RFC 8410).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// RFC 8301: verifiers must not accept RSA keys shorter than this.
const MIN_RSA_BITS: usize = 1024;

/// Appended to every key error: what is accepted and how to make one.
const KEY_HELP: &str = "Herald accepts an unencrypted PEM private key: RSA (2048 bits \
recommended, at least 1024) as PKCS#1 (\"-----BEGIN RSA PRIVATE KEY-----\") or PKCS#8 \
(\"-----BEGIN PRIVATE KEY-----\"), or Ed25519 as PKCS#8 (\"-----BEGIN PRIVATE KEY-----\"). \
Make one with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem` \
or `openssl genpkey -algorithm ed25519 -out dkim.pem`; remove a passphrase with \
`openssl pkey -in encrypted.pem -out dkim.pem`.";

/// The header fields every Herald message has, all signed. Content-Type and MIME-Version are
/// included so the body cannot be reinterpreted under another structure.
const ALWAYS_SIGNED: [&str; 7] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
];
/// Signed when the message has them.
const SIGNED_IF_PRESENT: [&str; 3] = ["Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post"];

/// Why a DKIM key or name cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// The signing domain or the selector cannot appear in a `DKIM-Signature`.
    #[error("DKIM {what} {value:?} is not usable: {why}")]
    Name {
        what: &'static str,
        value: String,
        why: &'static str,
    },
    /// The private key is missing, malformed, of an unsupported kind or too weak.
    #[error("the DKIM private key cannot be used: {0}. {KEY_HELP}")]
    Key(String),
}

/// The kind of DKIM key, as named in the `k=` tag of its DNS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// RSA with SHA-256 (`a=rsa-sha256`).
    Rsa,
    /// Ed25519 with SHA-256 (`a=ed25519-sha256`, RFC 8463).
    Ed25519,
}

impl DkimAlgorithm {
    /// The `k=` value of the DNS record.
    pub fn as_str(self) -> &'static str {
        match self {
            DkimAlgorithm::Rsa => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// Signs messages for one domain with one key.
pub struct DkimSigner {
    domain: String,
    selector: String,
    algorithm: DkimAlgorithm,
    /// What `p=` publishes: the DER SubjectPublicKeyInfo for RSA, the raw 32 bytes for Ed25519.
    public_key: Vec<u8>,
    /// One lettre configuration per combination of optional headers (index: Reply-To = 1,
    /// List-Unsubscribe = 2), built once. lettre's configuration is fixed to its header list and
    /// cannot be cloned with another, and it would name an absent header in `h=` anyway.
    configs: [DkimConfig; 4],
}

impl DkimSigner {
    /// Reads `pem` (see the module docs for the accepted forms) to sign for `domain` under
    /// `selector`, i.e. with the public key published at `selector._domainkey.domain`.
    pub fn from_pem(domain: &str, selector: &str, pem: &str) -> Result<DkimSigner, DkimError> {
        let domain = check_name("domain", domain)?;
        let selector = check_name("selector", selector)?;
        let key = parse_key(pem)?;
        let (algorithm, public_key, lettre_form, lettre_algorithm) = match &key {
            ParsedKey::Rsa(key) => {
                let public = key
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| DkimError::Key(format!("its public key does not encode ({e})")))?;
                // lettre reads RSA keys only as PKCS#1 PEM.
                let pkcs1 = key
                    .to_pkcs1_pem(LineEnding::LF)
                    .map_err(|e| DkimError::Key(format!("it does not re-encode ({e})")))?;
                (
                    DkimAlgorithm::Rsa,
                    public.as_bytes().to_vec(),
                    pkcs1,
                    DkimSigningAlgorithm::Rsa,
                )
            }
            ParsedKey::Ed25519(seed) => {
                let public = ed25519_dalek::SigningKey::from_bytes(seed)
                    .verifying_key()
                    .to_bytes();
                // lettre reads Ed25519 keys as the base64 of the 32-byte seed.
                let seed_b64 = Zeroizing::new(BASE64.encode(seed.as_slice()));
                (
                    DkimAlgorithm::Ed25519,
                    public.to_vec(),
                    seed_b64,
                    DkimSigningAlgorithm::Ed25519,
                )
            }
        };
        let config = |index: usize| -> Result<DkimConfig, DkimError> {
            let key = DkimSigningKey::new(&lettre_form, lettre_algorithm)
                .map_err(|e| DkimError::Key(format!("lettre refused it ({e})")))?;
            Ok(DkimConfig::new(
                selector.clone(),
                domain.clone(),
                key,
                signed_headers(index & 1 != 0, index & 2 != 0),
                DkimCanonicalization {
                    header: DkimCanonicalizationType::Relaxed,
                    body: DkimCanonicalizationType::Relaxed,
                },
            ))
        };
        let configs = [config(0)?, config(1)?, config(2)?, config(3)?];
        Ok(DkimSigner {
            domain,
            selector,
            algorithm,
            public_key,
            configs,
        })
    }

    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`).
    pub fn selector(&self) -> &str {
        &self.selector
    }

    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    /// Where the public key is published: `selector._domainkey.domain`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The value of the TXT record to publish at [`Self::dns_name`]:
    /// `v=DKIM1; k=rsa; p=...` or `v=DKIM1; k=ed25519; p=...`.
    pub fn public_key_dns_record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.as_str(),
            BASE64.encode(&self.public_key)
        )
    }

    /// Adds a `DKIM-Signature` to `message`, covering From, To, Subject, Date, Message-ID,
    /// MIME-Version and Content-Type, and Reply-To, List-Unsubscribe and List-Unsubscribe-Post
    /// when the message has them.
    ///
    /// Every signed header field must be in `message.headers()`: lettre signs only those, not
    /// the ones a MIME body part writes at the top of the message (`Email::to_message` builds
    /// its messages that way for this reason).
    pub fn sign(&self, message: &mut Message) {
        let has = |name: &str| message.headers().get_raw(name).is_some();
        let index = usize::from(has("Reply-To")) | usize::from(has("List-Unsubscribe")) << 1;
        message.sign(&self.configs[index]);
    }
}

impl fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configurations hold the private key, which must not reach a log.
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

fn signed_headers(reply_to: bool, list_unsubscribe: bool) -> Vec<HeaderName> {
    let optional = [reply_to, list_unsubscribe, list_unsubscribe];
    ALWAYS_SIGNED
        .iter()
        .copied()
        .chain(
            SIGNED_IF_PRESENT
                .iter()
                .zip(optional)
                .filter(|(_, present)| *present)
                .map(|(name, _)| *name),
        )
        .map(HeaderName::new_from_ascii_str)
        .collect()
}

/// Domains and selectors are dot-separated DNS labels; anything else (spaces, `;`, `=`) would
/// corrupt the tag list of the signature.
fn check_name(what: &'static str, value: &str) -> Result<String, DkimError> {
    let err = |why| DkimError::Name {
        what,
        value: value.to_owned(),
        why,
    };
    let value = value.trim().trim_end_matches('.');
    if value.is_empty() {
        return Err(err("it is empty"));
    }
    if !value.is_ascii() {
        return Err(err(
            "it is not ASCII (write an internationalized domain in its xn-- form)",
        ));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if value.len() > 253 || !value.split('.').all(label_ok) {
        return Err(err(
            "it must be dot-separated labels of letters, digits, '-' and '_'",
        ));
    }
    Ok(value.to_ascii_lowercase())
}

enum ParsedKey {
    Rsa(Box<RsaPrivateKey>),
    Ed25519(Zeroizing<[u8; 32]>),
}

fn parse_key(pem: &str) -> Result<ParsedKey, DkimError> {
    let pem = pem.trim();
    if pem.is_empty() {
        return Err(DkimError::Key("the key is empty".into()));
    }
    if !pem.starts_with("-----BEGIN ") {
        return Err(DkimError::Key(
            "it is not PEM (it must start with a \"-----BEGIN ...-----\" line)".into(),
        ));
    }
    // OpenSSL's legacy encryption of PKCS#1 keys uses PEM headers, which the PEM decoder would
    // only call malformed.
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(DkimError::Key("it is encrypted with a passphrase".into()));
    }
    // The label alone tells the unusable kinds apart, so they are named even when their
    // contents would not decode.
    let label = pem
        .lines()
        .next()
        .and_then(|line| line.trim().strip_prefix("-----BEGIN "))
        .and_then(|line| line.strip_suffix("-----"))
        .unwrap_or_default();
    match label {
        "RSA PRIVATE KEY" | "PRIVATE KEY" => {}
        "ENCRYPTED PRIVATE KEY" => {
            return Err(DkimError::Key("it is encrypted with a passphrase".into()));
        }
        "EC PRIVATE KEY" => {
            return Err(DkimError::Key(
                "it is an elliptic-curve (ECDSA) key, which DKIM does not define".into(),
            ));
        }
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {
            return Err(DkimError::Key(format!(
                "it is a {} where the private key is needed",
                label.to_ascii_lowercase()
            )));
        }
        other => {
            return Err(DkimError::Key(format!(
                "it is PEM labelled {other:?}, not a private key"
            )));
        }
    }
    let (_, document) = SecretDocument::from_pem(pem)
        .map_err(|e| DkimError::Key(format!("the PEM does not decode ({e})")))?;
    if label == "RSA PRIVATE KEY" {
        return RsaPrivateKey::from_pkcs1_der(document.as_bytes())
            .map_err(|e| DkimError::Key(format!("the PKCS#1 RSA key does not decode ({e})")))
            .and_then(checked_rsa);
    }
    let info: PrivateKeyInfo<'_> = document
        .decode_msg()
        .map_err(|e| DkimError::Key(format!("the PKCS#8 key does not decode ({e})")))?;
    let oid = info.algorithm.oid;
    if oid == RSA_OID {
        RsaPrivateKey::try_from(info)
            .map_err(|e| DkimError::Key(format!("the PKCS#8 RSA key does not decode ({e})")))
            .and_then(checked_rsa)
    } else if oid == ED25519_OID {
        ed25519_seed(info.private_key).map(ParsedKey::Ed25519)
    } else {
        Err(DkimError::Key(format!(
            "it is a PKCS#8 key of algorithm {oid}, which DKIM does not define"
        )))
    }
}

fn checked_rsa(key: RsaPrivateKey) -> Result<ParsedKey, DkimError> {
    key.validate()
        .map_err(|e| DkimError::Key(format!("the RSA key is inconsistent ({e})")))?;
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(DkimError::Key(format!(
            "the RSA key has {bits} bits; receivers ignore DKIM keys under {MIN_RSA_BITS} (RFC 8301)"
        )));
    }
    Ok(ParsedKey::Rsa(Box::new(key)))
}

/// PKCS#8 wraps the Ed25519 seed in one more OCTET STRING (RFC 8410 `CurvePrivateKey`):
/// `04 20` then the 32 bytes.
fn ed25519_seed(private_key: &[u8]) -> Result<Zeroizing<[u8; 32]>, DkimError> {
    match private_key {
        [0x04, 0x20, seed @ ..] if seed.len() == 32 => {
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(seed);
            Ok(out)
        }
        _ => Err(DkimError::Key(
            "the PKCS#8 Ed25519 key does not hold a 32-byte seed".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs openssl with `args` (split at spaces): test keys are made fresh, none is kept.
    fn openssl(args: &str) -> Vec<u8> {
        let args: Vec<&str> = args.split_whitespace().collect();
        let out = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "openssl {args:?}: {err}");
        out.stdout
    }

    fn pem(args: &str) -> String {
        String::from_utf8(openssl(args)).unwrap()
    }

    /// The DER SubjectPublicKeyInfo openssl derives from `key`.
    fn openssl_public_der(dir: &std::path::Path, key: &str) -> Vec<u8> {
        let path = dir.join("key.pem");
        std::fs::write(&path, key).unwrap();
        openssl(&format!("pkey -in {} -pubout -outform DER", path.display()))
    }

    #[test]
    fn dns_records_match_what_openssl_derives() {
        let dir = tempfile::tempdir().unwrap();
        let b64 = |bytes: &[u8]| BASE64.encode(bytes);

        let pkcs1 = pem("genrsa -traditional 2048");
        let spki = openssl_public_der(dir.path(), &pkcs1);
        let signer = DkimSigner::from_pem("example.com", "s", &pkcs1).unwrap();
        assert_eq!(
            signer.public_key_dns_record(),
            format!("v=DKIM1; k=rsa; p={}", b64(&spki))
        );
        // The same key as PKCS#8 gives the same record.
        let path = dir.path().join("pkcs1.pem");
        std::fs::write(&path, &pkcs1).unwrap();
        let pkcs8 = pem(&format!("pkey -in {}", path.display()));
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        let same = DkimSigner::from_pem("example.com", "s", &pkcs8).unwrap();
        assert_eq!(same.public_key_dns_record(), signer.public_key_dns_record());

        // RFC 8463: p= is the raw 32-byte key, the tail of openssl's SubjectPublicKeyInfo.
        let ed = pem("genpkey -algorithm ed25519");
        let spki = openssl_public_der(dir.path(), &ed);
        let signer = DkimSigner::from_pem("example.com", "s", &ed).unwrap();
        assert_eq!(
            signer.public_key_dns_record(),
            format!("v=DKIM1; k=ed25519; p={}", b64(&spki[spki.len() - 32..]))
        );
    }

    #[test]
    fn unusable_keys_are_refused_with_directions() {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "secret").unwrap();
        let pass = format!("file:{}", pass.display());
        let cases = [
            (
                pem("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"),
                "1.2.840.10045.2.1",
            ),
            (
                pem("ecparam -name prime256v1 -genkey -noout"),
                "elliptic-curve",
            ),
            (
                pem("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512"),
                "512 bits",
            ),
            (
                pem(&format!(
                    "genpkey -algorithm ed25519 -aes-128-cbc -pass {pass}"
                )),
                "encrypted",
            ),
            (
                pem(&format!("genrsa -traditional -aes128 -passout {pass} 1024")),
                "encrypted",
            ),
        ];
        for (key, why) in cases {
            let err = DkimSigner::from_pem("example.com", "s", &key)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{why:?} not in {err}");
            assert!(err.contains("openssl genpkey -algorithm RSA"), "{err}");
            // No part of the key in the message.
            let line = key.lines().nth(2).unwrap();
            assert!(!err.contains(line), "{err}");
        }
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let key = pem("genrsa -traditional 2048");
        let signer = DkimSigner::from_pem("example.com", "s1", &key).unwrap();
        let debug = format!("{signer:?}");
        assert!(
            debug.contains("example.com") && debug.contains("<redacted>"),
            "{debug}"
        );
        for line in key.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!debug.contains(&line[..16]), "{debug}");
        }
    }

    #[test]
    fn refusals_say_what_is_accepted() {
        let cases = [
            ("", "empty"),
            ("not a key", "not PEM"),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "does not decode",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "encrypted",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "encrypted",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "public key",
            ),
        ];
        for (pem, why) in cases {
            let err = DkimSigner::from_pem("example.com", "s", pem)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{why:?} not in {err}");
            assert!(err.contains("BEGIN RSA PRIVATE KEY"), "{err}");
            assert!(err.contains("openssl genpkey -algorithm ed25519"), "{err}");
        }
    }

    #[test]
    fn refuses_names_that_would_corrupt_the_signature() {
        for (domain, selector) in [
            ("", "s"),
            ("example.com", ""),
            ("exa mple.com", "s"),
            ("example.com; x=1", "s"),
            ("example.com", "s=1"),
            ("ex\u{e4}mple.com", "s"),
            ("example..com", "s"),
            ("-example.com", "s"),
        ] {
            // Names are checked before the key is read.
            let err = DkimSigner::from_pem(domain, selector, "").unwrap_err();
            assert!(matches!(err, DkimError::Name { .. }), "{err}");
        }
        assert_eq!(
            check_name("domain", " Mail.Example.COM. ").unwrap(),
            "mail.example.com"
        );
        assert_eq!(
            check_name("selector", "herald_2024.s1").unwrap(),
            "herald_2024.s1"
        );
    }

    #[test]
    fn reads_the_seed_out_of_pkcs8() {
        let mut inner = vec![0x04, 0x20];
        inner.extend(1..=32u8);
        assert_eq!(ed25519_seed(&inner).unwrap()[31], 32);
        assert!(ed25519_seed(&inner[..33]).is_err());
        assert!(ed25519_seed(&[0x04, 0x21, 0]).is_err());
    }

    #[test]
    fn signs_only_the_optional_headers_present() {
        let names = |headers: Vec<HeaderName>| {
            headers
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(":")
        };
        let base = "From:To:Subject:Date:Message-ID:MIME-Version:Content-Type";
        assert_eq!(names(signed_headers(false, false)), base);
        assert_eq!(
            names(signed_headers(true, false)),
            format!("{base}:Reply-To")
        );
        assert_eq!(
            names(signed_headers(false, true)),
            format!("{base}:List-Unsubscribe:List-Unsubscribe-Post")
        );
        assert_eq!(
            names(signed_headers(true, true)),
            format!("{base}:Reply-To:List-Unsubscribe:List-Unsubscribe-Post")
        );
    }
}
