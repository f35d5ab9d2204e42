//! What a tar entry says about its file besides the content: owner, mode, times, xattrs.

use std::io::{self, Read};

use rustix::fs::{Gid, Mode, Timespec, Timestamps, Uid};

/// Owner, mode, times and xattrs of an entry, read from its header and PAX records.
pub(crate) struct EntryMeta {
    pub(crate) uid: Uid,
    pub(crate) gid: Gid,
    /// Permission bits with setuid, setgid and sticky; never the file type.
    pub(crate) mode: Mode,
    pub(crate) times: Timestamps,
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

const XATTR_PAX_PREFIX: &[u8] = b"SCHILY.xattr.";

impl EntryMeta {
    /// Read what an entry says about itself; PAX records win over header fields.
    pub(crate) fn read<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<EntryMeta> {
        let header = entry.header();
        // The tar crate applies PAX uid/gid to the header already.
        let old = header.as_old();
        let uid = numeric(header.uid(), &old.uid)?;
        let gid = numeric(header.gid(), &old.gid)?;
        let uid = u32::try_from(uid).map_err(|_| invalid("uid out of range"))?;
        let gid = u32::try_from(gid).map_err(|_| invalid("gid out of range"))?;
        let mode = Mode::from_raw_mode(numeric(header.mode().map(u64::from), &old.mode)? as u32 & 0o7777);
        let mut mtime = Timespec {
            tv_sec: numeric(header.mtime(), &old.mtime)?
                .try_into()
                .unwrap_or(i64::MAX),
            tv_nsec: 0,
        };
        let mut atime = header
            .as_gnu()
            .and_then(|gnu| gnu.atime().ok())
            .filter(|&t| t > 0)
            .map(|t| Timespec {
                tv_sec: t.try_into().unwrap_or(i64::MAX),
                tv_nsec: 0,
            });
        let mut xattrs = Vec::new();
        if let Some(records) = entry.pax_extensions()? {
            for record in records {
                let record = record?;
                let key = record.key_bytes();
                if let Some(name) = key.strip_prefix(XATTR_PAX_PREFIX) {
                    xattrs.push((name.to_vec(), record.value_bytes().to_vec()));
                } else if key == b"mtime" {
                    mtime = parse_pax_time(record.value_bytes()).unwrap_or(mtime);
                } else if key == b"atime" {
                    atime = parse_pax_time(record.value_bytes()).or(atime);
                }
            }
        }
        // Docker: an access time before the modification time is replaced by it.
        let atime = atime
            .filter(|a| (a.tv_sec, a.tv_nsec) >= (mtime.tv_sec, mtime.tv_nsec))
            .unwrap_or(mtime);
        Ok(EntryMeta {
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
            mode,
            times: Timestamps {
                last_access: atime,
                last_modification: mtime,
            },
            xattrs,
        })
    }
}

/// A numeric header field; an empty one (all NULs or spaces) is 0, as Go's reader takes it.
fn numeric(parsed: io::Result<u64>, field: &[u8]) -> io::Result<u64> {
    match parsed {
        Ok(value) => Ok(value),
        Err(_) if field.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        Err(e) => Err(e),
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// A PAX time: decimal seconds with an optional fraction (`1700000000.123456789`), maybe negative.
fn parse_pax_time(value: &[u8]) -> Option<Timespec> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().ok()?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i64 = digits.parse().ok()?;
    Some(match (negative, nanos) {
        (false, _) => Timespec {
            tv_sec: secs,
            tv_nsec: nanos,
        },
        (true, 0) => Timespec {
            tv_sec: -secs,
            tv_nsec: 0,
        },
        (true, _) => Timespec {
            tv_sec: -secs - 1,
            tv_nsec: 1_000_000_000 - nanos,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pax_times() {
        assert_eq!(
            parse_pax_time(b"1700000000"),
            Some(Timespec {
                tv_sec: 1_700_000_000,
                tv_nsec: 0
            })
        );
        assert_eq!(
            parse_pax_time(b"1700000000.5"),
            Some(Timespec {
                tv_sec: 1_700_000_000,
                tv_nsec: 500_000_000
            })
        );
        assert_eq!(
            parse_pax_time(b"1.123456789123"),
            Some(Timespec {
                tv_sec: 1,
                tv_nsec: 123_456_789
            })
        );
        assert_eq!(
            parse_pax_time(b"-1.25"),
            Some(Timespec {
                tv_sec: -2,
                tv_nsec: 750_000_000
            })
        );
        assert_eq!(parse_pax_time(b"x"), None);
        assert_eq!(parse_pax_time(b"1.x"), None);
    }
}
