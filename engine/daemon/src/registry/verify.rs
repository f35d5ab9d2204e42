//! Content from a registry is trusted only by its digest: small documents are checked whole,
//! layers while they stream, so a wrong byte fails the read that would have kept it.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use super::RegistryError;
use crate::digest::{Digest, DigestReader};

/// Check bytes against the digest (and size, when known) they were asked for.
pub fn check_bytes(
    what: &'static str,
    bytes: &[u8],
    expected: &Digest,
    expected_size: Option<u64>,
) -> Result<(), RegistryError> {
    let actual = Digest::of(bytes);
    if actual != *expected {
        return Err(RegistryError::DigestMismatch {
            what,
            expected: expected.clone(),
            actual,
        });
    }
    if let Some(size) = expected_size.filter(|s| *s != bytes.len() as u64) {
        return Err(RegistryError::SizeMismatch {
            what,
            digest: expected.clone(),
            expected: size,
            actual: bytes.len() as u64,
        });
    }
    Ok(())
}

/// What a [`VerifyingReader`] found wrong, kept for the caller after the reader is gone.
pub type Verdict = Arc<Mutex<Option<RegistryError>>>;

/// A reader of a blob that must have `size` bytes and digest `digest`. More bytes than that, or
/// different ones, make a read fail (at the first extra byte, or at the end) with
/// `InvalidData`; the verdict says why. Each read reports the bytes so far to `on_progress`.
pub struct VerifyingReader<R, F> {
    /// The hashing reader; `None` once the end was reached and checked.
    inner: Option<DigestReader<R>>,
    what: &'static str,
    digest: Digest,
    size: u64,
    read: u64,
    verdict: Verdict,
    on_progress: F,
}

impl<R: Read, F: FnMut(u64)> VerifyingReader<R, F> {
    pub fn new(inner: R, what: &'static str, digest: Digest, size: u64, on_progress: F) -> Self {
        VerifyingReader {
            inner: Some(DigestReader::new(inner)),
            what,
            digest,
            size,
            read: 0,
            verdict: Verdict::default(),
            on_progress,
        }
    }

    /// Where the reason for a refusal will be.
    pub fn verdict(&self) -> Verdict {
        self.verdict.clone()
    }

    fn refuse(&mut self, error: RegistryError) -> io::Error {
        let message = error.to_string();
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    fn size_mismatch(&self) -> RegistryError {
        RegistryError::SizeMismatch {
            what: self.what,
            digest: self.digest.clone(),
            expected: self.size,
            actual: self.read,
        }
    }
}

impl<R: Read, F: FnMut(u64)> Read for VerifyingReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.size {
            return Err(self.refuse(self.size_mismatch()));
        }
        (self.on_progress)(self.read);
        if n > 0 {
            return Ok(n);
        }
        // The end: all the bytes, and the right ones.
        let (actual, _) = self.inner.take().expect("checked above").finish();
        if self.read != self.size {
            return Err(self.refuse(self.size_mismatch()));
        }
        if actual != self.digest {
            let error = RegistryError::DigestMismatch {
                what: self.what,
                expected: self.digest.clone(),
                actual,
            };
            return Err(self.refuse(error));
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], digest: &Digest, size: u64) -> (io::Result<Vec<u8>>, Option<String>, u64) {
        let mut seen = 0;
        let mut reader = VerifyingReader::new(data, "blob", digest.clone(), size, |n| seen = n);
        let verdict = reader.verdict();
        let mut out = Vec::new();
        let result = reader.read_to_end(&mut out).map(|_| out);
        let why = verdict.lock().unwrap().as_ref().map(|e| e.to_string());
        (result, why, seen)
    }

    #[test]
    fn the_right_bytes_pass_and_report_progress() {
        let data = b"layer bytes";
        let (result, why, seen) = read_all(data, &Digest::of(data), data.len() as u64);
        assert_eq!(result.unwrap(), data);
        assert_eq!(why, None);
        assert_eq!(seen, data.len() as u64);
    }

    #[test]
    fn wrong_bytes_fail_at_the_end_and_say_why() {
        let data = b"layer bytes";
        let wanted = Digest::of(b"other bytes");
        let (result, why, _) = read_all(data, &wanted, data.len() as u64);
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(
            why.unwrap()
                .starts_with(&format!("blob verification failed for digest {wanted}"))
        );
    }

    #[test]
    fn too_many_or_too_few_bytes_fail() {
        let data = b"layer bytes";
        let (result, why, _) = read_all(data, &Digest::of(data), 4);
        assert!(result.is_err());
        assert!(why.unwrap().contains("the manifest says 4"), "size");
        let (result, _, _) = read_all(data, &Digest::of(data), 40);
        assert!(result.is_err());
    }

    #[test]
    fn whole_documents_are_checked_by_digest_and_size() {
        let data = b"{}";
        assert!(check_bytes("manifest", data, &Digest::of(data), Some(2)).is_ok());
        assert!(check_bytes("manifest", data, &Digest::of(data), None).is_ok());
        assert!(matches!(
            check_bytes("manifest", data, &Digest::of(b"x"), None),
            Err(RegistryError::DigestMismatch { .. })
        ));
        assert!(matches!(
            check_bytes("manifest", data, &Digest::of(data), Some(3)),
            Err(RegistryError::SizeMismatch { .. })
        ));
    }
}
