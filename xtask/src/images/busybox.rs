//! The host's busybox-static: the one input every lab image is built from.
//!
//! Debian's `busybox-static` package puts a statically linked busybox at `/bin/busybox`. A
//! dynamically linked busybox (Debian's plain `busybox` package installs the same path) would not
//! run inside an image without a libc, so it is refused with a hint instead of producing images
//! that fail at their first command.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};

/// Where Debian's busybox-static installs the binary.
pub const DEFAULT_PATH: &str = "/bin/busybox";

/// The busybox binary and what it provides.
pub struct Busybox {
    pub binary: Vec<u8>,
    /// Applet names (`sh`, `httpd`, `[`…), sorted, `busybox` itself included.
    pub applets: Vec<String>,
    /// The version banner, e.g. `v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)`.
    pub version: String,
}

impl Busybox {
    /// Reads busybox from `path`; when the default path is missing and we are root, installs
    /// Debian's busybox-static with apt-get first.
    pub fn locate(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            if path == Path::new(DEFAULT_PATH) && running_as_root() {
                install_busybox_static()?;
            } else {
                bail!(
                    "busybox not found at {}: install Debian's busybox-static (apt-get install -y busybox-static)",
                    path.display()
                );
            }
        }
        let binary = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        check_static_x86_64(&binary).with_context(|| format!("unusable busybox at {}", path.display()))?;
        let applets = applets(path)?;
        let version = version(path)?;
        Ok(Self {
            binary,
            applets,
            version,
        })
    }

    /// The path the images are built from by default.
    pub fn default_path() -> PathBuf {
        PathBuf::from(DEFAULT_PATH)
    }
}

/// `/proc/self` belongs to the effective user of the process that looks at it.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

fn install_busybox_static() -> anyhow::Result<()> {
    eprintln!("images: {DEFAULT_PATH} is missing; installing busybox-static with apt-get");
    let apt_get = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .with_context(|| format!("run apt-get {}", args.join(" ")))
    };
    let install = ["install", "-y", "--no-install-recommends", "busybox-static"];
    if apt_get(&install)?.success() {
        return Ok(());
    }
    // A fresh machine may have no package lists yet.
    let update = apt_get(&["update"])?;
    ensure!(update.success(), "apt-get update failed: {update}");
    let install = apt_get(&install)?;
    ensure!(
        install.success(),
        "apt-get install busybox-static failed: {install}"
    );
    Ok(())
}

fn applets(path: &Path) -> anyhow::Result<Vec<String>> {
    let output = Command::new(path)
        .arg("--list")
        .output()
        .with_context(|| format!("run {} --list", path.display()))?;
    ensure!(
        output.status.success(),
        "{} --list failed: {}",
        path.display(),
        output.status
    );
    let mut applets: Vec<String> = String::from_utf8(output.stdout)
        .context("busybox --list printed something that is not utf-8")?
        .lines()
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .chain(["busybox".to_string()])
        .collect();
    applets.sort();
    applets.dedup();
    if let Some(odd) = applets
        .iter()
        .find(|name| name.contains('/') || *name == "." || *name == "..")
    {
        bail!("busybox --list gave an applet name that is not a file name: {odd:?}");
    }
    Ok(applets)
}

/// The banner's first line: `BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.`
fn version(path: &Path) -> anyhow::Result<String> {
    let output = Command::new(path)
        .output()
        .with_context(|| format!("run {}", path.display()))?;
    let banner = String::from_utf8_lossy(&output.stdout);
    parse_banner(&banner).with_context(|| format!("no version banner from {}", path.display()))
}

fn parse_banner(banner: &str) -> Option<String> {
    let first = banner.lines().next()?;
    let version = first
        .strip_prefix("BusyBox ")?
        .split(" multi-call")
        .next()?
        .trim();
    (!version.is_empty()).then(|| version.to_string())
}

/// The image config says linux/amd64 and the images have no libc: the binary must be a statically
/// linked x86-64 ELF (no `PT_INTERP` program header naming a dynamic loader). Reading these three
/// header fields by hand is shorter than pulling in an object-file crate.
fn check_static_x86_64(elf: &[u8]) -> anyhow::Result<()> {
    const EM_X86_64: u16 = 62;
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| elf.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };

    // e_ident: magic, ELFCLASS64 (2), little-endian (1).
    ensure!(
        elf.get(..6) == Some(b"\x7fELF\x02\x01"),
        "not a 64-bit little-endian ELF binary"
    );
    ensure!(
        u16_at(0x12) == Some(EM_X86_64),
        "not an x86-64 binary (the images say amd64)"
    );
    let header_table = u64_at(0x20).context("truncated ELF header")? as usize;
    let entry_size = u16_at(0x36).context("truncated ELF header")? as usize;
    let entries = u16_at(0x38).context("truncated ELF header")? as usize;
    for index in 0..entries {
        let kind = u32_at(header_table + index * entry_size).context("truncated ELF program headers")?;
        if kind == PT_INTERP {
            bail!("dynamically linked: install Debian's busybox-static, not busybox");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_gives_the_version() {
        let banner =
            "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\nBusyBox is copyrighted";
        assert_eq!(
            parse_banner(banner).as_deref(),
            Some("v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)")
        );
        assert_eq!(parse_banner("usage: something else"), None);
    }

    #[test]
    fn dynamic_binaries_are_refused() {
        // The test binary itself is dynamically linked.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let error = check_static_x86_64(&me).unwrap_err().to_string();
        assert!(error.contains("dynamically linked"), "{error}");
        assert!(check_static_x86_64(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn debian_busybox_static_is_accepted() {
        let busybox =
            Busybox::locate(Path::new(DEFAULT_PATH)).expect("busybox-static is installed on the build host");
        assert!(busybox.applets.iter().any(|name| name == "sh"));
        assert!(busybox.applets.iter().any(|name| name == "httpd"));
        assert!(busybox.applets.iter().any(|name| name == "busybox"));
        assert!(busybox.version.starts_with('v'), "{}", busybox.version);
    }
}
