//! `cargo xtask images`: the lab images with the real software, built from Debian's packages by
//! berth's own builder, into `target/lab-images.tar`.
//!
//! 1. `debian:bookworm-slim` from `mmdebstrap` ([`base`]), imported into a private berthd
//!    ([`daemon`]) with the official image's config;
//! 2. each image of [`recipes::RECIPES`] built from its Dockerfile in `images/recipes/` with
//!    `berth build` on that daemon (`apt-get install` reaches Debian's mirror through the
//!    daemon's bridge and NAT);
//! 3. `berth save` of them all, their times set to the build date ([`reproducible`]), written
//!    with the stand-ins' `busybox` and `hello-world` into one archive that `berth load` and
//!    `docker load` accept (layers gzip-compressed); the Debian packages each image holds are
//!    listed beside it.
//!
//! Two keys are stored beside the archive: one over the recipes (and the other inputs), one
//! over Debian's package lists ([`mirror`]). When neither changed, nothing is rebuilt;
//! `--rebuild` builds anyway.

/// `debian:bookworm-slim` with mmdebstrap.
mod base;
/// The private berthd the images are built on.
pub(crate) mod daemon;
/// Debian's package lists now: when they change, so do the packages the recipes install.
mod mirror;
/// The recipe directories: build contexts and the cache key.
mod recipes;
/// Build dates instead of build times, so the same recipes give the same image ids.
mod reproducible;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};

use super::catalog;
use super::config::Image;

/// The archive's file name in the target directory: the one `lab` loads.
pub const ARCHIVE: &str = "lab-images.tar";

/// How this code lays the archive out: part of the cache key, raised when a change here (not
/// in a recipe) changes the archive. 2: gzip-compressed layers, the stand-ins' fixed date.
const ARCHIVE_FORMAT: u32 = 2;

/// The stand-ins that go into the archive as they are: they need no Debian package.
const STAND_INS_KEPT: &[&str] = &["busybox", "hello-world"];

/// What `cargo xtask images` was asked.
pub struct Options<'a> {
    pub output: Option<PathBuf>,
    /// Build even when the cache key matches.
    pub rebuild: bool,
    /// `SOURCE_DATE_EPOCH` when given; else the start of the current UTC day.
    pub source_date_epoch: Option<u64>,
    pub busybox: &'a super::busybox::Busybox,
    pub repository_prefix: &'a str,
    /// Where berthd and berth are; `None` builds them (debug) first.
    pub bin: Option<PathBuf>,
}

pub fn run(options: Options<'_>) -> anyhow::Result<()> {
    let started = Instant::now();
    let target = crate::util::target_dir()?;
    let output = options.output.clone().unwrap_or_else(|| target.join(ARCHIVE));
    let key_path = sidecar(&output, "key");
    let recipes_root = recipes::recipes_root()?;

    let key = cache_key(&recipes_root, &options)?;
    let package_lists = mirror::package_lists();
    let stored = std::fs::read_to_string(&key_path).unwrap_or_default();
    let mut stored = stored.lines();
    let (stored_key, stored_lists) = (stored.next(), stored.next());
    if !options.rebuild && output.exists() && stored_key == Some(key.as_str()) {
        match &package_lists {
            Ok(lists) if stored_lists == Some(lists.as_str()) => {
                println!(
                    "{} is up to date (recipes and Debian's package lists unchanged; --rebuild to build anyway)",
                    output.display()
                );
                return Ok(());
            }
            Err(unreachable) => {
                println!(
                    "{} is kept: the recipes are unchanged and Debian's mirror did not answer ({unreachable:#})",
                    output.display()
                );
                return Ok(());
            }
            Ok(_) => println!("Debian's package lists changed since the last build: building again"),
        }
    }
    let package_lists = package_lists.map_err(|unreachable| {
        anyhow::anyhow!(
            "{unreachable:#}\nDebian's mirror is out of reach: `cargo xtask images --stand-ins` makes the offline busybox stand-ins (the labs that need the real software will say so)"
        )
    })?;

    let epoch = options.source_date_epoch.unwrap_or_else(start_of_today);
    Interrupt::install();
    let work = target.join("lab-images.work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    let result = build(&options, &recipes_root, &target, &work, epoch, &output);
    let _ = std::fs::remove_dir_all(&work);
    let packages = result?;

    std::fs::write(sidecar(&output, "packages"), packages)?;
    std::fs::write(&key_path, format!("{key}\n{package_lists}\n"))?;
    println!("built in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The whole build into `output`; answers the package list.
fn build(
    options: &Options<'_>,
    recipes_root: &Path,
    target: &Path,
    work: &Path,
    epoch: u64,
    output: &Path,
) -> anyhow::Result<String> {
    let step = Instant::now();
    let base_tar = work.join("bookworm-slim.tar");
    base::make(recipes_root, &target.join("debian-archives"), epoch, &base_tar)?;
    println!(
        "debian:bookworm-slim made in {:.0} s",
        step.elapsed().as_secs_f64()
    );
    Interrupt::check()?;

    let bin = match &options.bin {
        Some(bin) => bin.clone(),
        None => crate::util::build_engine(crate::util::Profile::Debug)?,
    };
    let daemon = daemon::Daemon::start(&bin, "berth-images", daemon::BUILD_NETWORK)?;
    // From stdin, so the history says "Imported from -", not a path on this machine.
    let mut import = daemon.berth();
    import.args(["import", "-m", base::IMPORT_MESSAGE]);
    for change in base::IMPORT_CHANGES {
        import.args(["-c", change]);
    }
    import.args(["-", "debian:bookworm-slim"]);
    import
        .stdin(std::fs::File::open(&base_tar)?)
        .stdout(Stdio::null());
    crate::util::run(&mut import)?;
    let _ = std::fs::remove_file(&base_tar);

    for recipe in recipes::RECIPES {
        Interrupt::check()?;
        let step = Instant::now();
        let context = recipes::context_tar(&recipes_root.join(recipe.dir), epoch)?;
        build_one(&daemon, &recipe.reference(), &context)?;
        println!(
            "{} built in {:.0} s",
            recipe.reference(),
            step.elapsed().as_secs_f64()
        );
    }
    Interrupt::check()?;

    let mut references = vec!["debian:bookworm-slim".to_owned()];
    references.extend(recipes::RECIPES.iter().map(recipes::Recipe::reference));
    let packages = installed_packages(&daemon, &references)?;
    let saved = work.join("saved.tar");
    let mut save: Vec<&str> = vec!["save", "-o", saved.to_str().context("a UTF-8 target path")?];
    save.extend(references.iter().map(String::as_str));
    daemon.output(&save)?;
    drop(daemon);

    let mut built = reproducible::read_saved(&saved, epoch)?;
    let _ = std::fs::remove_file(&saved);
    for image in &mut built {
        image.repository = format!("{}{}", options.repository_prefix, image.repository);
    }
    let stand_ins = stand_ins(options)?;
    let mut entries: Vec<_> = built.iter().map(reproducible::BuiltImage::entry).collect();
    entries.extend(stand_ins.iter().map(Image::entry));
    let tar = super::archive::write(&entries, epoch, super::archive::Layers::Gzip)
        .context("write the image archive")?;
    super::write_atomically(output, &tar)?;

    for entry in &entries {
        let size: usize = entry.layers.iter().map(|layer| layer.tar.len()).sum();
        println!(
            "{:<28} {}  {:>6.1} MB",
            format!("{}:{}", entry.repository, entry.tag),
            &entry.config_digest.hex()[..12],
            size as f64 / 1e6
        );
    }
    println!("wrote {} ({:.1} MB)", output.display(), tar.len() as f64 / 1e6);
    Ok(packages)
}

/// `berth build -t reference -` with the context tar on stdin, the build's output shown.
fn build_one(daemon: &daemon::Daemon, reference: &str, context: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = daemon
        .berth()
        .args(["build", "-t", reference, "-"])
        .stdin(Stdio::piped())
        .spawn()
        .context("run berth build")?;
    let mut stdin = child.stdin.take().context("berth build's stdin")?;
    let written = stdin.write_all(context);
    drop(stdin);
    let status = child.wait()?;
    if !status.success() {
        bail!("berth build -t {reference} failed: {status}");
    }
    written.context("send the build context")
}

/// `<image> <package> <version>` lines: what each image really holds, from its dpkg database.
fn installed_packages(daemon: &daemon::Daemon, references: &[String]) -> anyhow::Result<String> {
    let mut lines = String::new();
    for reference in references {
        let list = daemon.output(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "dpkg-query",
            reference,
            "-W",
            "-f",
            "${Package} ${Version}\\n",
        ])?;
        for line in list.lines() {
            lines.push_str(&format!("{reference} {line}\n"));
        }
    }
    Ok(lines)
}

/// The stand-ins kept as they are (busybox, hello-world), exactly as `--stand-ins` makes them
/// (same date, so the same image ids): an engine that has them from either archive needs no
/// reload (the engine's tests load the stand-ins into the Docker the labs also run on).
fn stand_ins(options: &Options<'_>) -> anyhow::Result<Vec<Image>> {
    let epoch = options
        .source_date_epoch
        .unwrap_or(super::DEFAULT_SOURCE_DATE_EPOCH);
    let inputs = catalog::Inputs {
        busybox: options.busybox,
        mtime: epoch,
        created: reproducible_date(epoch)?,
    };
    let mut images: Vec<Image> = catalog::all(&inputs)?
        .into_iter()
        .filter(|image| STAND_INS_KEPT.contains(&image.repository.as_str()))
        .collect();
    for image in &mut images {
        image.repository = format!("{}{}", options.repository_prefix, image.repository);
    }
    Ok(images)
}

fn reproducible_date(epoch: u64) -> anyhow::Result<String> {
    Ok(chrono::DateTime::from_timestamp(i64::try_from(epoch)?, 0)
        .context("SOURCE_DATE_EPOCH is out of range")?
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The key over every input the archive depends on that is in the repository or the command
/// line: the recipes, the base's settings, busybox (for the stand-ins), the name prefix and
/// the build date when one is given.
fn cache_key(recipes_root: &Path, options: &Options<'_>) -> anyhow::Result<String> {
    let mut dirs = vec!["bookworm-slim"];
    dirs.extend(recipes::RECIPES.iter().map(|recipe| recipe.dir));
    let names: Vec<String> = recipes::RECIPES.iter().map(recipes::Recipe::reference).collect();
    let settings = format!(
        "{ARCHIVE_FORMAT} {} {} {:?} {names:?} {:?}",
        base::SUITE,
        base::MIRROR,
        base::IMPORT_CHANGES,
        options.source_date_epoch
    );
    recipes::cache_key(
        recipes_root,
        &dirs,
        &[
            settings.as_bytes(),
            options.repository_prefix.as_bytes(),
            &options.busybox.binary,
        ],
    )
}

/// `archive.tar` → `archive.tar.<extension>`: the files kept beside the archive.
fn sidecar(output: &Path, extension: &str) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

/// 00:00 UTC today: the default build date, so two builds on one day give the same ids.
fn start_of_today() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    now - now % 86_400
}

#[cfg(test)]
mod tests;

/// Set by SIGINT/SIGTERM. The build's children get the terminal's Ctrl-C themselves and fail;
/// this process notices between steps and returns, so the daemon's guard cleans up (the
/// default action would end it at once, leaving berthd and its mounts behind).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

struct Interrupt;

impl Interrupt {
    fn install() {
        extern "C" fn note(_signal: libc::c_int) {
            INTERRUPTED.store(true, Ordering::SeqCst);
        }
        let handler: extern "C" fn(libc::c_int) = note;
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe; a
            // handler (unlike SIG_IGN) is reset to the default in the children we exec.
            unsafe { libc::signal(signal, handler as libc::sighandler_t) };
        }
    }

    fn check() -> anyhow::Result<()> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        Ok(())
    }
}
