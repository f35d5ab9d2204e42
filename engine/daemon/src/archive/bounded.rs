//! A bound on what a tar may make the reader hold in memory. The tar crate reads a PAX or GNU
//! long-name record whole before the entry it describes; a client could send one of many
//! gigabytes. Go's reader, which Docker uses, refuses such records above 1 MiB
//! (`archive/tar: header field too long`); so does this reader, watching the headers go by.

use std::io::{self, Read};

/// Go's `maxSpecialFileSize`.
const MAX_SPECIAL_SIZE: u64 = 1 << 20;

/// Go's error for a special record that is too large.
pub const TOO_LONG: &str = "archive/tar: header field too long";

/// Passes a tar through, refusing special records (PAX `x`/`g`, GNU `L`/`K`) over 1 MiB.
pub struct BoundedHeaders<R> {
    inner: R,
    /// The header block being read.
    header: [u8; 512],
    filled: usize,
    /// Bytes of content (with padding) before the next header.
    skip: u64,
    /// Of those, the padding after the content: a stream may end inside it (Go's reader, as
    /// Docker's, takes that as the archive's end), and it is then filled in with zeros.
    padding: u64,
    /// A GNU sparse header may be followed by extension blocks this reader does not parse: it
    /// stops watching rather than misreading them.
    watching: bool,
}

impl<R: Read> BoundedHeaders<R> {
    pub fn new(inner: R) -> BoundedHeaders<R> {
        BoundedHeaders {
            inner,
            header: [0; 512],
            filled: 0,
            skip: 0,
            padding: 0,
            watching: true,
        }
    }

    /// Look at a whole header block: how much content follows, and whether it is allowed.
    fn header_read(&mut self) -> io::Result<()> {
        if self.header.iter().all(|&b| b == 0) {
            return Ok(()); // an end-of-archive block
        }
        let kind = self.header[156];
        let Some(size) = size_field(&self.header[124..136]) else {
            return Ok(()); // a bad header: the tar crate says so in its own words
        };
        if matches!(kind, b'x' | b'g' | b'L' | b'K') && size > MAX_SPECIAL_SIZE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TOO_LONG));
        }
        if kind == b'S' {
            self.watching = false;
        }
        self.skip = size.div_ceil(512).saturating_mul(512);
        self.padding = self.skip - size;
        Ok(())
    }
}

/// A header's size field: octal, or base-256 when its first byte has the high bit set.
fn size_field(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        return Some(
            field[1..]
                .iter()
                .fold(0u64, |n, &b| n.saturating_mul(256).saturating_add(u64::from(b))),
        );
    }
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

impl<R: Read> Read for BoundedHeaders<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.watching && self.filled == 0 && self.skip > 0 && self.skip <= self.padding {
            // The stream ended after a file's content, inside its padding: the padding is
            // given, and the reader then sees a clean end at the next header.
            let fill = (self.skip as usize).min(buf.len());
            buf[..fill].fill(0);
            self.skip -= fill as u64;
            self.padding = self.skip;
            return Ok(fill);
        }
        let mut at = 0;
        while self.watching && at < n {
            if self.skip > 0 {
                let step = self.skip.min((n - at) as u64);
                self.skip -= step;
                self.padding = self.padding.min(self.skip);
                at += step as usize;
                continue;
            }
            let step = (512 - self.filled).min(n - at);
            self.header[self.filled..self.filled + step].copy_from_slice(&buf[at..at + step]);
            self.filled += step;
            at += step;
            if self.filled == 512 {
                self.filled = 0;
                self.header_read()?;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, size: u64) -> Vec<u8> {
        let mut header = tar::Header::new_ustar();
        header.set_path("x").unwrap();
        header.set_size(size);
        header.as_mut_bytes()[156] = kind;
        header.set_cksum();
        header.as_bytes().to_vec()
    }

    #[test]
    fn a_stream_ending_in_a_files_padding_ends_cleanly_and_one_ending_in_content_does_not() {
        let mut tar = header(b'0', 27);
        tar.extend([b'a'; 27]);
        let mut padded = Vec::new();
        BoundedHeaders::new(&tar[..]).read_to_end(&mut padded).unwrap();
        assert_eq!(padded.len(), 1024);
        let mut archive = tar::Archive::new(BoundedHeaders::new(&tar[..]));
        assert_eq!(archive.entries().unwrap().count(), 1);

        let cut = &tar[..512 + 20];
        let mut archive = tar::Archive::new(BoundedHeaders::new(cut));
        let mut entries = archive.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        let mut content = Vec::new();
        let _ = entry.read_to_end(&mut content);
        drop(entry);
        assert!(entries.next().is_some_and(|e| e.is_err()));
    }

    #[test]
    fn large_special_records_are_refused_and_files_pass() {
        let mut tar = header(b'0', 3 << 20);
        tar.extend(vec![b'a'; 3 << 20]);
        tar.extend(header(b'x', 10));
        tar.extend([b'b'; 512]);
        let mut out = Vec::new();
        BoundedHeaders::new(&tar[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, tar);

        let huge = header(b'x', 2 << 20);
        let error = BoundedHeaders::new(&huge[..])
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(error.to_string(), TOO_LONG);
    }
}
