//! Compares RS256 signers on one core of this machine: OpenSSL (what Portcullis signs
//! with) and ring (what it signed with before). Prints signatures per second for each,
//! over the same RSA-2048 key and a message the size of an ID token's signing input.

use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;

fn rate(mut sign: impl FnMut() -> usize) -> f64 {
    let window = Duration::from_secs(3);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        assert_eq!(sign(), 256);
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rsa = Rsa::generate(2048).expect("an RSA key");
    let der = rsa.private_key_to_der().expect("PKCS#1 DER");
    let message = vec![b'x'; 700];

    let pkey = PKey::from_rsa(rsa).expect("a key");
    let openssl = rate(|| {
        let mut signer = Signer::new(MessageDigest::sha256(), &pkey).expect("a signer");
        signer
            .sign_oneshot_to_vec(&message)
            .expect("a signature")
            .len()
    });

    let ring_key = ring::signature::RsaKeyPair::from_der(&der).expect("ring reads the key");
    let random = ring::rand::SystemRandom::new();
    let ring = rate(|| {
        let mut signature = vec![0u8; ring_key.public().modulus_len()];
        ring_key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &random,
                &message,
                &mut signature,
            )
            .expect("a signature");
        signature.len()
    });

    println!(
        "openssl {} {openssl:.0} signatures/s on one core",
        openssl::version::version()
    );
    println!("ring 0.17 {ring:.0} signatures/s on one core");
}
