//! What Debian's mirror offers now, in one line: the digests of the package lists the images
//! install from (`main/binary-amd64/Packages` of bookworm, bookworm-updates and
//! bookworm-security), read from each suite's signed `InRelease` file.
//!
//! The same digests mean the same package versions: apt would resolve every package of every
//! recipe to what the last build installed, so that build still stands. A new point release or a
//! security update changes a digest, and the images are built again with the new packages.
//! Three small downloads (`curl`), well under a second; none when the mirror is out of reach.

use std::process::Command;

use anyhow::{Context, bail};

use super::base::{MIRROR, SECURITY_MIRROR, SUITE};

/// The package list whose digest stands for a suite's package versions.
const PACKAGES_INDEX: &str = "main/binary-amd64/Packages";

/// `<suite>=<sha256>` for each suite the images install from, space-separated.
pub fn package_lists() -> anyhow::Result<String> {
    let suites = [
        (MIRROR, SUITE.to_owned()),
        (MIRROR, format!("{SUITE}-updates")),
        (SECURITY_MIRROR, format!("{SUITE}-security")),
    ];
    let mut state = Vec::new();
    for (mirror, suite) in suites {
        let url = format!("{mirror}/dists/{suite}/InRelease");
        let output = Command::new("curl")
            .args(["--fail", "--silent", "--show-error", "--location"])
            .args(["--connect-timeout", "2", "--max-time", "10", &url])
            .output()
            .context("run curl (apt-get install curl)")?;
        if !output.status.success() {
            bail!("{url}: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        let release = String::from_utf8_lossy(&output.stdout);
        let digest = packages_digest(&release)
            .with_context(|| format!("{url} lists no SHA256 for {PACKAGES_INDEX}"))?;
        state.push(format!("{suite}={digest}"));
    }
    Ok(state.join(" "))
}

/// The SHA256 of `main/binary-amd64/Packages` in a Release file: in its `SHA256:` section, a
/// line `<digest> <size> <path>`.
fn packages_digest(release: &str) -> Option<&str> {
    let mut in_sha256 = false;
    for line in release.lines() {
        if !line.starts_with(' ') {
            in_sha256 = line.trim_end() == "SHA256:";
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(digest), Some(_size), Some(path), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if in_sha256 && path == PACKAGES_INDEX {
            return Some(digest);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Origin: Debian
Suite: stable-updates
MD5Sum:
 0123456789abcdef0123456789abcdef    32757 main/binary-amd64/Packages
SHA256:
 80a1f6ee524222c49f230fc5700d00f946d0a47eb5258180106dd03df126e16a    32757 main/binary-amd64/Packages
 87e7e94047fb7fb6f4ceecc7022d4bee55b66031cc2a7666d3196f3e0aabb846     6924 main/binary-amd64/Packages.xz
-----BEGIN PGP SIGNATURE-----
";

    #[test]
    fn the_digest_is_the_sha256_of_the_uncompressed_list() {
        assert_eq!(
            packages_digest(RELEASE),
            Some("80a1f6ee524222c49f230fc5700d00f946d0a47eb5258180106dd03df126e16a")
        );
    }

    #[test]
    fn a_release_without_the_list_has_no_digest() {
        let without = RELEASE.replace("main/binary-amd64/Packages\n", "main/binary-i386/Packages\n");
        assert_eq!(packages_digest(&without), None);
        assert_eq!(packages_digest(""), None);
    }
}
