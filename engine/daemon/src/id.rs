//! Random ids: containers, execs, networks, endpoints and anonymous volumes are named with 64
//! hex digits, as Docker names them.

use std::hash::{BuildHasher, Hasher};

/// Fill `buf` with random bytes from the kernel (`getrandom(2)`: no file descriptor needed, so
/// a daemon out of descriptors still makes ids). Should the kernel refuse, ids must still be
/// unique if not unpredictable: the bytes then come from std's per-process random hasher
/// seeds, the time and a counter.
pub fn random_bytes(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                tracing::warn!("getrandom failed ({e}); ids come from a hash of time and a counter");
                fallback_bytes(&mut buf[filled..]);
                return;
            }
        }
    }
}

fn fallback_bytes(buf: &mut [u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    for chunk in buf.chunks_mut(8) {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let bytes = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// A new 64-hex id whose short form (12 digits) is not all digits (Docker's rule for container
/// and exec ids, so a short id is never mistaken for a number).
pub fn new_id() -> String {
    loop {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes);
        let id = hex::encode(bytes);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(!a[..12].bytes().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn the_fallback_differs_call_to_call() {
        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        fallback_bytes(&mut a);
        fallback_bytes(&mut b);
        assert_ne!(a, b);
    }
}
