//! The `sign_algs` values (XEP-0116 §8, profile P8, spec-digest A11).

/// A signature algorithm for the SIGMA mac.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (XEP-0116 §8: MUST).
    RsaSha256,
    /// DSA with SHA-256, the value r|s (XEP-0116 §8: SHOULD).
    DsaSha256,
}

impl SignAlg {
    /// The URI emitted in `sign_algs` (profile P8: the XEP-0116 spelling).
    pub fn uri(self) -> &'static str {
        match self {
            SignAlg::RsaSha256 => "http://www.w3.org/2000/09/xmldsig#rsa-sha256",
            SignAlg::DsaSha256 => "http://www.w3.org/2000/09/xmldsig#dsa-sha256",
        }
    }

    /// Reads a received `sign_algs` value. Profile P8 / A11: besides the XEP-0116 URIs, the
    /// RFC 4051 URI `http://www.w3.org/2001/04/xmldsig-more#rsa-sha256` and the XEP-0187
    /// tokens `rsa` and `dsa` are accepted. Anything else is `None`.
    pub fn from_uri(uri: &str) -> Option<SignAlg> {
        match uri {
            "http://www.w3.org/2000/09/xmldsig#rsa-sha256"
            | "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
            | "rsa" => Some(SignAlg::RsaSha256),
            "http://www.w3.org/2000/09/xmldsig#dsa-sha256" | "dsa" => Some(SignAlg::DsaSha256),
            _ => None,
        }
    }
}

impl std::fmt::Display for SignAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignAlg::RsaSha256 => "RSA-SHA256",
            SignAlg::DsaSha256 => "DSA-SHA256",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_emitted_and_accepted() {
        assert_eq!(
            SignAlg::RsaSha256.uri(),
            "http://www.w3.org/2000/09/xmldsig#rsa-sha256"
        );
        assert_eq!(
            SignAlg::DsaSha256.uri(),
            "http://www.w3.org/2000/09/xmldsig#dsa-sha256"
        );
        for alg in [SignAlg::RsaSha256, SignAlg::DsaSha256] {
            assert_eq!(SignAlg::from_uri(alg.uri()), Some(alg));
        }
        assert_eq!(
            SignAlg::from_uri("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
            Some(SignAlg::RsaSha256)
        );
        assert_eq!(SignAlg::from_uri("rsa"), Some(SignAlg::RsaSha256));
        assert_eq!(SignAlg::from_uri("dsa"), Some(SignAlg::DsaSha256));
        for other in [
            "",
            "RSA",
            "http://www.w3.org/2009/xmldsig11#dsa-sha256",
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            " rsa",
        ] {
            assert_eq!(SignAlg::from_uri(other), None, "{other:?}");
        }
    }
}
