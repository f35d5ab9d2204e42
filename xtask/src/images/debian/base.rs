//! `debian:bookworm-slim` from Debian's packages with `mmdebstrap`, as a root filesystem tar.
//!
//! The official image is made by debuerreotype; this follows the same recipe with Debian's own
//! bootstrapper: the `minbase` variant (the Essential set plus apt), merged /usr without the
//! `usrmerge` package (it would pull in perl), the slim variant's dpkg path excludes (no docs,
//! manual pages or translations), a policy-rc.d that keeps services from starting in builds, and
//! apt settings for images. With `SOURCE_DATE_EPOCH` set, mmdebstrap writes the same tar for the
//! same package set.
//!
//! The downloaded `.deb`s are kept in a cache directory between runs (synced in before apt runs,
//! out after), so a rebuild downloads only what changed on the mirror.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Debian's release the images are built from.
pub const SUITE: &str = "bookworm";
/// Where its packages come from.
pub const MIRROR: &str = "http://deb.debian.org/debian";
/// The security updates, as the official image's sources list has them.
pub const SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";

/// What the official image's config sets: `bash` as the command, Docker's default PATH.
pub const IMPORT_CHANGES: &[&str] = &[
    r#"CMD ["bash"]"#,
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
];

/// The import's comment: how the layer was made.
pub const IMPORT_MESSAGE: &str =
    "mmdebstrap --variant=minbase bookworm (slim: no docs, man pages or locales)";

/// The files of the base recipe, in the repository.
pub fn recipe_dir(recipes: &Path) -> PathBuf {
    recipes.join("bookworm-slim")
}

/// Make the root filesystem tar at `output`, keeping downloaded packages in `debs`.
pub fn make(recipes: &Path, debs: &Path, source_date_epoch: u64, output: &Path) -> anyhow::Result<()> {
    let recipe = recipe_dir(recipes);
    std::fs::create_dir_all(debs).with_context(|| format!("create {}", debs.display()))?;
    let mut command = Command::new("mmdebstrap");
    command
        .env("SOURCE_DATE_EPOCH", source_date_epoch.to_string())
        .args(["--variant=minbase", "--format=tar", "--quiet"])
        .arg("--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr")
        // Before the first package is unpacked, so the excluded files never land.
        .arg(format!("--dpkgopt={}", recipe.join("dpkg.cfg").display()))
        .args(["--components=main"])
        // Reuse the cached packages: apt finds them in its archive directory and skips them;
        // the Essential set's are kept after their install, so the sync-out saves them too.
        .args(["--skip=download/empty", "--skip=essential/unlink"])
        .arg(r#"--setup-hook=mkdir -p "$1/var/cache/apt/archives""#)
        .arg(format!(
            "--setup-hook=sync-in {} /var/cache/apt/archives",
            debs.display()
        ))
        // The image's policy-rc.d, in place from the start (mmdebstrap would otherwise put its
        // own there while it installs, and remove whatever is there when it is done).
        .arg("--skip=chroot/policy-rc.d")
        .arg(format!(
            "--extract-hook=copy-in {} /usr/sbin",
            recipe.join("policy-rc.d").display()
        ))
        .arg(format!(
            "--customize-hook=sync-out /var/cache/apt/archives {}",
            debs.display()
        ))
        // After the sync-out: these apt settings delete downloaded packages after every install,
        // and keep no binary caches (so mmdebstrap's cleanup no longer finds those: remove them).
        .arg(format!(
            "--customize-hook=copy-in {} /etc/apt/apt.conf.d",
            recipe.join("apt.conf.d/berth-image").display()
        ))
        .arg(r#"--customize-hook=rm -f "$1"/var/cache/apt/*.bin"#)
        // The build host's resolver and name would be baked in: the engine provides both files
        // to every container.
        .arg(r#"--customize-hook=: > "$1/etc/resolv.conf"; echo localhost > "$1/etc/hostname""#)
        .arg(SUITE)
        .arg(output)
        .arg(format!("deb {MIRROR} {SUITE} main"))
        .arg(format!("deb {MIRROR} {SUITE}-updates main"))
        .arg(format!("deb {SECURITY_MIRROR} {SUITE}-security main"));
    crate::util::run(&mut command).context("mmdebstrap (apt-get install mmdebstrap)")
}
