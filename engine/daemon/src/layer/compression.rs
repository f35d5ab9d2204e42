//! Layer and build-context compression: recognised by the first bytes of the stream, as Docker's
//! `archive.DecompressStream` does, not by a media type or a file name.

use std::fmt;
use std::io::{self, BufReader, Chain, Cursor, Read};

/// Bytes read ahead through the decoders: big enough that a layer streams in few syscalls.
pub(crate) const STREAM_BUFFER: usize = 256 * 1024;

/// How a layer's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (`application/vnd.docker.image.rootfs.diff.tar.gzip`, the usual kind).
    Gzip,
    /// zstd (`application/vnd.oci.image.layer.v1.tar+zstd`).
    Zstd,
    /// bzip2 (a `docker build` context, `docker import`).
    Bzip2,
    /// xz (the same).
    Xz,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";
/// Enough bytes to tell every format above apart.
const MAGIC_LEN: usize = 6;

impl Compression {
    /// Recognise the compression from the first bytes of a stream (at least 4 for zstd).
    pub fn detect(first_bytes: &[u8]) -> Compression {
        if first_bytes.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if first_bytes.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else if first_bytes.starts_with(BZIP2_MAGIC) {
            Compression::Bzip2
        } else if first_bytes.starts_with(XZ_MAGIC) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        })
    }
}

/// The stream after detection: the bytes read to look at the magic, then the rest.
type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;

/// A reader that undoes a layer's compression. Reads concatenated gzip members, zstd frames,
/// bzip2 and xz streams to the end, like Go's readers that Docker uses.
pub enum Decompressor<R: Read> {
    Plain(Peeked<R>),
    Gzip(flate2::bufread::MultiGzDecoder<BufReader<Peeked<R>>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Peeked<R>>>),
    Bzip2(bzip2::bufread::MultiBzDecoder<BufReader<Peeked<R>>>),
    Xz(liblzma::bufread::XzDecoder<BufReader<Peeked<R>>>),
}

impl<R: Read> Decompressor<R> {
    /// Look at the first bytes of `reader` and wrap it in the matching decoder.
    pub fn new(mut reader: R) -> io::Result<Decompressor<R>> {
        let mut magic = Vec::with_capacity(MAGIC_LEN);
        (&mut reader).take(MAGIC_LEN as u64).read_to_end(&mut magic)?;
        let compression = Compression::detect(&magic);
        let stream = Cursor::new(magic).chain(reader);
        Ok(match compression {
            Compression::None => Decompressor::Plain(stream),
            Compression::Gzip => Decompressor::Gzip(flate2::bufread::MultiGzDecoder::new(
                BufReader::with_capacity(STREAM_BUFFER, stream),
            )),
            Compression::Zstd => Decompressor::Zstd(zstd::stream::read::Decoder::with_buffer(
                BufReader::with_capacity(STREAM_BUFFER, stream),
            )?),
            Compression::Bzip2 => Decompressor::Bzip2(bzip2::bufread::MultiBzDecoder::new(
                BufReader::with_capacity(STREAM_BUFFER, stream),
            )),
            // Several xz streams one after the other are read as one, as Go's xz reader does.
            Compression::Xz => Decompressor::Xz(liblzma::bufread::XzDecoder::new_multi_decoder(
                BufReader::with_capacity(STREAM_BUFFER, stream),
            )),
        })
    }

    /// Which compression was detected.
    pub fn compression(&self) -> Compression {
        match self {
            Decompressor::Plain(_) => Compression::None,
            Decompressor::Gzip(_) => Compression::Gzip,
            Decompressor::Zstd(_) => Compression::Zstd,
            Decompressor::Bzip2(_) => Compression::Bzip2,
            Decompressor::Xz(_) => Compression::Xz,
        }
    }
}

impl<R: Read> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressor::Plain(r) => r.read(buf),
            Decompressor::Gzip(r) => r.read(buf),
            Decompressor::Zstd(r) => r.read(buf),
            Decompressor::Bzip2(r) => r.read(buf),
            Decompressor::Xz(r) => r.read(buf),
        }
    }
}

/// Wrap `reader` so that reading it gives the uncompressed tar, whatever the compression.
pub fn decompress<R: Read>(reader: R) -> io::Result<Decompressor<R>> {
    Decompressor::new(reader)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn roundtrip(compressed: &[u8], expected: Compression) -> Vec<u8> {
        let mut reader = decompress(compressed).unwrap();
        assert_eq!(reader.compression(), expected);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn detects_by_magic() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 0x08, 0]), Compression::Gzip);
        assert_eq!(Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(Compression::detect(b"etc/"), Compression::None);
        assert_eq!(Compression::detect(&[0x1f]), Compression::None);
        assert_eq!(Compression::detect(&[]), Compression::None);
    }

    #[test]
    fn undoes_gzip_zstd_and_nothing() {
        let data = b"hello layer".repeat(1000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        assert_eq!(roundtrip(&gz, Compression::Gzip), data);
        assert_eq!(roundtrip(&zst, Compression::Zstd), data);
        assert_eq!(roundtrip(&data, Compression::None), data);
        assert_eq!(roundtrip(b"ab", Compression::None), b"ab");
        assert_eq!(roundtrip(b"", Compression::None), b"");
    }

    #[test]
    fn reads_concatenated_gzip_members() {
        let mut both = Vec::new();
        for part in [&b"one "[..], b"two"] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part).unwrap();
            both.extend(gz.finish().unwrap());
        }
        assert_eq!(roundtrip(&both, Compression::Gzip), b"one two");
    }

    #[test]
    fn undoes_bzip2_and_xz() {
        let data = b"hello context".repeat(1000);
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&data).unwrap();
        let bz = bz.finish().unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&data).unwrap();
        let xz = xz.finish().unwrap();
        assert_eq!(roundtrip(&bz, Compression::Bzip2), data);
        assert_eq!(roundtrip(&xz, Compression::Xz), data);
    }

    #[test]
    fn a_truncated_xz_stream_is_an_error_not_a_short_read() {
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&b"abc".repeat(5000)).unwrap();
        let xz = xz.finish().unwrap();
        let mut reader = decompress(&xz[..xz.len() / 2]).unwrap();
        assert!(reader.read_to_end(&mut Vec::new()).is_err());
    }
}
