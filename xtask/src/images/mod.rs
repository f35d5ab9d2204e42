//! `cargo xtask images`: the offline lab images, reproducibly, into `target/lab-images.tar`.
//!
//! No network: every image is built from the host's Debian busybox-static and the small files
//! in `files/`. The same inputs give a byte-identical archive (fixed times and owners, sorted
//! entries, JSON from structs), which both `docker load -i` and `berth load -i` accept.
//!
//! `--debian` builds the images with the real software instead (see [`debian`]): Debian's
//! packages installed by berth's own builder, into `target/lab-images-debian.tar`.
//!
//! Deliberately not here: pulling real images (berthd's registry module does that when a
//! registry is reachable) and compressing layers (loaders take plain tars; sizes stay honest).

/// The combined docker-archive + OCI layout tar that `docker save` (25+) writes.
mod archive;
/// The host's busybox-static: binary, applets, version.
mod busybox;
/// The stand-in images, each written like the Dockerfile it imitates.
mod catalog;
/// Image configs built step by step, with Docker's history entries.
mod config;
/// `--debian`: the images built from Debian's packages on a private berthd.
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

/// 2020-01-01T00:00:00Z: the default build date of every lab image.
const DEFAULT_SOURCE_DATE_EPOCH: u64 = 1_577_836_800;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the archive [default: lab-images.tar in cargo's target directory, or
    /// lab-images-debian.tar with --debian]
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Build the images from Debian's packages with berth's builder on a private berthd (needs
    /// root, mmdebstrap and Debian's mirror); rebuilt only when a recipe changed
    #[arg(long)]
    debian: bool,
    /// With --debian: build even when the recipes did not change (new Debian packages)
    #[arg(long, requires = "debian")]
    rebuild: bool,
    /// The statically linked busybox every image is built from
    #[arg(long, default_value_os_t = busybox::Busybox::default_path())]
    busybox: PathBuf,
    /// Build date (seconds since the epoch) stamped on every file, config and history entry
    /// [default: 2020-01-01, or 00:00 UTC today with --debian]
    #[arg(long, env = "SOURCE_DATE_EPOCH")]
    source_date_epoch: Option<u64>,
    /// Put this in front of every repository name (`lab-test-1/` gives `lab-test-1/busybox:latest`),
    /// so tests can load the images without touching the real tags
    #[arg(long, default_value = "", value_parser = parse_repository_prefix)]
    repository_prefix: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let busybox = busybox::Busybox::locate(&args.busybox)?;
    if args.debian {
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
        None => crate::util::target_dir()?.join("lab-images.tar"),
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
    let tar = archive::write(&entries, source_date_epoch).context("write the image archive")?;
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
