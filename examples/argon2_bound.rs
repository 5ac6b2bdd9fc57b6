//! Prints how many argon2id verifications per second this machine does on all cores,
//! with the parameters Portcullis stores passwords with: the ceiling for password
//! sign-ins, which `scripts/bench` compares against.

use std::time::{Duration, Instant};

fn main() {
    let hash = portcullis::protocol::secret::hash_secret("bench user password").expect("hash");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let window = Duration::from_secs(4);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let hash = hash.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed() < window {
                    assert!(portcullis::protocol::secret::verify_secret(
                        "bench user password",
                        &hash
                    ));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    println!("{:.1}", total as f64 / start.elapsed().as_secs_f64());
}
