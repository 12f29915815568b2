//! Throughput of issuing and checking voucher codes, against the floor set by
//! the one HMAC-SHA256 a verify has to compute anyway.
//!
//! Run with `cargo bench --bench codes`. Every benchmark handles one code per
//! iteration (`Throughput::Elements(1)`), so criterion's "thrpt" is codes/s.
//! The inputs are realistic: a 6-character prefix and a 36-character UUID as
//! customer id, which makes the per-code tag input 53 bytes: one SHA-256
//! block (up to 55 bytes fit).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vouchsafe::domain::code::{encode, verify, Keyring, SigningKey, BODY_LEN, TAG_DOMAIN};

const PREFIX: &str = "SPRING";
const CUSTOMER: &str = "3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c";
const OTHER_CUSTOMER: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const CAMPAIGN: u32 = 4242;
const KEY_ID: u8 = 1;
const SAMPLES: usize = 1024;

fn keyring() -> Keyring {
    let secret: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(73) ^ 0x5a);
    Keyring::new(vec![SigningKey::new(KEY_ID, &secret).expect("bench key")])
}

fn valid_codes(ring: &Keyring) -> Vec<String> {
    let key = ring.current().expect("bench key");
    (0..SAMPLES as u32)
        .map(|serial| encode(key, PREFIX, CAMPAIGN, 3, serial, CUSTOMER).expect("encode"))
        .collect()
}

/// xorshift64*: deterministic, dependency-free randomness for forged codes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Random codes of valid shape, with version 1 and a key id that is in the
/// ring, so every one of them goes through the full cryptographic check: the
/// worst case for the verifier, and what an online guessing attack costs it.
fn forged_codes() -> Vec<String> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..SAMPLES)
        .map(|_| {
            let random = ((rng.next() as u128) << 64 | rng.next() as u128) & ((1u128 << 108) - 1);
            let bits = (1u128 << 116) | ((KEY_ID as u128) << 108) | random;
            let mut s = String::from(PREFIX);
            for i in 0..BODY_LEN {
                if i % 4 == 0 {
                    s.push('-');
                }
                s.push(ALPHABET[(bits >> (5 * (BODY_LEN - 1 - i))) as usize & 31] as char);
            }
            s
        })
        .collect()
}

fn bench_encode(c: &mut Criterion) {
    let ring = keyring();
    let key = ring.current().expect("bench key");
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    let mut serial = 0u32;
    g.bench_function("encode", |b| {
        b.iter(|| {
            serial = serial.wrapping_add(1);
            encode(key, black_box(PREFIX), CAMPAIGN, 3, black_box(serial), black_box(CUSTOMER))
        })
    });
    g.finish();
}

fn bench_verify(c: &mut Criterion, group: &str, codes: &[String], customer: &str) {
    let ring = keyring();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function(group, |b| {
        b.iter(|| {
            i = (i + 1) % codes.len();
            verify(&ring, black_box(&codes[i]), black_box(customer))
        })
    });
    g.finish();
}

fn bench_verify_valid(c: &mut Criterion) {
    let codes = valid_codes(&keyring());
    let ring = keyring();
    assert!(codes.iter().all(|code| verify(&ring, code, CUSTOMER).is_ok()));
    bench_verify(c, "verify_valid", &codes, CUSTOMER);
}

fn bench_verify_forged(c: &mut Criterion) {
    let codes = forged_codes();
    let ring = keyring();
    assert!(codes.iter().all(|code| verify(&ring, code, CUSTOMER).is_err()));
    bench_verify(c, "verify_forged", &codes, CUSTOMER);
}

fn bench_verify_wrong_customer(c: &mut Criterion) {
    let codes = valid_codes(&keyring());
    bench_verify(c, "verify_wrong_customer", &codes, OTHER_CUSTOMER);
}

/// The floor: one HMAC-SHA256 over the bytes a verify MACs, with a prepared
/// key cloned per call (the key value does not affect the cost).
/// * `per_code_bytes`: the state has already absorbed the 64-byte domain
///   block, exactly as `SigningKey` prepares it; this is the HMAC work a
///   verify really does (2 compressions).
/// * `full_input`: the whole tag input, domain block included, from a state
///   prepared with the key only (3 compressions): what a naive
///   implementation would pay.
fn bench_hmac_raw(c: &mut Criterion) {
    let key = [0x5au8; 32];
    let mut domain_block = [0u8; 64];
    domain_block[..TAG_DOMAIN.len()].copy_from_slice(TAG_DOMAIN);
    // len(prefix) ‖ prefix ‖ version ‖ key id ‖ 7 payload bytes ‖ len(customer) ‖ customer
    let mut per_code = vec![PREFIX.len() as u8];
    per_code.extend_from_slice(PREFIX.as_bytes());
    per_code.extend_from_slice(&[1, KEY_ID, 0x01, 0x09, 0x23, 0x00, 0x00, 0x00, 0x2a]);
    per_code.push(CUSTOMER.len() as u8);
    per_code.extend_from_slice(CUSTOMER.as_bytes());
    assert_eq!(per_code.len(), 53);
    let mut full = domain_block.to_vec();
    full.extend_from_slice(&per_code);

    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("hmac key");
    let mut with_domain = keyed.clone();
    with_domain.update(&domain_block);

    let mut g = c.benchmark_group("hmac_sha256_raw");
    g.throughput(Throughput::Elements(1));
    g.bench_function("per_code_bytes", |b| {
        b.iter(|| {
            let mut mac = with_domain.clone();
            mac.update(black_box(&per_code));
            mac.finalize().into_bytes()
        })
    });
    g.bench_function("full_input", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(&full));
            mac.finalize().into_bytes()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_encode,
    bench_verify_valid,
    bench_verify_forged,
    bench_verify_wrong_customer,
    bench_hmac_raw
);
criterion_main!(benches);
