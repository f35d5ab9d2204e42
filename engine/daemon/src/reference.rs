//! Image references: `busybox` means `docker.io/library/busybox:latest`.
//!
//! The grammar and the normalisation rules are those of Docker's `distribution/reference` package:
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain "/"] component ["/" component]*
//! domain     := host-component ["." host-component]* [":" port]
//! component  := [a-z0-9]+ (separator [a-z0-9]+)*     separator := "." | "_" | "__" | "-"+
//! tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! ```
//!
//! A first component is a domain only when it contains `.` or `:`, is `localhost`, or has upper case;
//! otherwise the name lives on Docker Hub, and a one-component Hub name gets the `library/` prefix.

use std::fmt;

use crate::digest::Digest;

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy domain that means Docker Hub too.
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Where Docker Hub's official images live.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a reference gets when it names none.
pub const DEFAULT_TAG: &str = "latest";
/// Longest name the grammar allows.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not an image reference. The messages are Docker's.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// invalid reference format
    #[error("invalid reference format")]
    InvalidFormat,
    /// invalid reference format: repository name must be lowercase
    #[error("invalid reference format: repository name must be lowercase")]
    Uppercase,
    /// repository name must have at least one component
    #[error("invalid reference format: repository name must have at least one component")]
    Empty,
    /// repository name must not be more than 255 characters
    #[error("invalid reference format: repository name must not be more than 255 characters")]
    TooLong,
    /// invalid tag format
    #[error("invalid tag format")]
    Tag,
    /// invalid digest format
    #[error("invalid digest format")]
    Digest,
    /// a 64-hex string names an image id, not a repository
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
}

/// A normalised image reference: domain, path, and an optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse what a user types (`busybox`, `example/app:v1`, `localhost:5000/x@sha256:…`) the way
    /// Docker's `ParseNormalizedNamed` does. No default tag is added: see [`Reference::with_default_tag`].
    pub fn parse_normalized(input: &str) -> Result<Reference, ReferenceError> {
        if is_full_hex_id(input) {
            return Err(ReferenceError::HexName(input.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(input);
        let name_part = remainder.split([':', '@']).next().unwrap_or_default();
        if name_part.to_lowercase() != name_part {
            return Err(ReferenceError::Uppercase);
        }
        Reference::parse(&format!("{domain}/{remainder}"))
    }

    /// Parse a fully qualified reference (`docker.io/library/busybox:latest`); no normalisation.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        // Inside a name, a tag or digest out of Docker's grammar makes the whole reference
        // unreadable ("invalid reference format"); "invalid tag format" is `with_tag`'s.
        let (rest, digest) = match input.split_once('@') {
            Some((_, digest)) if !looks_like_digest(digest) => {
                return Err(ReferenceError::InvalidFormat);
            }
            Some((rest, digest)) => (
                rest,
                Some(digest.parse::<Digest>().map_err(|_| ReferenceError::Digest)?),
            ),
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if tag.is_some_and(|tag| !is_valid_tag(tag)) {
            return Err(ReferenceError::InvalidFormat);
        }
        if name.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::TooLong);
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_domain(first) => (first, rest),
            _ => return Err(ReferenceError::InvalidFormat),
        };
        if !is_valid_domain(domain) {
            return Err(ReferenceError::InvalidFormat);
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase);
        }
        if !path.split('/').all(is_valid_path_component) {
            return Err(ReferenceError::InvalidFormat);
        }
        Ok(Reference {
            domain: domain.to_owned(),
            path: path.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Add the `latest` tag when the reference names neither a tag nor a digest (Docker's `TagNameOnly`).
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    /// The same name with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !is_valid_tag(tag) {
            return Err(ReferenceError::Tag);
        }
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same name with a digest and no tag (`name@sha256:…`).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The registry host (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full name without tag or digest: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short name Docker shows: `busybox`, `example/app`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The short form with tag and digest: `busybox:latest`, `x@sha256:…`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_tag_and_digest(&mut s);
        s
    }

    fn push_tag_and_digest(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(&digest.to_string());
        }
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_tag_and_digest(&mut s);
        f.write_str(&s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Reference, D::Error> {
        let s = String::deserialize(deserializer)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Docker's `splitDockerDomain`: decide whether the first component is a registry host.
fn split_docker_domain(input: &str) -> (&str, String) {
    let (mut domain, mut remainder) = match input.split_once('/') {
        Some((first, rest)) if looks_like_domain(first) => (first, rest.to_owned()),
        _ => (DEFAULT_DOMAIN, input.to_owned()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN;
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// A first component is a host when it has a `.` or `:`, is `localhost`, or has upper case letters
/// (path components can't, so `Foo/bar` is read as a host that then fails the grammar).
fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
}

fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        })
}

/// `[a-z0-9]+ (separator [a-z0-9]+)*` with separators `.`, `_`, `__` or one or more `-`.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
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
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Docker's `DigestRegexp`: an algorithm (`sha256`, `a+b.c`), a colon, at least 32 hex digits.
fn looks_like_digest(text: &str) -> bool {
    let Some((algorithm, hex)) = text.split_once(':') else {
        return false;
    };
    let component = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric())
    };
    algorithm.split(['-', '_', '+', '.']).all(component)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..].iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse_normalized(s)
            .unwrap()
            .with_default_tag()
            .to_string()
    }

    #[test]
    fn docker_hub_names_are_normalised() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.35"), "docker.io/library/busybox:1.35");
        assert_eq!(norm("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            norm("example/widget-factory:v1"),
            "docker.io/example/widget-factory:v1"
        );
        assert_eq!(norm("docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("a/b/c"), "docker.io/a/b/c:latest");
    }

    #[test]
    fn other_registries_keep_their_host() {
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/app:v2"), "localhost:5000/app:v2");
        assert_eq!(norm("127.0.0.1:5000/team/app"), "127.0.0.1:5000/team/app:latest");
        assert_eq!(norm("quay.io/coreos/etcd"), "quay.io/coreos/etcd:latest");
        // A host never gets the library/ prefix.
        assert_eq!(norm("quay.io/etcd"), "quay.io/etcd:latest");
    }

    #[test]
    fn digests_and_tags() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = Reference::parse_normalized(&format!("busybox@sha256:{hex}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().hex(), hex);
        // A digest alone gets no default tag.
        assert_eq!(r.clone().with_default_tag().tag(), None);
        assert_eq!(r.familiar_string(), format!("busybox@sha256:{hex}"));
        let both = Reference::parse_normalized(&format!("busybox:1@sha256:{hex}")).unwrap();
        assert_eq!(both.tag(), Some("1"));
        assert_eq!(both.familiar_string(), format!("busybox:1@sha256:{hex}"));
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse_normalized("busybox").unwrap().with_default_tag();
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.familiar_string(), "busybox:latest");
        let r = Reference::parse_normalized("localhost:5000/library/x").unwrap();
        assert_eq!(r.familiar_name(), "localhost:5000/library/x");
        let r = Reference::parse_normalized("library/a/b").unwrap();
        assert_eq!(r.familiar_name(), "library/a/b");
    }

    #[test]
    fn refusals_carry_dockers_messages() {
        assert_eq!(
            Reference::parse_normalized("Busybox"),
            Err(ReferenceError::Uppercase)
        );
        assert_eq!(
            Reference::parse_normalized("Busybox").unwrap_err().to_string(),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(
            Reference::parse_normalized(""),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            Reference::parse_normalized("busybox:"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            Reference::parse_normalized("busybox:-x"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            Reference::parse_normalized("bad//name"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            Reference::parse_normalized("bad_-name"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            Reference::parse_normalized("-bad"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(
            Reference::parse_normalized("x@sha256:abc"),
            Err(ReferenceError::InvalidFormat)
        );
        assert!(matches!(
            Reference::parse_normalized(&"a".repeat(64)),
            Err(ReferenceError::HexName(_))
        ));
        assert_eq!(
            Reference::parse_normalized(&"a".repeat(300)),
            Err(ReferenceError::TooLong)
        );
    }

    #[test]
    fn separators_follow_the_grammar() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3"] {
            assert!(is_valid_path_component(ok), "{ok}");
        }
        for bad in ["a..b", "a___b", "a_.b", "_a", "a-", "A"] {
            assert!(!is_valid_path_component(bad), "{bad}");
        }
    }
}

/// Property tests: whatever a client sends as a name, parsing answers; a name built from the
/// grammar's own parts parses back to itself.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::Reference;

    /// A path component (no `.`: a first component with one would name a registry).
    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,8}([_-][a-z0-9]{1,8}){0,2}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_is_answered(text in "\\PC{0,80}") {
            let _ = Reference::parse_normalized(&text);
            let _ = Reference::parse(&text);
        }

        #[test]
        fn grammatical_names_parse_back(
            path in prop::collection::vec(component(), 1..4),
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            domain in proptest::option::of("(localhost:5000|registry\\.example\\.com)"),
        ) {
            let mut name = path.join("/");
            if let Some(domain) = &domain {
                name = format!("{domain}/{name}");
            }
            if let Some(tag) = &tag {
                name = format!("{name}:{tag}");
            }
            let parsed = Reference::parse_normalized(&name);
            prop_assert!(parsed.is_ok(), "{name}: {parsed:?}");
            let parsed = parsed.unwrap_or_else(|_| unreachable!());
            prop_assert_eq!(Reference::parse_normalized(&parsed.familiar_string()).ok(), Some(parsed));
        }
    }
}
