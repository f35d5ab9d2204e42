//! Layer compression: recognised by the first bytes of the stream, as Docker does, not by a
//! media type or a file name.

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
        })
    }
}

/// The stream after detection: the bytes read to look at the magic, then the rest.
type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;

/// A reader that undoes a layer's compression. Reads concatenated gzip members and zstd frames
/// to the end, like Go's readers that Docker uses.
pub enum Decompressor<R: Read> {
    Plain(Peeked<R>),
    Gzip(flate2::bufread::MultiGzDecoder<BufReader<Peeked<R>>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Peeked<R>>>),
}

impl<R: Read> Decompressor<R> {
    /// Look at the first bytes of `reader` and wrap it in the matching decoder. xz and bzip2,
    /// which Docker also reads, are refused by name rather than failing later as a bad tar.
    pub fn new(mut reader: R) -> io::Result<Decompressor<R>> {
        let mut magic = Vec::with_capacity(MAGIC_LEN);
        (&mut reader).take(MAGIC_LEN as u64).read_to_end(&mut magic)?;
        for (name, bytes) in [("xz", XZ_MAGIC), ("bzip2", BZIP2_MAGIC)] {
            if magic.starts_with(bytes) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("{name}-compressed layers are not supported"),
                ));
            }
        }
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
        })
    }

    /// Which compression was detected.
    pub fn compression(&self) -> Compression {
        match self {
            Decompressor::Plain(_) => Compression::None,
            Decompressor::Gzip(_) => Compression::Gzip,
            Decompressor::Zstd(_) => Compression::Zstd,
        }
    }
}

impl<R: Read> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressor::Plain(r) => r.read(buf),
            Decompressor::Gzip(r) => r.read(buf),
            Decompressor::Zstd(r) => r.read(buf),
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
    fn refuses_xz_by_name() {
        let err = decompress(&[0xfd, b'7', b'z', b'X', b'Z', 0x00, 1, 2][..])
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "xz-compressed layers are not supported");
    }
}
