//! Fuzzes `verify` with arbitrary input and checks the encode/verify round trip.
//!
//! Input layout: byte 0 = customer id length (mod 64); then the customer id;
//! the rest is the candidate code. Both are decoded lossily as UTF-8 so that
//! unicode and invalid sequences reach the parser.
//!
//! Properties:
//! 1. `verify` and `normalize` never panic.
//! 2. Whatever `verify` accepts re-encodes to exactly its canonical printed
//!    form under the same key, prefix and customer (so an accepted input is
//!    a genuine code, not a parser accident).
//! 3. A code encoded from fields taken from the input verifies back to those
//!    fields for its customer and is `CustomerMismatch` for another one.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run verify` from the crate root.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouchsafe::domain::code::{
    encode, normalize, verify, CodeError, Fields, Keyring, SigningKey, FORMAT_VERSION, MAX_CAMPAIGN,
    MAX_PREFIX_LEN, MAX_VARIANT,
};

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        let k1 = SigningKey::new(1, &[0x11; 32]).expect("fuzz key 1");
        let k2 = SigningKey::new(2, &[0x22; 32]).expect("fuzz key 2");
        Keyring::new(vec![k1, k2])
    })
}

fuzz_target!(|data: &[u8]| {
    let ring = keyring();
    let (cust_len, rest) = match data.split_first() {
        Some((&n, rest)) => ((n as usize % 64).min(rest.len()), rest),
        None => (0, data),
    };
    let customer = String::from_utf8_lossy(&rest[..cust_len]);
    let input = String::from_utf8_lossy(&rest[cust_len..]);

    // 1 + 2: arbitrary input.
    let normalized = normalize(&input);
    match verify(ring, &input, &customer) {
        Ok(fields) => {
            let norm = normalized.expect("verified input must normalize");
            assert_eq!(fields.version, FORMAT_VERSION);
            let key = ring.get(fields.key_id).expect("verified key is in ring");
            let again = encode(key, norm.prefix(), fields.campaign, fields.variant, fields.serial, &customer)
                .expect("verified fields re-encode");
            assert_eq!(again, norm.to_string());
        }
        Err(e) => {
            // Errors that need a parsed body imply normalization succeeded.
            if !matches!(e, CodeError::Malformed | CodeError::InvalidPrefix) {
                assert!(normalized.is_ok(), "{e:?} without a parsable code");
            }
        }
    }

    // 3: round trip with fields drawn from the input bytes.
    let mut w = [0u8; 16];
    for (slot, b) in w.iter_mut().zip(rest.iter().rev()) {
        *slot = *b;
    }
    let key_id = 1 + (w[0] & 1);
    let campaign = 1 + (u32::from_le_bytes([w[1], w[2], w[3], 0]) % MAX_CAMPAIGN);
    let variant = w[4] % (MAX_VARIANT + 1);
    let serial = u32::from_le_bytes([w[5], w[6], w[7], w[8]]);
    let prefix_len = 1 + (w[9] as usize % MAX_PREFIX_LEN);
    const PREFIX_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let prefix: String = w[10..10 + prefix_len.min(6)]
        .iter()
        .chain(std::iter::repeat(&0u8))
        .take(prefix_len)
        .map(|&b| PREFIX_CHARS[b as usize % PREFIX_CHARS.len()] as char)
        .collect();
    let key = ring.get(key_id).expect("fuzz key");
    let code = encode(key, &prefix, campaign, variant, serial, &customer).expect("valid fields");
    assert_eq!(
        verify(ring, &code, &customer),
        Ok(Fields { version: FORMAT_VERSION, key_id, campaign, variant, serial })
    );
    let other = format!("{customer}#");
    assert_eq!(verify(ring, &code, &other), Err(CodeError::CustomerMismatch));
});
