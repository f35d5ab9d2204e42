//! Content-addressed blobs: verified while written, visible only once complete.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use super::atomic::sync_parent;
use super::{StoreError, temp_name};
use crate::digest::{Digest, DigestWriter};

/// `blobs/sha256/<hex>`.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    pub(super) fn new(dir: PathBuf, tmp: PathBuf) -> BlobStore {
        BlobStore { dir, tmp }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).exists()
    }

    /// Start writing a blob whose digest is known only at the end.
    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        let path = self.tmp.join(temp_name("blob"));
        let file = File::create(&path).map_err(StoreError::io("create temporary blob"))?;
        Ok(BlobWriter {
            inner: Some(DigestWriter::new(BufWriter::with_capacity(256 * 1024, file))),
            temp_path: path,
            dir: self.dir.clone(),
        })
    }

    /// Store bytes; returns their digest.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let mut writer = self.writer()?;
        writer.write_all(bytes).map_err(StoreError::io("write blob"))?;
        Ok(writer.commit(None)?.0)
    }

    /// Store everything `reader` yields, refusing it (and keeping nothing) when `expected` is
    /// given and the content does not match.
    pub fn put_stream(
        &self,
        reader: &mut impl Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), StoreError> {
        let mut writer = self.writer()?;
        io::copy(reader, &mut writer).map_err(StoreError::io("write blob"))?;
        writer.commit(expected)
    }

    pub fn open(&self, digest: &Digest) -> Result<File, StoreError> {
        File::open(self.path(digest)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound(digest.clone()),
            _ => StoreError::Io {
                context: format!("open blob {digest}"),
                source: e,
            },
        })
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut bytes = Vec::new();
        self.open(digest)?
            .read_to_end(&mut bytes)
            .map_err(StoreError::io(format!("read blob {digest}")))?;
        Ok(bytes)
    }

    pub fn size(&self, digest: &Digest) -> Result<u64, StoreError> {
        Ok(self
            .open(digest)?
            .metadata()
            .map_err(StoreError::io(format!("stat blob {digest}")))?
            .len())
    }

    /// Remove a blob; returns the bytes freed (0 when it was already gone).
    pub fn remove(&self, digest: &Digest) -> Result<u64, StoreError> {
        let size = self.size(digest).unwrap_or(0);
        match std::fs::remove_file(self.path(digest)) {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(StoreError::Io {
                context: format!("remove blob {digest}"),
                source: e,
            }),
        }
    }

    /// Every blob's digest (files with other names are ignored).
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let mut digests = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(StoreError::io("list blobs"))? {
            let entry = entry.map_err(StoreError::io("list blobs"))?;
            if let Ok(digest) = Digest::from_hex(&entry.file_name().to_string_lossy()) {
                digests.push(digest);
            }
        }
        Ok(digests)
    }
}

/// A blob being written: hashed as it goes, renamed into place by [`BlobWriter::commit`],
/// removed if dropped before that.
#[derive(Debug)]
pub struct BlobWriter {
    inner: Option<DigestWriter<BufWriter<File>>>,
    temp_path: PathBuf,
    dir: PathBuf,
}

impl BlobWriter {
    /// Flush, fsync, check the digest, and move the blob into place. Content already present
    /// under that digest is kept as is.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError> {
        let inner = self.inner.take().expect("commit is called once");
        let (digest, size, buffered) = inner.finish();
        if let Some(expected) = expected {
            if *expected != digest {
                return Err(StoreError::DigestMismatch {
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        let file = buffered
            .into_inner()
            .map_err(|e| StoreError::io("flush blob")(e.into_error()))?;
        file.sync_all().map_err(StoreError::io("sync blob"))?;
        let target = self.dir.join(digest.hex());
        std::fs::rename(&self.temp_path, &target).map_err(StoreError::io(format!("store blob {digest}")))?;
        sync_parent(&target).map_err(StoreError::io("sync blobs dir"))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.as_mut().expect("not committed").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    /// A blob never committed (refused, or its writer failed) leaves nothing behind; after a
    /// successful commit the temporary name no longer exists and this does nothing.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp_path);
    }
}
