//! `cargo xtask images`: the lab images, reproducibly, into archives `docker load -i` and
//! `berth load -i` accept.
//!
//! - By default, the images with the real software (see [`debian`]): Debian's packages
//!   installed by berth's own builder, into `target/lab-images.tar`, the archive `lab` loads.
//! - `--stand-ins`: the offline busybox stand-ins, into `target/stand-in-images.tar`. No
//!   network: every image is built from the host's busybox-static and the small files in
//!   `files/`, and the same inputs give a byte-identical archive (fixed times and owners, sorted
//!   entries, JSON from structs). The engine's tests use them (a few megabytes, loaded in
//!   milliseconds); so can `lab` where Debian's mirror is out of reach (the labs that need the
//!   real software then say so).
//!
//! Deliberately not here: pulling images from Docker Hub (berthd's registry module does that
//! when a registry is reachable).

/// The combined docker-archive + OCI layout tar that `docker save` (25+) writes.
mod archive;
/// The host's busybox-static: binary, applets, version.
mod busybox;
/// The stand-in images, each written like the Dockerfile it imitates.
mod catalog;
/// Image configs built step by step, with Docker's history entries.
mod config;
/// The images built from Debian's packages on a private berthd (the default).
mod debian;
/// sha256 digests and blob paths.
mod digest;
/// Layers as trees of files, written as tars with their diff ids.
mod layer;
/// Tar writing with fixed owners and times.
mod tarball;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The file name of the stand-ins' archive in the target directory (the engine's tests load it).
pub const STAND_INS_ARCHIVE: &str = "stand-in-images.tar";

/// 2020-01-01T00:00:00Z: the default build date of the stand-ins.
const DEFAULT_SOURCE_DATE_EPOCH: u64 = 1_577_836_800;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the archive [default: lab-images.tar in cargo's target directory, or
    /// stand-in-images.tar with --stand-ins]
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Make the offline busybox stand-ins instead of building from Debian's packages (no
    /// network, no root: for the engine's tests, or where Debian's mirror is out of reach)
    #[arg(long)]
    stand_ins: bool,
    /// Build even when neither the recipes nor Debian's package lists changed
    #[arg(long, conflicts_with = "stand_ins")]
    rebuild: bool,
    /// The statically linked busybox every image is built from
    #[arg(long, default_value_os_t = busybox::Busybox::default_path())]
    busybox: PathBuf,
    /// Build date (seconds since the epoch) stamped on every file, config and history entry
    /// [default: 00:00 UTC today, or 2020-01-01 with --stand-ins]
    #[arg(long, env = "SOURCE_DATE_EPOCH")]
    source_date_epoch: Option<u64>,
    /// Put this in front of every repository name (`lab-test-1/` gives `lab-test-1/busybox:latest`),
    /// so tests can load the images without touching the real tags
    #[arg(long, default_value = "", value_parser = parse_repository_prefix)]
    repository_prefix: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let busybox = busybox::Busybox::locate(&args.busybox)?;
    if !args.stand_ins {
        return debian::run(debian::Options {
            output: args.output,
            rebuild: args.rebuild,
            source_date_epoch: args.source_date_epoch,
            busybox: &busybox,
            repository_prefix: &args.repository_prefix,
            bin: None,
        });
    }
    let output = match args.output {
        Some(path) => path,
        None => crate::util::target_dir()?.join(STAND_INS_ARCHIVE),
    };
    let source_date_epoch = args.source_date_epoch.unwrap_or(DEFAULT_SOURCE_DATE_EPOCH);
    let created = chrono::DateTime::from_timestamp(
        i64::try_from(source_date_epoch).context("SOURCE_DATE_EPOCH is too large")?,
        0,
    )
    .context("SOURCE_DATE_EPOCH is out of range")?
    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let inputs = catalog::Inputs {
        busybox: &busybox,
        mtime: source_date_epoch,
        created,
    };

    let mut images = catalog::all(&inputs)?;
    for image in &mut images {
        image.repository = format!("{}{}", args.repository_prefix, image.repository);
    }
    let entries: Vec<_> = images.iter().map(config::Image::entry).collect();
    let tar = archive::write(&entries, source_date_epoch, archive::Layers::Plain)
        .context("write the image archive")?;
    write_atomically(&output, &tar)?;

    for image in &images {
        let size: usize = image.layers.iter().map(|layer| layer.tar.len()).sum();
        println!(
            "{:<28} {}  {:>5.1} MB",
            format!("{}:{}", image.repository, image.tag),
            &image.config_digest.hex()[..12],
            size as f64 / 1e6
        );
    }
    println!("wrote {} ({:.1} MB)", output.display(), tar.len() as f64 / 1e6);
    Ok(())
}

/// Temp file, fsync, rename: a reader sees the old archive or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let file_name = path
        .file_name()
        .with_context(|| format!("no file name in {}", path.display()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.with_context(|| format!("write {}", path.display()))
}

fn parse_repository_prefix(prefix: &str) -> anyhow::Result<String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
    if !prefix.chars().all(allowed) || prefix.starts_with(['/', '.', '-', '_']) || prefix.contains("//") {
        bail!("invalid repository prefix: {prefix:?} (lower-case letters, digits and . _ - /)");
    }
    Ok(prefix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_prefixes_must_make_valid_names() {
        assert_eq!(parse_repository_prefix("lab-test-42/").unwrap(), "lab-test-42/");
        assert_eq!(parse_repository_prefix("").unwrap(), "");
        assert!(parse_repository_prefix("Lab/").is_err());
        assert!(parse_repository_prefix("/abs").is_err());
        assert!(parse_repository_prefix("a//b").is_err());
        assert!(parse_repository_prefix("a b/").is_err());
    }
}
