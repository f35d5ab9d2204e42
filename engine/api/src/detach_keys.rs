//! Detach keys: the key sequence that leaves an attached terminal without stopping the
//! container (`ctrl-p,ctrl-q` by default), parsed as moby/term's `ToBytes`, and the filter that
//! watches typed input for it. The daemon and the CLI both watch: Docker's do too.

/// Docker's default detach sequence: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// moby/term `ToBytes`: `ctrl-p,ctrl-q` → [0x10, 0x11]; single characters stand for themselves.
pub fn detach_key_bytes(keys: &str) -> Result<Vec<u8>, String> {
    let mut codes = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        let control = key.strip_prefix("ctrl-").and_then(|rest| {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c @ 'a'..='z'), None) => Some(c as u8 - b'a' + 1),
                (Some(c @ ('@' | '[' | '\\' | ']' | '^' | '_')), None) => Some(c as u8 - b'@'),
                _ => None,
            }
        });
        match control {
            Some(code) => codes.push(code),
            None if key == "DEL" => codes.push(127),
            None => return Err(format!("Unknown character: '{key}'")),
        }
    }
    Ok(codes)
}

/// Watches typed input for the detach sequence: bytes that may begin it are held back until
/// the sequence completes (detach) or breaks (they are passed on).
#[derive(Debug)]
pub struct EscapeProxy {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeProxy {
    pub fn new(keys: Vec<u8>) -> EscapeProxy {
        EscapeProxy { keys, matched: 0 }
    }

    /// Filter one chunk: the bytes to send on, and whether the sequence was completed.
    pub fn filter(&mut self, chunk: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(chunk.len());
        if self.keys.is_empty() {
            out.extend_from_slice(chunk);
            return (out, false);
        }
        for &byte in chunk {
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            // The held-back prefix was ordinary input after all.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(byte);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_moby_term() {
        assert_eq!(detach_key_bytes("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(
            detach_key_bytes("ctrl-@,a,ctrl-_,DEL").unwrap(),
            [0, b'a', 0x1f, 127]
        );
        assert_eq!(
            detach_key_bytes("ctrl-pp").unwrap_err(),
            "Unknown character: 'ctrl-pp'"
        );
    }

    #[test]
    fn the_escape_proxy_holds_back_a_prefix_and_detaches_on_the_sequence() {
        let mut proxy = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(proxy.filter(b"ls\n"), (b"ls\n".to_vec(), false));
        assert_eq!(proxy.filter(b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(proxy.filter(b"b"), (b"\x10b".to_vec(), false));
        assert_eq!(proxy.filter(b"x\x10\x10"), (b"x\x10".to_vec(), false));
        assert_eq!(proxy.filter(b"\x11rest"), (Vec::new(), true));
        let mut split = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(split.filter(b"\x10"), (Vec::new(), false));
        assert_eq!(split.filter(b"\x11"), (Vec::new(), true));
    }
}
