//! Whether a name is an image reference, as Docker's `reference.ParseNormalizedNamed` decides
//! for `build -t` before anything is sent. Only the verdict and Docker's message: the daemon
//! normalises names itself (berthd's `reference` module has the full parser).
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain "/"] component ["/" component]*
//! component  := [a-z0-9]+ (separator [a-z0-9]+)*     separator := "." | "_" | "__" | "-"+
//! tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex{32,}
//! ```

const INVALID: &str = "invalid reference format";
const UPPERCASE: &str = "invalid reference format: repository name must be lowercase";

/// `Ok` when Docker's CLI takes `input` as an image name; else its error message.
pub fn validate(input: &str) -> Result<(), String> {
    if input.len() == 64 && input.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (rest, digest) = match input.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (input, None),
    };
    if digest.is_some_and(|d| !valid_digest(d)) {
        return Err(INVALID.into());
    }
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry's port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(if input.is_empty() {
            "invalid reference format: repository name must have at least one component".into()
        } else {
            INVALID.into()
        });
    }
    if tag.is_some_and(|t| !valid_tag(t)) {
        return Err(INVALID.into());
    }
    // The first component is a registry when it has '.', ':' or upper case, or is `localhost`.
    let path = match name.split_once('/') {
        Some((first, path))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            if !valid_domain(first) {
                return Err(INVALID.into());
            }
            path
        }
        _ => name,
    };
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(UPPERCASE.into());
    }
    if !path.split('/').all(valid_component) {
        return Err(INVALID.into());
    }
    if name.len() > 255 {
        return Err("invalid reference format: repository name must not be more than 255 characters".into());
    }
    Ok(())
}

fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators between runs of [a-z0-9]: ".", "_", "__", or any number of "-".
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let dashes = separator.bytes().all(|b| b == b'-');
        if !(matches!(separator, "." | "_" | "__") || dashes) {
            return false;
        }
    }
    true
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    host.split('.').all(|part| {
        let b = part.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    })
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(&b[0])
        && b[1..].iter().all(|c| word(c) || matches!(c, b'.' | b'-'))
}

fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-'));
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_judged_as_docker_judges_them() {
        for ok in [
            "app",
            "app:1.0",
            "team/app",
            "localhost:5000/x:y",
            "a__b",
            "a---b",
            "Reg.io/x",
            "Reg/x",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate("Bad:tag"), Err(UPPERCASE.into()));
        assert_eq!(validate("app:"), Err(INVALID.into()));
        assert_eq!(validate("a..b"), Err(INVALID.into()));
        assert_eq!(validate(":x"), Err(INVALID.into()));
        assert_eq!(
            validate(""),
            Err("invalid reference format: repository name must have at least one component".into())
        );
        let hex = "a".repeat(64);
        assert!(
            validate(&hex)
                .unwrap_err()
                .contains("cannot specify 64-byte hexadecimal strings")
        );
        assert_eq!(validate(&format!("x@sha256:{hex}")), Ok(()));
        assert_eq!(validate("x@sha256:12"), Err(INVALID.into()));
    }
}
