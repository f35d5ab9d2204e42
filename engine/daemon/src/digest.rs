//! Content digests (`sha256:<64 hex>`): the names of everything in the content store.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A sha256 content digest. The only algorithm Docker and the OCI image spec require.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// unsupported digest algorithm
    #[error("unsupported digest algorithm: {0}")]
    Algorithm(String),
    /// invalid checksum digest format
    #[error("invalid checksum digest format: {0}")]
    Format(String),
}

impl Digest {
    /// The digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(hasher: Sha256) -> Digest {
        Digest {
            hex: hex::encode(hasher.finalize()),
        }
    }

    /// Build from 64 lowercase hex characters (an image id without its `sha256:`).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Digest { hex: hex.to_owned() })
        } else {
            Err(DigestError::Format(hex.to_owned()))
        }
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The 12-character short form Docker shows in tables.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// The chain id of a layer on top of `parent` (OCI image spec: `ChainID(L1|L2) = Digest(ChainID(L1) + " " + DiffID(L2))`).
    pub fn chain(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
        match parent {
            None => diff_id.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
        }
    }

    /// The chain ids of every layer of an image, bottom first, from its diff ids.
    pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
        let mut chain: Vec<Digest> = Vec::with_capacity(diff_ids.len());
        for diff_id in diff_ids {
            let next = Digest::chain(chain.last(), diff_id);
            chain.push(next);
        }
        chain
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest, DigestError> {
        match s.split_once(':') {
            Some(("sha256", hex)) => Digest::from_hex(hex),
            Some((algorithm, _)) => Err(DigestError::Algorithm(algorithm.to_owned())),
            None => Err(DigestError::Format(s.to_owned())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A reader that hashes what passes through it, so content is verified while it streams.
#[derive(Debug)]
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R) -> Self {
        DigestReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The digest and length of everything read so far.
    pub fn finish(self) -> (Digest, u64) {
        (Digest::from_hasher(self.hasher), self.count)
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes what passes through it.
#[derive(Debug)]
pub struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> DigestWriter<W> {
    pub fn new(inner: W) -> Self {
        DigestWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The digest and length of everything written, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (Digest::from_hasher(self.hasher), self.count, self.inner)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_well_known_one() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parses_and_refuses() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        assert_eq!(d.short(), "e3b0c44298fc");
        assert!(matches!(
            "md5:abc".parse::<Digest>(),
            Err(DigestError::Algorithm(_))
        ));
        assert!(matches!(
            "sha256:ABC".parse::<Digest>(),
            Err(DigestError::Format(_))
        ));
        assert!(matches!("nocolon".parse::<Digest>(), Err(DigestError::Format(_))));
    }

    #[test]
    fn chain_id_of_one_layer_is_its_diff_id_and_grows_by_hashing() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let chain = Digest::chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chain[0], a);
        assert_eq!(chain[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn reader_and_writer_hash_what_passes() {
        let mut r = DigestReader::new(&b"hello"[..]);
        let mut sink = Vec::new();
        std::io::copy(&mut r, &mut sink).unwrap();
        assert_eq!(r.finish(), (Digest::of(b"hello"), 5));
        let mut w = DigestWriter::new(Vec::new());
        w.write_all(b"hello").unwrap();
        let (d, n, inner) = w.finish();
        assert_eq!((d, n, inner), (Digest::of(b"hello"), 5, b"hello".to_vec()));
    }
}
