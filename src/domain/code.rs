//! Signed voucher codes: the printed format, how it is issued and how it is checked.
//!
//! A voucher code is something a customer types, reads aloud or pastes, and
//! something an attacker will try to guess. This module turns
//! `(key, prefix, campaign, variant, serial, customer)` into such a code and
//! back, with no database: everything the verifier needs is in the code itself
//! plus the signing keys. It is pure (no I/O, no async, no clock) so that it
//! can be tested exhaustively and called on the hot path of the service.
//!
//! # Printed form
//!
//! ```text
//! SPRING-21VJ-4H3S-DBS5-W7G4-AP9G-GDC0
//! ^^^^^^ ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
//! prefix body: 24 Crockford base32 chars = 120 bits, in groups of four
//! ```
//!
//! * The **prefix** is the campaign's own label, `[A-Z0-9]{1,8}`. It lets a
//!   human and the service see at a glance which campaign a code claims to
//!   belong to ([`normalize`] extracts it without any cryptography). It is not
//!   trusted for that: it is covered by the tag, so a code cannot be moved to
//!   another prefix.
//! * The **body** uses Crockford's base32 alphabet
//!   `0123456789ABCDEFGHJKMNPQRSTVWXYZ`: no `I`, `L`, `O` or `U`, so that
//!   what a person reads is what they type. When parsing, `O` is read as `0`
//!   and `I`/`L` as `1` (body only: the prefix is compared letter for letter).
//!
//! Parsing is forgiving in the ways people are sloppy and strict everywhere
//! else: ASCII case is ignored, spaces, tabs and `-` are ignored anywhere, and
//! the body is the *last* 24 remaining characters (so dashes are optional and
//! the prefix needs no separator). Anything non-ASCII, too short or longer
//! than [`MAX_INPUT_LEN`] / 64 significant characters is
//! [`CodeError::Malformed`], decided on a fixed-size stack buffer: the reject
//! path never allocates.
//!
//! # Body bit layout (120 bits, most significant first)
//!
//! ```text
//!  119   116 115   108 107                     52 51                 8 7       0
//! +---------+---------+-------------------------+-------------------+---------+
//! | version | key id  |   encrypted payload     |        tag        |  check  |
//! |  4 bits | 8 bits  |        56 bits          |      44 bits      |  8 bits |
//! +---------+---------+-------------------------+-------------------+---------+
//!                     payload plaintext = campaign:20 | variant:4 | serial:32
//! ```
//!
//! * **version** (= [`FORMAT_VERSION`]): lets a future format coexist with
//!   codes already in people's hands; anything else is
//!   [`CodeError::UnsupportedVersion`]. With version 1 the first body
//!   character is always `2` or `3`.
//! * **key id** (1..=255), in the clear: the verifier must know which key of
//!   the [`Keyring`] to use before it can decrypt anything, and key rotation
//!   needs old codes to keep naming their old key.
//! * **payload**: `campaign | variant | serial` passed through a keyed Feistel
//!   permutation on 56 bits (two 28-bit halves, 8 rounds, round function
//!   SipHash-2-4 under the key's 128-bit permutation subkey, fed the round
//!   number and the half). Because it is a bijection, distinct
//!   `(campaign, variant, serial)` under one key give distinct payloads, so
//!   codes are unique *by construction*: the issuer never generates, checks
//!   and retries. Because it is keyed, the code hides the campaign, the
//!   variant and the serial: consecutive serials share no visible pattern, so
//!   a customer cannot learn how many codes were issued or guess a
//!   neighbour's code from their own.
//! * **tag** (44 bits): the first 44 bits of
//!   `HMAC-SHA256(tag subkey, DOMAIN ‖ len(prefix) ‖ prefix ‖ version ‖ key id
//!   ‖ campaign|variant|serial (7 bytes) ‖ varint len(customer) ‖ customer)`.
//!   It binds the code to the customer it was issued to: the same body
//!   presented by anyone else fails. A forger must guess it: one chance in
//!   2^44 (about 1.8e13) per try. Variable-length fields are length-prefixed so
//!   no two different inputs produce the same MAC input.
//! * **check** (8 bits): the low 8 bits of
//!   `SipHash-2-4(check subkey, len(prefix) ‖ prefix ‖ version ‖ key id ‖
//!   campaign|variant|serial)`, i.e. the same fields **without** the customer.
//!   Its only job is to tell a genuine code presented by the wrong customer
//!   apart from a forgery (see below).
//!
//! # Verification decision (a product decision)
//!
//! A code is accepted iff the tag matches for the *presented* customer id AND
//! the check matches. Otherwise:
//!
//! | tag  | check | result                                                |
//! |------|-------|-------------------------------------------------------|
//! | ok   | ok    | accepted, [`Fields`] returned                         |
//! | bad  | ok    | [`CodeError::CustomerMismatch`]: genuine code, issued to someone else |
//! | bad  | bad   | [`CodeError::BadTag`]                                 |
//! | ok   | bad   | [`CodeError::BadTag`] (cannot happen for issued codes)|
//!
//! Support staff need to tell "this customer pasted their friend's code" from
//! "this is made up"; the 8-bit check is what makes that distinction. It does
//! not weaken the customer binding: the check uses its own subkey and never
//! substitutes for the tag, so a forger still has to hit the 44-bit tag. A
//! random forgery has its check right by luck 1 time in 256 and is then
//! reported as `customer_mismatch` instead of `bad_tag`; that is all the check
//! reveals, and a forger learns nothing from it that helps with the tag. The
//! tag comparison is constant-time ([`subtle::ConstantTimeEq`]).
//!
//! # Keys and cost
//!
//! Each key's 32-byte secret is expanded once, in [`SigningKey::new`], with
//! HMAC-SHA256 under three distinct labels into the permutation, tag and check
//! subkeys, so the three uses can never interact. The tag subkey is kept as a
//! prepared `Hmac<Sha256>` that has already absorbed the inner-pad block and a
//! full 64-byte domain block ([`TAG_DOMAIN`] zero-padded); each call clones
//! it. A verify therefore costs one SHA-256 compression for the per-code bytes
//! (when they fit in 55 bytes: 10 + prefix length + 1 + customer id length,
//! so any customer id up to 36 bytes, e.g. a UUID, with any prefix) plus one for
//! the outer hash, plus nine short SipHash-2-4 calls. No heap allocation
//! happens in [`verify`] or [`normalize`]; [`encode`] allocates only the
//! returned `String`.
//!
//! Key rotation: add a key with a higher id to the [`Keyring`]; it becomes
//! [`Keyring::current`] for issuing, and codes of older keys keep verifying as
//! long as their key stays in the ring. Retiring a key means removing it:
//! its codes then fail with [`CodeError::UnknownKey`].

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use siphasher::sip::SipHasher24;
use subtle::ConstantTimeEq;

/// Format version written into every new code; bumping it is how a future
/// layout can coexist with codes already printed.
pub const FORMAT_VERSION: u8 = 1;

/// Number of base32 characters in a code body (24 × 5 = 120 bits); fixed so
/// that the body can be found from the end of any input.
pub const BODY_LEN: usize = 24;

/// Longest campaign prefix, kept short so that codes stay typeable.
pub const MAX_PREFIX_LEN: usize = 8;

/// Largest campaign number (20 bits in the payload); campaign 0 is reserved
/// so that an all-zero plaintext never names a real campaign.
pub const MAX_CAMPAIGN: u32 = (1 << 20) - 1;

/// Largest variant number (4 bits in the payload).
pub const MAX_VARIANT: u8 = 15;

/// Longest raw input (bytes, separators included) that parsing will even look
/// at; anything longer is [`CodeError::Malformed`] without being scanned, so
/// hostile input costs O(1).
pub const MAX_INPUT_LEN: usize = 128;

/// Most significant (non-separator) characters accepted before an input is
/// declared [`CodeError::Malformed`] rather than a code with a bad prefix;
/// also the size of the parser's stack buffer.
const MAX_SIGNIFICANT: usize = 64;

/// Domain-separation string that starts every tag input, so a tag can never be
/// confused with another HMAC made from the same subkey. It is absorbed as a
/// full 64-byte block (zero-padded) when the key is prepared.
pub const TAG_DOMAIN: &[u8] = b"vouchsafe/v1/tag";

/// Crockford base32 alphabet, in value order.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Marks a byte that is not a body character in [`DECODE`].
const INVALID: u8 = 0xFF;

/// Byte → base32 value for body characters: both cases, plus the Crockford
/// confusions `O`→0 and `I`/`L`→1. `U` and everything else is [`INVALID`].
const DECODE: [u8; 256] = build_decode_table();

const fn build_decode_table() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 32 {
        let c = ALPHABET[i];
        t[c as usize] = i as u8;
        t[c.to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    t[b'O' as usize] = 0;
    t[b'o' as usize] = 0;
    t[b'I' as usize] = 1;
    t[b'i' as usize] = 1;
    t[b'L' as usize] = 1;
    t[b'l' as usize] = 1;
    t
}

const MASK_28: u32 = (1 << 28) - 1;
const MASK_44: u64 = (1 << 44) - 1;
const MASK_56: u64 = (1 << 56) - 1;
const FEISTEL_ROUNDS: u32 = 8;

/// Labels under which the three subkeys are derived from a key's secret; they
/// differ so that the permutation, the tag and the check never share a key.
const LABEL_PERM: &[u8] = b"vouchsafe/v1/subkey/perm";
const LABEL_TAG: &[u8] = b"vouchsafe/v1/subkey/tag";
const LABEL_CHECK: &[u8] = b"vouchsafe/v1/subkey/check";

/// Why a code was refused (or could not be issued). Kept `Copy` and
/// allocation-free so rejecting costs nothing; [`CodeError::code`] gives the
/// stable machine-readable name for APIs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The input cannot be a code at all (wrong length, characters outside
    /// the alphabet, non-ASCII, too long); nothing cryptographic was tried.
    #[error("malformed voucher code")]
    Malformed,
    /// The code names a key id that is not in the keyring: never issued
    /// here, or issued under a key that has since been retired.
    #[error("voucher code signed with an unknown or retired key")]
    UnknownKey,
    /// The code does not carry a valid signature: forged, mistyped beyond
    /// what normalisation fixes, or altered.
    #[error("voucher code signature is invalid")]
    BadTag,
    /// The code was written by a format version this build does not read.
    #[error("unsupported voucher code format version")]
    UnsupportedVersion,
    /// The code is genuine but was issued to a different customer than the
    /// one presenting it.
    #[error("voucher code was issued to a different customer")]
    CustomerMismatch,
    /// The prefix is empty, longer than [`MAX_PREFIX_LEN`] or not `[A-Z0-9]`.
    #[error("invalid voucher code prefix")]
    InvalidPrefix,
    /// A value given to [`encode`] or [`SigningKey::new`] does not fit the
    /// format (campaign, variant, key id, or an all-zero secret).
    #[error("voucher code field out of range")]
    FieldOutOfRange,
}

impl CodeError {
    /// Stable snake_case identifier, for API error bodies and metric labels,
    /// which must not change when the human-readable message does.
    pub fn code(&self) -> &'static str {
        match self {
            CodeError::Malformed => "malformed",
            CodeError::UnknownKey => "unknown_key",
            CodeError::BadTag => "bad_tag",
            CodeError::UnsupportedVersion => "unsupported_version",
            CodeError::CustomerMismatch => "customer_mismatch",
            CodeError::InvalidPrefix => "invalid_prefix",
            CodeError::FieldOutOfRange => "field_out_of_range",
        }
    }
}

/// The fields a verified code carries, i.e. what the service needs to look up
/// the campaign and redeem exactly once (`(key_id, campaign, variant, serial)`
/// identifies the code; the prefix is not repeated here because the caller
/// already has it from the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fields {
    /// Format version of the code (always [`FORMAT_VERSION`] today).
    pub version: u8,
    /// Id of the key that signed the code, so rotation can be tracked.
    pub key_id: u8,
    /// Campaign number, 1..=[`MAX_CAMPAIGN`].
    pub campaign: u32,
    /// Variant within the campaign (e.g. the offer tier), 0..=[`MAX_VARIANT`].
    pub variant: u8,
    /// Serial number within the campaign; any `u32`.
    pub serial: u32,
}

/// One signing key, with its subkeys derived and prepared up front so that
/// issuing and verifying never repeat the key schedule. The raw secret is not
/// kept, and `Debug` shows only the id.
pub struct SigningKey {
    id: u8,
    /// SipHash-2-4 key for the Feistel round function.
    perm: SipHasher24,
    /// HMAC-SHA256 state after the inner-pad block and the domain block.
    tag: Hmac<Sha256>,
    /// SipHash-2-4 key for the 8-bit check.
    check: SipHasher24,
}

impl SigningKey {
    /// Prepares a key from its id (1..=255, written into every code it signs)
    /// and its 32-byte secret. Rejects id 0 and an all-zero secret with
    /// [`CodeError::FieldOutOfRange`]: the first is reserved, the second is
    /// almost certainly an unset configuration value rather than a key.
    pub fn new(id: u8, secret: &[u8; 32]) -> Result<Self, CodeError> {
        if id == 0 || secret.iter().all(|&b| b == 0) {
            return Err(CodeError::FieldOutOfRange);
        }
        let perm = derive(secret, LABEL_PERM)?;
        let tag_key = derive(secret, LABEL_TAG)?;
        let check = derive(secret, LABEL_CHECK)?;

        let mut tag =
            <Hmac<Sha256> as Mac>::new_from_slice(&tag_key).map_err(|_| CodeError::FieldOutOfRange)?;
        let mut domain_block = [0u8; 64];
        domain_block[..TAG_DOMAIN.len()].copy_from_slice(TAG_DOMAIN);
        tag.update(&domain_block);

        Ok(SigningKey {
            id,
            perm: SipHasher24::new_with_key(&first_16(&perm)),
            tag,
            check: SipHasher24::new_with_key(&first_16(&check)),
        })
    }

    /// The id written into codes signed by this key; the keyring is indexed
    /// by it.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// Keyed Feistel round function: 28 pseudo-random bits from the round
    /// number and one half. The round number sits in the top nibble so each
    /// round is an independent function, and the 4-byte input keeps SipHash
    /// to a single compression block.
    #[inline]
    fn round(&self, round: u32, half: u32) -> u32 {
        let word = (round << 28) | (half & MASK_28);
        (self.perm.hash(&word.to_le_bytes()) as u32) & MASK_28
    }

    /// Encrypts the 56-bit plaintext `campaign|variant|serial`.
    fn permute(&self, x: u64) -> u64 {
        let mut l = ((x >> 28) as u32) & MASK_28;
        let mut r = (x as u32) & MASK_28;
        for i in 0..FEISTEL_ROUNDS {
            let next = l ^ self.round(i, r);
            l = r;
            r = next;
        }
        ((l as u64) << 28) | r as u64
    }

    /// Inverse of [`SigningKey::permute`].
    fn unpermute(&self, y: u64) -> u64 {
        let mut l = ((y >> 28) as u32) & MASK_28;
        let mut r = (y as u32) & MASK_28;
        for i in (0..FEISTEL_ROUNDS).rev() {
            let prev = r ^ self.round(i, l);
            r = l;
            l = prev;
        }
        ((l as u64) << 28) | r as u64
    }

    /// 44-bit customer-bound tag over the common bytes and the customer id.
    fn tag(&self, common: &Common, customer_id: &str) -> u64 {
        let mut buf = [0u8; COMMON_MAX + 10];
        let n = common.len;
        buf[..n].copy_from_slice(&common.buf[..n]);
        let n = n + write_varint(&mut buf[n..], customer_id.len() as u64);
        let mut mac = self.tag.clone();
        mac.update(&buf[..n]);
        mac.update(customer_id.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        u64::from_be_bytes(first) >> 20
    }

    /// 8-bit customer-free check over the common bytes.
    fn check(&self, common: &Common) -> u8 {
        self.check.hash(&common.buf[..common.len]) as u8
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// HMAC-SHA256(secret, label): one-step key derivation for a subkey.
fn derive(secret: &[u8; 32], label: &[u8]) -> Result<[u8; 32], CodeError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| CodeError::FieldOutOfRange)?;
    mac.update(label);
    Ok(mac.finalize().into_bytes().into())
}

fn first_16(k: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&k[..16]);
    out
}

/// LEB128 length prefix: one byte for ids under 128 bytes, injective for all.
fn write_varint(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            if let Some(slot) = out.get_mut(i) {
                *slot = byte;
            }
            return i + 1;
        }
        if let Some(slot) = out.get_mut(i) {
            *slot = byte | 0x80;
        }
        i += 1;
    }
}

/// Longest common MAC input: len(prefix) + prefix + version + key id + 7
/// payload bytes.
const COMMON_MAX: usize = 1 + MAX_PREFIX_LEN + 1 + 1 + 7;

/// The fixed-layout bytes shared by the tag and check inputs, built once per
/// call on the stack.
struct Common {
    buf: [u8; COMMON_MAX],
    len: usize,
}

impl Common {
    /// `prefix` must already be validated (1..=8 bytes).
    fn new(prefix: &[u8], version: u8, key_id: u8, plaintext: u64) -> Self {
        let mut buf = [0u8; COMMON_MAX];
        let p = prefix.len().min(MAX_PREFIX_LEN);
        buf[0] = p as u8;
        buf[1..1 + p].copy_from_slice(&prefix[..p]);
        let mut n = 1 + p;
        buf[n] = version;
        buf[n + 1] = key_id;
        n += 2;
        buf[n..n + 7].copy_from_slice(&plaintext.to_be_bytes()[1..]);
        n += 7;
        Common { buf, len: n }
    }
}

/// The keys a verifier accepts and the one an issuer should use. Lookup by
/// id is O(1); retiring a key is done by building a ring without it.
pub struct Keyring {
    keys: Vec<SigningKey>,
    /// id → index into `keys` + 1 (0 = absent).
    index: [u8; 256],
    /// Index into `keys` of the highest id.
    current: Option<usize>,
}

impl Keyring {
    /// Builds a ring from the keys to accept. If two keys share an id the
    /// later one wins (an id names exactly one key inside a code, so two
    /// cannot both be honoured). The key with the highest id becomes
    /// [`Keyring::current`].
    pub fn new(keys: Vec<SigningKey>) -> Self {
        let mut index = [0u8; 256];
        let mut stored: Vec<SigningKey> = Vec::with_capacity(keys.len());
        for key in keys {
            let id = key.id as usize;
            match index[id] {
                0 => {
                    stored.push(key);
                    // At most 255 distinct ids (1..=255), so this fits a u8.
                    index[id] = stored.len() as u8;
                }
                slot => {
                    if let Some(existing) = stored.get_mut(slot as usize - 1) {
                        *existing = key;
                    }
                }
            }
        }
        let current = stored.iter().enumerate().max_by_key(|(_, k)| k.id).map(|(i, _)| i);
        Keyring { keys: stored, index, current }
    }

    /// The key new codes should be signed with: the highest id in the ring,
    /// i.e. the most recently rotated-in key. `None` for an empty ring.
    pub fn current(&self) -> Option<&SigningKey> {
        self.current.and_then(|i| self.keys.get(i))
    }

    /// The key a code names, if it is still accepted.
    pub fn get(&self, id: u8) -> Option<&SigningKey> {
        match self.index[id as usize] {
            0 => None,
            slot => self.keys.get(slot as usize - 1),
        }
    }

    /// True when no code can verify and none can be issued; the service
    /// should refuse to start in that state.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &KeyIds(&self.keys))
            .field("current", &self.current().map(SigningKey::id))
            .finish()
    }
}

struct KeyIds<'a>(&'a [SigningKey]);

impl fmt::Debug for KeyIds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|k| k.id)).finish()
    }
}

/// An input parsed into its canonical form (upper-case prefix, canonical body
/// characters) without any cryptography: what the service uses to find the
/// campaign by prefix before it verifies, and to log a code in one spelling.
/// Lives entirely on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Normalized {
    prefix: [u8; MAX_PREFIX_LEN],
    prefix_len: u8,
    body: [u8; BODY_LEN],
    bits: u128,
}

impl Normalized {
    /// The campaign prefix, upper-cased, exactly as the customer typed it
    /// (no confusable mapping), for matching against a campaign.
    pub fn prefix(&self) -> &str {
        let p = (self.prefix_len as usize).min(MAX_PREFIX_LEN);
        core::str::from_utf8(&self.prefix[..p]).unwrap_or_default()
    }

    /// The 24 body characters in canonical spelling (`O`→`0`, `I`/`L`→`1`,
    /// upper case, no separators).
    pub fn body(&self) -> &str {
        core::str::from_utf8(&self.body).unwrap_or_default()
    }
}

/// Canonical printed form, `PREFIX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`.
impl fmt::Display for Normalized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())?;
        for group in self.body().as_bytes().chunks(4) {
            f.write_str("-")?;
            f.write_str(core::str::from_utf8(group).unwrap_or_default())?;
        }
        Ok(())
    }
}

/// Does not print the code in full: codes are bearer secrets.
impl fmt::Debug for Normalized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Normalized").field("prefix", &self.prefix()).finish_non_exhaustive()
    }
}

/// Parses `input` into its canonical prefix and body without verifying it,
/// so the caller can route by prefix (or reject junk) before touching keys.
/// Applies exactly the normalisation [`verify`] applies; never allocates.
pub fn normalize(input: &str) -> Result<Normalized, CodeError> {
    let bytes = input.as_bytes();
    if bytes.len() > MAX_INPUT_LEN {
        return Err(CodeError::Malformed);
    }
    let mut buf = [0u8; MAX_SIGNIFICANT];
    let mut n = 0usize;
    for &b in bytes {
        if matches!(b, b' ' | b'\t' | b'-') {
            continue;
        }
        if !b.is_ascii() {
            return Err(CodeError::Malformed);
        }
        match buf.get_mut(n) {
            Some(slot) => *slot = b.to_ascii_uppercase(),
            None => return Err(CodeError::Malformed),
        }
        n += 1;
    }
    if n < BODY_LEN {
        return Err(CodeError::Malformed);
    }
    let prefix_len = n - BODY_LEN;

    let mut body = [0u8; BODY_LEN];
    let mut bits: u128 = 0;
    for (slot, &c) in body.iter_mut().zip(&buf[prefix_len..n]) {
        let v = DECODE[c as usize];
        if v == INVALID {
            return Err(CodeError::Malformed);
        }
        bits = (bits << 5) | v as u128;
        *slot = ALPHABET[(v & 31) as usize];
    }

    if prefix_len == 0 || prefix_len > MAX_PREFIX_LEN {
        return Err(CodeError::InvalidPrefix);
    }
    let mut prefix = [0u8; MAX_PREFIX_LEN];
    for (slot, &c) in prefix.iter_mut().zip(&buf[..prefix_len]) {
        if !is_prefix_char(c) {
            return Err(CodeError::InvalidPrefix);
        }
        *slot = c;
    }
    Ok(Normalized { prefix, prefix_len: prefix_len as u8, body, bits })
}

fn is_prefix_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

/// Issues the code for one voucher: `(campaign, variant, serial)` under `key`,
/// printed behind `prefix` and bound to `customer_id`. Deterministic: the
/// same inputs give the same code, and distinct `(campaign, variant, serial)`
/// give distinct codes, so issuing needs no uniqueness check.
///
/// `prefix` must be 1..=[`MAX_PREFIX_LEN`] characters of `[A-Z0-9]` (exactly
/// as printed; this function does not upper-case, so a typo in campaign
/// configuration is caught rather than silently changed) else
/// [`CodeError::InvalidPrefix`]; `campaign` must be 1..=[`MAX_CAMPAIGN`] and
/// `variant` ≤ [`MAX_VARIANT`], else [`CodeError::FieldOutOfRange`].
pub fn encode(
    key: &SigningKey,
    prefix: &str,
    campaign: u32,
    variant: u8,
    serial: u32,
    customer_id: &str,
) -> Result<String, CodeError> {
    let p = prefix.as_bytes();
    if p.is_empty() || p.len() > MAX_PREFIX_LEN || !p.iter().all(|&c| is_prefix_char(c)) {
        return Err(CodeError::InvalidPrefix);
    }
    if campaign == 0 || campaign > MAX_CAMPAIGN || variant > MAX_VARIANT {
        return Err(CodeError::FieldOutOfRange);
    }
    let plaintext = ((campaign as u64) << 36) | ((variant as u64) << 32) | serial as u64;
    let common = Common::new(p, FORMAT_VERSION, key.id, plaintext);
    let tag = key.tag(&common, customer_id);
    let check = key.check(&common);
    let bits = ((FORMAT_VERSION as u128) << 116)
        | ((key.id as u128) << 108)
        | ((key.permute(plaintext) as u128) << 52)
        | ((tag as u128) << 8)
        | check as u128;

    let mut out = String::with_capacity(p.len() + BODY_LEN + BODY_LEN / 4);
    out.push_str(prefix);
    for i in 0..BODY_LEN {
        if i % 4 == 0 {
            out.push('-');
        }
        let v = (bits >> (5 * (BODY_LEN - 1 - i))) as usize & 31;
        out.push(ALPHABET[v] as char);
    }
    Ok(out)
}

/// Checks a code as presented by `customer_id` and returns what it carries.
/// See the module documentation for the normalisation rules and for when
/// [`CodeError::CustomerMismatch`] rather than [`CodeError::BadTag`] is
/// returned. Does not allocate; costs one prepared HMAC-SHA256 and nine short
/// SipHash-2-4 calls when the code reaches the cryptographic checks.
pub fn verify(keyring: &Keyring, input: &str, customer_id: &str) -> Result<Fields, CodeError> {
    let norm = normalize(input)?;
    let bits = norm.bits;
    let version = (bits >> 116) as u8 & 0x0f;
    if version != FORMAT_VERSION {
        return Err(CodeError::UnsupportedVersion);
    }
    let key_id = (bits >> 108) as u8;
    let key = keyring.get(key_id).ok_or(CodeError::UnknownKey)?;
    let payload = (bits >> 52) as u64 & MASK_56;
    let presented_tag = (bits >> 8) as u64 & MASK_44;
    let presented_check = bits as u8;

    let plaintext = key.unpermute(payload);
    let prefix_len = (norm.prefix_len as usize).min(MAX_PREFIX_LEN);
    let common = Common::new(&norm.prefix[..prefix_len], version, key_id, plaintext);
    let tag_ok: bool = key.tag(&common, customer_id).ct_eq(&presented_tag).into();
    let check_ok: bool = key.check(&common).ct_eq(&presented_check).into();

    let campaign = (plaintext >> 36) as u32;
    match (tag_ok, check_ok) {
        // Campaign 0 is never issued; only a 2^-44 forgery could get here.
        (true, true) if campaign != 0 => Ok(Fields {
            version,
            key_id,
            campaign,
            variant: (plaintext >> 32) as u8 & 0x0f,
            serial: plaintext as u32,
        }),
        (false, true) => Err(CodeError::CustomerMismatch),
        _ => Err(CodeError::BadTag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn key(id: u8) -> SigningKey {
        let mut secret = [0u8; 32];
        for (i, b) in secret.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(id);
        }
        SigningKey::new(id, &secret).expect("valid test key")
    }

    fn ring(ids: &[u8]) -> Keyring {
        Keyring::new(ids.iter().map(|&id| key(id)).collect())
    }

    /// Canonical significant characters of a code (prefix + body, no dashes).
    fn stripped(code: &str) -> Vec<u8> {
        code.bytes().filter(|&b| b != b'-').collect()
    }

    fn secret_strategy() -> impl Strategy<Value = [u8; 32]> {
        any::<[u8; 32]>().prop_filter("non-zero secret", |s| s.iter().any(|&b| b != 0))
    }

    fn serial_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0u32), Just(u32::MAX), Just(1u32), any::<u32>()]
    }

    fn customer_strategy() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z0-9-]{1,40}", "\\PC{0,24}", ".{0,80}",]
    }

    #[test]
    fn printed_shape() {
        let k = key(1);
        let code = encode(&k, "SPRING", 42, 3, 7, "alice").unwrap();
        assert_eq!(code.len(), 6 + 30);
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 7);
        assert_eq!(groups[0], "SPRING");
        for g in &groups[1..] {
            assert_eq!(g.len(), 4);
            assert!(g.bytes().all(|c| ALPHABET.contains(&c)), "{code}");
        }
        // Version 1 in the top nibble: first body char is '2' or '3'.
        assert!(matches!(groups[1].as_bytes()[0], b'2' | b'3'));
    }

    /// Pins the format: if these change, codes already issued stop
    /// verifying. The expected strings were computed by an independent
    /// Python implementation written from the module documentation.
    #[test]
    fn known_answers() {
        struct Vector {
            key_id: u8,
            secret: [u8; 32],
            prefix: &'static str,
            fields: (u32, u8, u32),
            customer: &'static str,
            code: &'static str,
        }
        let vectors = [
            Vector {
                key_id: 7,
                secret: [0x42; 32],
                prefix: "SPRING",
                fields: (4242, 3, 123_456),
                customer: "customer-1",
                code: "SPRING-21VJ-4H3S-DBS5-W7G4-AP9G-GDC0",
            },
            Vector {
                key_id: 7,
                secret: [0x42; 32],
                prefix: "SPRING",
                fields: (4242, 3, 123_457),
                customer: "customer-1",
                code: "SPRING-21T3-R3F9-Y852-3N8K-S9F7-1XC4",
            },
            Vector {
                key_id: 200,
                secret: core::array::from_fn(|i| i as u8),
                prefix: "X1",
                fields: (MAX_CAMPAIGN, MAX_VARIANT, u32::MAX),
                customer: "ünïcödé-客户",
                code: "X1-3J2B-K02Z-HH5B-FRY5-HKS8-R2C0",
            },
        ];
        for v in vectors {
            let (campaign, variant, serial) = v.fields;
            let k = SigningKey::new(v.key_id, &v.secret).unwrap();
            let code = encode(&k, v.prefix, campaign, variant, serial, v.customer).unwrap();
            assert_eq!(code, v.code);
            let f = verify(&Keyring::new(vec![k]), v.code, v.customer).unwrap();
            let want = Fields { version: 1, key_id: v.key_id, campaign, variant, serial };
            assert_eq!(f, want);
        }
    }

    #[test]
    fn feistel_is_a_bijection_and_invertible() {
        let k = key(3);
        let mut seen = HashSet::new();
        for x in (0..50_000u64).chain([MASK_56, MASK_56 - 1, 1 << 55]) {
            let y = k.permute(x);
            assert!(y <= MASK_56);
            assert_eq!(k.unpermute(y), x);
            assert!(seen.insert(y));
        }
    }

    #[test]
    fn consecutive_serials_share_no_visible_pattern() {
        let k = key(1);
        let a = encode(&k, "P", 1, 0, 1000, "c").unwrap();
        let b = encode(&k, "P", 1, 0, 1001, "c").unwrap();
        // The payload occupies body chars 2..=12 (bits 107..52); count equal
        // characters there: a pattern would show as a long shared run.
        let (sa, sb) = (stripped(&a), stripped(&b));
        let same = (3..13).filter(|&i| sa[1 + i] == sb[1 + i]).count();
        assert!(same < 6, "{a} vs {b}");
    }

    #[test]
    fn encode_validates_inputs() {
        let k = key(1);
        for bad in ["", "ABCDEFGHI", "spring", "SPR-NG", "SPR NG", "ÄB", "A_B"] {
            assert_eq!(encode(&k, bad, 1, 0, 0, "c"), Err(CodeError::InvalidPrefix), "{bad:?}");
        }
        assert!(encode(&k, "ABCDEFGH", 1, 0, 0, "c").is_ok());
        assert!(encode(&k, "0", MAX_CAMPAIGN, MAX_VARIANT, u32::MAX, "c").is_ok());
        assert_eq!(encode(&k, "A", 0, 0, 0, "c"), Err(CodeError::FieldOutOfRange));
        assert_eq!(encode(&k, "A", MAX_CAMPAIGN + 1, 0, 0, "c"), Err(CodeError::FieldOutOfRange));
        assert_eq!(encode(&k, "A", 1, MAX_VARIANT + 1, 0, "c"), Err(CodeError::FieldOutOfRange));
    }

    #[test]
    fn signing_key_rejects_reserved_id_and_zero_secret() {
        assert_eq!(SigningKey::new(0, &[1; 32]).unwrap_err(), CodeError::FieldOutOfRange);
        assert_eq!(SigningKey::new(1, &[0; 32]).unwrap_err(), CodeError::FieldOutOfRange);
        assert_eq!(SigningKey::new(255, &[1; 32]).unwrap().id(), 255);
    }

    #[test]
    fn signing_key_debug_hides_secret() {
        let secret: [u8; 32] = *b"super-secret-0123456789abcdefXYZ";
        let k = SigningKey::new(9, &secret).unwrap();
        let dbg = format!("{k:?}");
        let alt = format!("{k:#?}");
        assert!(dbg.contains("9"), "{dbg}");
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        for s in [&dbg, &alt] {
            assert!(!s.contains("super-secret"), "{s}");
            assert!(!s.contains(&format!("{secret:?}")), "{s}");
            assert!(!s.contains(&hex), "{s}");
            assert!(!s.contains("115, 117, 112"), "{s}"); // "sup" as decimal bytes
        }
        let ring = Keyring::new(vec![k]);
        let dbg = format!("{ring:?}");
        assert!(!dbg.contains("super-secret") && !dbg.contains(&hex), "{dbg}");
    }

    #[test]
    fn error_codes_are_stable() {
        let all = [
            (CodeError::Malformed, "malformed"),
            (CodeError::UnknownKey, "unknown_key"),
            (CodeError::BadTag, "bad_tag"),
            (CodeError::UnsupportedVersion, "unsupported_version"),
            (CodeError::CustomerMismatch, "customer_mismatch"),
            (CodeError::InvalidPrefix, "invalid_prefix"),
            (CodeError::FieldOutOfRange, "field_out_of_range"),
        ];
        for (e, s) in all {
            assert_eq!(e.code(), s);
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn keyring_rotation() {
        let r1 = ring(&[1]);
        let code = encode(r1.current().unwrap(), "ROT", 5, 1, 99, "bob").unwrap();
        assert_eq!(verify(&r1, &code, "bob").unwrap().key_id, 1);

        // Key 2 rotated in: it is current, key-1 codes still verify.
        let r12 = ring(&[1, 2]);
        assert_eq!(r12.current().unwrap().id(), 2);
        assert_eq!(verify(&r12, &code, "bob").unwrap().serial, 99);
        let code2 = encode(r12.current().unwrap(), "ROT", 5, 1, 99, "bob").unwrap();
        assert_ne!(code, code2);
        assert_eq!(verify(&r12, &code2, "bob").unwrap().key_id, 2);

        // Key 1 retired (removed): its codes are unknown_key, key 2's still work.
        let r2 = ring(&[2]);
        assert_eq!(verify(&r2, &code, "bob"), Err(CodeError::UnknownKey));
        assert_eq!(verify(&r2, &code2, "bob").unwrap().key_id, 2);
    }

    /// The service shares one keyring across worker threads.
    #[test]
    fn keys_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SigningKey>();
        assert_send_sync::<Keyring>();
        assert_send_sync::<Normalized>();
        assert_send_sync::<CodeError>();
    }

    #[test]
    fn keyring_basics() {
        let empty = Keyring::new(Vec::new());
        assert!(empty.is_empty());
        assert!(empty.current().is_none());
        assert!(empty.get(1).is_none());
        assert!(empty.get(0).is_none());

        let r = ring(&[3, 200, 17]);
        assert!(!r.is_empty());
        assert_eq!(r.current().unwrap().id(), 200);
        assert_eq!(r.get(17).unwrap().id(), 17);
        assert!(r.get(4).is_none());
        assert!(format!("{r:?}").contains("200"));

        // Duplicate id: the later key wins.
        let a = SigningKey::new(5, &[1; 32]).unwrap();
        let b = SigningKey::new(5, &[2; 32]).unwrap();
        let code_b = encode(&b, "D", 1, 0, 0, "x").unwrap();
        let r = Keyring::new(vec![a, b]);
        assert!(verify(&r, &code_b, "x").is_ok());
    }

    #[test]
    fn unsupported_version_and_unknown_key() {
        let r = ring(&[1]);
        let code = encode(r.current().unwrap(), "V", 1, 0, 0, "c").unwrap();
        let mut s = stripped(&code);
        // Body starts at index 1; first char holds version(4) + key id top bit.
        for (c, want) in [
            (b'0', CodeError::UnsupportedVersion), // version 0
            (b'4', CodeError::UnsupportedVersion), // version 2
            (b'Z', CodeError::UnsupportedVersion), // version 15
        ] {
            s[1] = c;
            let input = String::from_utf8(s.clone()).unwrap();
            assert_eq!(verify(&r, &input, "c"), Err(want));
        }
        // Key id 0 and an id not in the ring.
        let other = encode(&key(9), "V", 1, 0, 0, "c").unwrap();
        assert_eq!(verify(&r, &other, "c"), Err(CodeError::UnknownKey));
        let zero_id = format!("V{}", "2".to_owned() + &"0".repeat(23));
        assert_eq!(verify(&r, &zero_id, "c"), Err(CodeError::UnknownKey));
    }

    #[test]
    fn malformed_and_prefix_errors() {
        let r = ring(&[1]);
        let code = encode(r.current().unwrap(), "AB", 1, 0, 0, "c").unwrap();
        let body = &code[3..];
        let cases: &[(&str, CodeError)] = &[
            ("", CodeError::Malformed),
            ("   -- \t", CodeError::Malformed),
            ("AB", CodeError::Malformed),
            (body, CodeError::InvalidPrefix),
        ];
        for (input, want) in cases {
            assert_eq!(verify(&r, input, "c"), Err(*want), "{input:?}");
        }
        // One character short: the body window shifts and the code fails.
        assert!(verify(&r, &code[..code.len() - 1], "c").is_err());
        // 'U' and punctuation in the body, non-ASCII anywhere.
        let mut u = code.clone();
        u.replace_range(code.len() - 1.., "U");
        assert_eq!(verify(&r, &u, "c"), Err(CodeError::Malformed));
        let mut dot = code.clone();
        dot.replace_range(5..6, ".");
        assert_eq!(verify(&r, &dot, "c"), Err(CodeError::Malformed));
        assert_eq!(verify(&r, &format!("{code}é"), "c"), Err(CodeError::Malformed));
        assert_eq!(verify(&r, &format!("Ä{code}"), "c"), Err(CodeError::Malformed));
        // Newlines are not separators.
        assert_eq!(verify(&r, &format!("{code}\n"), "c"), Err(CodeError::Malformed));
        // Prefix too long / bad prefix chars.
        assert_eq!(verify(&r, &format!("ABCDEFGHI{body}"), "c"), Err(CodeError::InvalidPrefix));
        assert_eq!(verify(&r, &format!("A_{body}"), "c"), Err(CodeError::InvalidPrefix));
        // Too many significant chars, too long raw input.
        assert_eq!(verify(&r, &format!("{}{body}", "A".repeat(41)), "c"), Err(CodeError::Malformed));
        assert_eq!(
            verify(&r, &format!("{}{code}", " ".repeat(MAX_INPUT_LEN)), "c"),
            Err(CodeError::Malformed)
        );
        // Generous whitespace within the raw bound is fine.
        assert!(verify(&r, &format!("  {code}  \t"), "c").is_ok());
        // Prefix confusables are not mapped: "AB" typed as "A8" fails the tag.
        let mut swapped = code.clone();
        swapped.replace_range(1..2, "8");
        assert!(matches!(verify(&r, &swapped, "c"), Err(CodeError::BadTag | CodeError::CustomerMismatch)));
    }

    #[test]
    fn normalize_exposes_prefix_without_verifying() {
        let n = normalize("  spring-2abc-defg-hjkm-npqr-stvw-xyzo ").unwrap();
        assert_eq!(n.prefix(), "SPRING");
        assert_eq!(n.body(), "2ABCDEFGHJKMNPQRSTVWXYZ0");
        assert_eq!(n.to_string(), "SPRING-2ABC-DEFG-HJKM-NPQR-STVW-XYZ0");
        assert!(!format!("{n:?}").contains("2ABC"));
        let m = normalize("SPRING2ABCDEFGHJKMNPQRSTVWXYZ0").unwrap();
        assert_eq!(n, m);
    }

    #[test]
    fn wrong_customer_fixed_examples() {
        let r = ring(&[1]);
        let k = r.current().unwrap();
        let code = encode(k, "VIP", 77, 2, 5, "alice@example.com").unwrap();
        assert!(verify(&r, &code, "alice@example.com").is_ok());
        for other in ["bob@example.com", "", "alice@example.co", "ALICE@example.com"] {
            assert_eq!(verify(&r, &code, other), Err(CodeError::CustomerMismatch), "{other:?}");
        }
    }

    /// Enough distinct codes to exercise uniqueness by construction; run in
    /// release with `cargo test --release -- --include-ignored`.
    #[test]
    #[ignore]
    fn million_serials_give_million_distinct_codes() {
        const N: u32 = 1_000_000;
        let r = ring(&[1]);
        let k = r.current().unwrap();
        let start = std::time::Instant::now();
        let mut seen = HashSet::with_capacity(N as usize);
        for serial in 0..N {
            let code = encode(k, "MILLION", 12345, 0, serial, "").unwrap();
            if serial % 10_007 == 0 {
                assert_eq!(verify(&r, &code, "").unwrap().serial, serial);
            }
            assert!(seen.insert(code), "duplicate code at serial {serial}");
        }
        assert_eq!(seen.len(), N as usize);
        eprintln!(
            "million_serials_give_million_distinct_codes: {} codes in {:?}",
            seen.len(),
            start.elapsed()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn round_trip(
            secret in secret_strategy(),
            key_id in 1u8..=255,
            prefix in "[A-Z0-9]{1,8}",
            campaign in prop_oneof![Just(1u32), Just(MAX_CAMPAIGN), 1u32..=MAX_CAMPAIGN],
            variant in 0u8..=MAX_VARIANT,
            serial in serial_strategy(),
            customer in customer_strategy(),
        ) {
            let k = SigningKey::new(key_id, &secret).unwrap();
            let code = encode(&k, &prefix, campaign, variant, serial, &customer).unwrap();
            let r = Keyring::new(vec![k]);
            let f = verify(&r, &code, &customer).unwrap();
            prop_assert_eq!(f, Fields { version: FORMAT_VERSION, key_id, campaign, variant, serial });
            let n = normalize(&code).unwrap();
            prop_assert_eq!(n.prefix(), prefix.as_str());
            prop_assert_eq!(n.to_string(), code);
        }

        #[test]
        fn normalisation_is_forgiving(
            prefix in "[A-Z0-9]{1,8}",
            campaign in 1u32..=MAX_CAMPAIGN,
            serial in serial_strategy(),
            customer in customer_strategy(),
            lower in any::<bool>(),
            keep_dashes in any::<bool>(),
            spaces in proptest::collection::vec(0usize..40, 0..6),
            confuse_seed in any::<u64>(),
        ) {
            let r = ring(&[1]);
            let code = encode(r.current().unwrap(), &prefix, campaign, 4, serial, &customer).unwrap();
            let want = verify(&r, &code, &customer).unwrap();
            let plen = prefix.len();
            let mut out: Vec<u8> = Vec::new();
            let mut body_i = 0usize;
            for (i, &c) in code.as_bytes().iter().enumerate() {
                if c == b'-' {
                    if keep_dashes { out.push(b'-'); }
                    continue;
                }
                let mut c = c;
                if i > plen {
                    // Body char: swap in a confusable, picked by the seed.
                    let pick = (confuse_seed >> (body_i % 64)) & 1 == 1;
                    c = match (c, pick) {
                        (b'0', true) => b'O',
                        (b'1', true) => if body_i.is_multiple_of(2) { b'I' } else { b'L' },
                        _ => c,
                    };
                    body_i += 1;
                }
                out.push(if lower { c.to_ascii_lowercase() } else { c });
            }
            for &pos in &spaces {
                let pos = pos.min(out.len());
                out.insert(pos, if pos % 2 == 0 { b' ' } else { b'\t' });
            }
            let input = String::from_utf8(out).unwrap();
            prop_assert_eq!(verify(&r, &input, &customer), Ok(want), "{}", input);
            prop_assert_eq!(normalize(&input).unwrap().to_string(), code);
        }

        /// A different customer gets CustomerMismatch. This would fail only if
        /// the two customers' 44-bit tags collided: 1 in 2^44 per pair,
        /// i.e. effectively never.
        #[test]
        fn wrong_customer_is_customer_mismatch(
            prefix in "[A-Z0-9]{1,8}",
            campaign in 1u32..=MAX_CAMPAIGN,
            variant in 0u8..=MAX_VARIANT,
            serial in serial_strategy(),
            a in customer_strategy(),
            b in customer_strategy(),
        ) {
            prop_assume!(a != b);
            let r = ring(&[1]);
            let code = encode(r.current().unwrap(), &prefix, campaign, variant, serial, &a).unwrap();
            prop_assert_eq!(verify(&r, &code, &b), Err(CodeError::CustomerMismatch));
            prop_assert!(verify(&r, &code, &a).is_ok());
        }

        #[test]
        fn arbitrary_strings_never_panic(
            s in prop_oneof![".*", "\\PC{0,300}", "[0-9A-Za-z \\t-]{0,80}", "[\\u{0}-\\u{ff}]{20,40}"],
            customer in customer_strategy(),
        ) {
            let r = ring(&[1, 2]);
            let _ = verify(&r, &s, &customer);
            let _ = normalize(&s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let r = ring(&[1]);
            let s = String::from_utf8_lossy(&bytes);
            let _ = verify(&r, &s, &s);
        }
    }

    proptest! {
        // Each case checks ~1,150 variants of one code.
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every single-character substitution and every adjacent
        /// transposition of distinct characters is rejected. For changes in
        /// the payload this holds except with probability 2^-44 per variant.
        #[test]
        fn substitutions_and_transpositions_are_rejected(
            key_id in 1u8..=255,
            prefix in "[A-Z0-9]{1,8}",
            campaign in 1u32..=MAX_CAMPAIGN,
            variant in 0u8..=MAX_VARIANT,
            serial in serial_strategy(),
            customer in customer_strategy(),
        ) {
            let r = ring(&[key_id]);
            let code = encode(r.current().unwrap(), &prefix, campaign, variant, serial, &customer).unwrap();
            let base = stripped(&code);
            let plen = prefix.len();
            let candidates: Vec<u8> = (b'A'..=b'Z').chain(b'0'..=b'9').collect();
            for pos in 0..base.len() {
                let orig = base[pos];
                for &c in &candidates {
                    let confusable = pos >= plen
                        && ((orig == b'0' && c == b'O') || (orig == b'1' && matches!(c, b'I' | b'L')));
                    if c == orig || confusable {
                        continue;
                    }
                    let mut v = base.clone();
                    v[pos] = c;
                    let input = String::from_utf8(v).unwrap();
                    prop_assert!(verify(&r, &input, &customer).is_err(), "substitution accepted: {} -> {}", code, input);
                }
            }
            for pos in 0..base.len() - 1 {
                if base[pos] == base[pos + 1] {
                    continue;
                }
                let mut v = base.clone();
                v.swap(pos, pos + 1);
                let input = String::from_utf8(v).unwrap();
                prop_assert!(verify(&r, &input, &customer).is_err(), "transposition accepted: {} -> {}", code, input);
            }
        }
    }
}
