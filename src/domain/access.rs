//! API keys and their scopes.
//!
//! A key is `vsk_<id>_<secret>`: the id is public (it names the key in `keys list`, logs and
//! revocation), the secret is 256 random bits shown once. Only SHA-256 of the whole token is
//! stored; a presented token is found by its id and its hash compared in constant time, so
//! neither timing nor the database reveals a secret.

use std::{fmt, str::FromStr};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do. `Admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Customers, consents, campaigns and generation.
    Crm,
    /// Validations, redemptions and rollbacks.
    Checkout,
    /// Reports and read-only campaign data.
    Reports,
    /// Everything, including keys.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are printed.
    pub const ALL: [Scope; 4] = [Scope::Crm, Scope::Checkout, Scope::Reports, Scope::Admin];

    /// The scope's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Crm => "crm",
            Scope::Checkout => "checkout",
            Scope::Reports => "reports",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s.trim())
            .ok_or_else(|| format!("unknown scope `{}` (expected crm, checkout, reports or admin)", s.trim()))
    }
}

/// A non-empty set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// Only `reports`: the least a key can hold.
    pub const READS_ONLY: Scopes = Scopes(1 << (Scope::Reports as u8));

    /// Builds a set; `None` when it would be empty (a key that can do nothing is a mistake).
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Option<Scopes> {
        let bits = scopes.into_iter().fold(0u8, |acc, s| acc | s.bit());
        (bits != 0).then_some(Scopes(bits))
    }

    /// Whether a caller with these scopes may act with `scope` (admin may do anything).
    pub fn allows(self, scope: Scope) -> bool {
        self.0 & (scope.bit() | Scope::Admin.bit()) != 0
    }

    /// The scopes in the set.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.0 & s.bit() != 0)
    }

    /// The scopes as wire names.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scopes({self})")
    }
}

impl FromStr for Scopes {
    type Err = String;

    /// Parses `crm,checkout` (spaces allowed, duplicates folded).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Scopes::new(parsed)
            .ok_or_else(|| "at least one scope is needed (crm, checkout, reports, admin)".into())
    }
}

const TOKEN_PREFIX: &str = "vsk_";
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A freshly created key: its public id and the secret token, which exists only here.
pub struct NewToken {
    /// The key's public id.
    pub id: String,
    /// The whole bearer token `vsk_<id>_<secret>`; shown once, never stored.
    pub token: String,
    /// What the store keeps instead of the token.
    pub hash: TokenHash,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken").field("id", &self.id).finish_non_exhaustive()
    }
}

/// SHA-256 of a token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes a presented token.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Hex form, as stored.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Parses the stored hex form.
    pub fn from_hex(s: &str) -> Option<TokenHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(TokenHash(out))
    }

    /// Constant-time equality, so a comparison's timing says nothing about how much matched.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// Makes a new random key (12-character id, 256-bit secret).
pub fn new_token() -> NewToken {
    let mut rng = rand::rng();
    let mut id_bytes = [0u8; 12];
    rng.fill_bytes(&mut id_bytes);
    let id: String = id_bytes.iter().map(|b| ID_ALPHABET[(b & 31) as usize] as char).collect();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{id}_{}", hex::encode(secret));
    let hash = TokenHash::of(&token);
    NewToken { id, token, hash }
}

/// The key id named by a presented token, if it has the token's shape.
pub fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 12 && id.bytes().all(|b| ID_ALPHABET.contains(&b));
    let secret_ok = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    (id_ok && secret_ok).then_some(id)
}

/// Parses a key name: trimmed, 1 to 100 characters, no control characters.
pub fn parse_key_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("name must be 1 to 100 printable characters".into());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn admin_allows_everything_and_others_only_themselves() {
        let admin: Scopes = "admin".parse().unwrap();
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        let crm: Scopes = "crm".parse().unwrap();
        assert!(crm.allows(Scope::Crm));
        assert!(!crm.allows(Scope::Checkout));
        assert!(!crm.allows(Scope::Admin));
    }

    #[test]
    fn scopes_parse_and_print() {
        let s: Scopes = " reports , crm,crm".parse().unwrap();
        assert_eq!(s.to_string(), "crm,reports");
        assert!("".parse::<Scopes>().is_err());
        assert!("crm,root".parse::<Scopes>().is_err());
    }

    #[test]
    fn tokens_are_unique_and_name_their_id() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a.token, b.token);
        assert_eq!(token_id(&a.token), Some(a.id.as_str()));
        assert!(TokenHash::of(&a.token).matches(&a.hash));
        assert!(!TokenHash::of(&b.token).matches(&a.hash));
        assert!(!format!("{a:?}").contains(&a.token));
    }

    proptest! {
        #[test]
        fn token_id_never_panics(s in ".*") {
            let _ = token_id(&s);
        }

        #[test]
        fn scope_sets_round_trip(bits in 1u8..16) {
            let set = Scopes::new(Scope::ALL.into_iter().filter(|s| bits & s.bit() != 0)).unwrap();
            prop_assert_eq!(set.to_string().parse::<Scopes>().unwrap(), set);
        }
    }
}
