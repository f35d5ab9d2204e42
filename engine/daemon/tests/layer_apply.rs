//! Unpacking layer tars on the real file system (as root): formats, metadata, whiteouts,
//! and the refusals that keep an evil layer inside its directory.

mod layer_support;

use std::path::{Path, PathBuf};

use berthd::digest::Digest;
use berthd::layer::{AppliedLayer, LayerError, Refusal, apply_layer};
use layer_support::{Entry, RawTar, SnapshotOptions, gzip, listing, require_root, snapshot, temp_dir, zstd};
use tar::EntryType;

/// A file capability (`cap_net_raw+ep`, VFS_CAP_REVISION_2) as the xattr stores it.
const NET_RAW: &[u8] = &[1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn sample_layer() -> Vec<u8> {
    let mut tar = RawTar::default();
    tar.add(Entry::dir("./"))
        .add(Entry::dir("./bin/"))
        .add(Entry {
            mode: 0o4755,
            ..Entry::file("./bin/busybox", b"#!busybox")
        })
        .add(Entry {
            pax: vec![("SCHILY.xattr.trusted.berth", b"link")],
            ..Entry::symlink("./bin/sh", "/bin/busybox")
        })
        .add(Entry {
            pax: vec![("SCHILY.xattr.security.capability", NET_RAW)],
            ..Entry::file("bin/ping", b"ping")
        })
        .add(Entry::hardlink("./bin/ls", "./bin/busybox"))
        .add(Entry {
            mode: 0o750,
            uid: 1000,
            gid: 1001,
            mtime: 1_500_000_000,
            ..Entry::dir("home/user/")
        })
        .add(Entry {
            uid: 1000,
            gid: 1001,
            ..Entry::file("home/user/.profile", b"export PS1='$ '\n")
        })
        .add(Entry {
            pax: vec![
                ("SCHILY.xattr.user.origin", b"lab"),
                ("SCHILY.xattr.trusted.overlay.redirect", b"/x"),
            ],
            ..Entry::file("etc/motd", b"welcome\n")
        })
        .add(Entry {
            device: Some((1, 3)),
            mode: 0o666,
            ..Entry::new("dev/null", EntryType::Char)
        })
        .add(Entry {
            device: Some((7, 0)),
            mode: 0o660,
            ..Entry::new("dev/loop0", EntryType::Block)
        })
        .add(Entry {
            mode: 0o600,
            ..Entry::new("run/fifo", EntryType::Fifo)
        })
        .add(Entry::file("etc/.wh.shadow", b""))
        .add(Entry::file("var/cache/.wh..wh..opq", b""))
        .add(Entry::file(".wh..wh.plnk", b""))
        // A later entry replaces an earlier one, as in `docker export` of a layered tree.
        .add(Entry::file("etc/hostname", b"old\n"))
        .add(Entry::file("etc/hostname", b"new\n"))
        .add_long_file(&format!("opt/{}/{}", "d".repeat(120), "f".repeat(90)), b"long");
    tar.bytes()
}

fn apply(dest: &Path, bytes: &[u8]) -> Result<AppliedLayer, LayerError> {
    apply_layer(dest, bytes)
}

#[test]
fn unpacks_files_links_devices_and_whiteouts_with_their_metadata() {
    require_root();
    let tmp = temp_dir();
    let dest = tmp.path().join("layer");
    let tar = sample_layer();
    let applied = apply(&dest, &tar).unwrap();

    assert_eq!(applied.diff_id, Digest::of(&tar));
    assert_eq!(applied.compressed_digest, Digest::of(&tar));
    let regular_bytes = b"ping".len()
        + b"#!busybox".len()
        + b"export PS1='$ '\n".len()
        + b"welcome\n".len()
        + b"new\n".len()
        + 4;
    assert_eq!(applied.size, regular_bytes as u64);

    let tree = snapshot(&dest, &SnapshotOptions { dir_mtimes: true });
    let node = |p: &str| {
        tree.get(Path::new(p))
            .unwrap_or_else(|| panic!("{p} missing: {tree:#?}"))
    };
    assert_eq!(
        (node("bin/busybox").kind, node("bin/busybox").mode),
        ("file", 0o4755)
    );
    assert_eq!(node("bin/sh").link.as_deref(), Some(Path::new("/bin/busybox")));
    // xattrs on a symlink, and a file capability that survives the chown that would clear it.
    assert_eq!(
        node("bin/sh")
            .xattrs
            .get(std::ffi::OsStr::new("trusted.berth"))
            .unwrap(),
        b"link"
    );
    assert_eq!(
        node("bin/ping")
            .xattrs
            .get(std::ffi::OsStr::new("security.capability"))
            .unwrap(),
        NET_RAW
    );
    let ino =
        |p: &str| std::fs::symlink_metadata(dest.join(p)).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    assert_eq!(ino("bin/ls").unwrap(), ino("bin/busybox").unwrap());
    let home = node("home/user");
    assert_eq!(
        (home.mode, home.uid, home.gid, home.mtime),
        (0o750, 1000, 1001, Some(1_500_000_000))
    );
    assert_eq!(node("home/user/.profile").uid, 1000);
    assert_eq!(node("etc/motd").mtime, Some(1_600_000_000));
    // Layer xattrs are kept; overlayfs's own are never taken from a tar.
    let motd_xattrs: Vec<_> = node("etc/motd").xattrs.keys().cloned().collect();
    assert_eq!(motd_xattrs, vec![std::ffi::OsString::from("user.origin")]);
    assert_eq!(node("etc/motd").xattrs.values().next().unwrap(), b"lab");
    assert_eq!(
        (
            node("dev/null").kind,
            node("dev/null").rdev,
            node("dev/null").mode
        ),
        ("char", rustix::fs::makedev(1, 3), 0o666)
    );
    assert_eq!(node("dev/loop0").kind, "block");
    assert_eq!((node("run/fifo").kind, node("run/fifo").mode), ("fifo", 0o600));
    assert_eq!(node("etc/shadow").kind, "whiteout");
    assert!(!tree.contains_key(Path::new("etc/.wh.shadow")));
    assert_eq!(
        node("var/cache")
            .xattrs
            .get(std::ffi::OsStr::new("trusted.overlay.opaque"))
            .unwrap(),
        b"y"
    );
    assert!(!tree.contains_key(Path::new("var/cache/.wh..wh..opq")));
    assert!(!tree.contains_key(Path::new(".wh..wh.plnk")));
    assert_eq!(node("etc/hostname").content.as_deref(), Some(&b"new\n"[..]));
    let long = format!("opt/{}/{}", "d".repeat(120), "f".repeat(90));
    assert_eq!(node(&long).content.as_deref(), Some(&b"long"[..]));
    // The layer directory is 0755 like Docker's, whatever the tar said about `./`.
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&dest.metadata().unwrap().permissions()) & 0o7777,
        0o755
    );
    assert_eq!(
        listing(tmp.path()),
        vec![std::ffi::OsString::from("layer")],
        "no staging dir left"
    );
}

#[test]
fn gzip_zstd_and_plain_give_the_same_layer() {
    require_root();
    let tmp = temp_dir();
    let tar = sample_layer();
    let mut trees = Vec::new();
    for (name, bytes) in [("plain", tar.clone()), ("gzip", gzip(&tar)), ("zstd", zstd(&tar))] {
        let dest = tmp.path().join(name);
        let applied = apply(&dest, &bytes).unwrap();
        assert_eq!(applied.diff_id, Digest::of(&tar), "{name}");
        assert_eq!(applied.compressed_digest, Digest::of(&bytes), "{name}");
        // Parents the tar doesn't name (etc/, var/…) are made "now", as Docker's are: their
        // mtimes differ whenever the applies straddle a second, so only named dirs' mtimes count.
        let tree = snapshot(&dest, &SnapshotOptions { dir_mtimes: false });
        let named_dir = snapshot(&dest, &SnapshotOptions { dir_mtimes: true })[Path::new("home/user")].mtime;
        assert_eq!(named_dir, Some(1_500_000_000), "{name}");
        trees.push(tree);
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);
}

#[test]
fn digests_cover_trailing_blocks_and_bytes() {
    require_root();
    let tmp = temp_dir();
    // GNU tar pads archives to 10 KiB records: the zeros after the end marker count too.
    let mut tar = sample_layer();
    tar.resize(tar.len().div_ceil(10240) * 10240 + 10240, 0);
    let applied = apply(&tmp.path().join("padded"), &tar).unwrap();
    assert_eq!(applied.diff_id, Digest::of(&tar));
    let compressed = gzip(&tar);
    let applied = apply(&tmp.path().join("gz"), &compressed).unwrap();
    assert_eq!(
        (applied.diff_id, applied.compressed_digest),
        (Digest::of(&tar), Digest::of(&compressed))
    );
}

/// Apply an evil layer: it must be refused naming `entry`, leave nothing beside the
/// destination, and leave `outside` as it was.
fn assert_refused(tar: &[u8], entry: &str, reason: Refusal, outside: &Path) {
    let tmp = temp_dir();
    let dest = tmp.path().join("layer");
    let before = snapshot(outside, &SnapshotOptions { dir_mtimes: true });
    let err = apply(&dest, tar).unwrap_err();
    match &err {
        LayerError::Refused {
            entry: refused,
            reason: got,
        } => {
            assert_eq!((refused.as_str(), got), (entry, &reason), "{err}")
        }
        other => panic!("expected a refusal of {entry:?}, got: {other}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("refusing layer entry {entry:?}: ")),
        "{err}"
    );
    assert!(!dest.exists(), "the refused layer's directory exists");
    assert!(
        listing(tmp.path()).is_empty(),
        "left behind: {:?}",
        listing(tmp.path())
    );
    assert_eq!(
        snapshot(outside, &SnapshotOptions { dir_mtimes: true }),
        before,
        "outside was touched"
    );
}

/// A directory beside the layer that evil entries aim at.
fn outside_dir(tmp: &Path) -> PathBuf {
    let outside = tmp.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    outside
}

#[test]
fn refuses_paths_that_leave_the_root() {
    require_root();
    let tmp = temp_dir();
    let outside = outside_dir(tmp.path());
    for (name, reason) in [
        ("../x", Refusal::LeavesRoot),
        ("/abs", Refusal::AbsolutePath),
        ("a/../../x", Refusal::LeavesRoot),
    ] {
        let mut tar = RawTar::default();
        tar.add(Entry::file("ok", b"fine"))
            .add(Entry::file(name, b"evil"));
        assert_refused(&tar.bytes(), name, reason, &outside);
    }
    let err = apply(&tmp.path().join("layer"), &{
        let mut tar = RawTar::default();
        tar.add(Entry::file("../x", b""));
        tar.bytes()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"refusing layer entry "../x": path leaves the layer root"#
    );
}

#[test]
fn never_writes_through_a_symlink() {
    require_root();
    let tmp = temp_dir();
    let outside = outside_dir(tmp.path());
    let outside_str = outside.to_str().unwrap();

    // `a -> <outside>` (absolute, a normal symlink), then a file, a directory and a hardlink through it.
    for (second, name) in [
        (Entry::file("a/secret", b"overwritten"), "a/secret"),
        (Entry::file("a/new", b"planted"), "a/new"),
        (Entry::dir("a/newdir/"), "a/newdir/"),
        (Entry::file("a/deep/er/file", b"planted"), "a/deep/er/file"),
        (Entry::file("a/.wh.secret", b""), "a/.wh.secret"),
    ] {
        let mut tar = RawTar::default();
        tar.add(Entry::symlink("a", outside_str)).add(second);
        assert_refused(&tar.bytes(), name, Refusal::ThroughSymlink, &outside);
    }
    let mut tar = RawTar::default();
    tar.add(Entry::symlink("a", outside_str))
        .add(Entry::hardlink("stolen", "a/secret"));
    assert_refused(&tar.bytes(), "stolen", Refusal::ThroughSymlink, &outside);
}

/// The classic attack, literally: `a -> /etc`, then `a/passwd`. It runs in a thread with its
/// own mount namespace where /etc is a read-only bind of itself, so even a broken unpacker
/// could not harm the host: it would fail with EROFS instead of the refusal checked here.
#[test]
fn refuses_to_write_etc_passwd_through_a_symlink() {
    require_root();
    let before = std::fs::read("/etc/passwd").unwrap();
    std::thread::spawn(|| {
        use rustix::mount::{MountFlags, MountPropagationFlags};
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS | nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        rustix::mount::mount_change("/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
            .unwrap();
        rustix::mount::mount_bind("/etc", "/etc").unwrap();
        rustix::mount::mount_remount("/etc", MountFlags::BIND | MountFlags::RDONLY, "").unwrap();
        let probe = std::fs::write("/etc/berth-layer-test-probe", b"");
        assert_eq!(
            probe.unwrap_err().raw_os_error(),
            Some(libc::EROFS),
            "/etc is read-only in this thread"
        );

        let tmp = temp_dir();
        let outside = outside_dir(tmp.path());
        let mut tar = RawTar::default();
        tar.add(Entry::symlink("a", "/etc"))
            .add(Entry::file("a/passwd", b"root::0:0::/:/bin/sh\n"));
        assert_refused(&tar.bytes(), "a/passwd", Refusal::ThroughSymlink, &outside);
    })
    .join()
    .unwrap();
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), before);
}

#[test]
fn refuses_links_that_leave_the_root() {
    require_root();
    let tmp = temp_dir();
    let outside = outside_dir(tmp.path());

    let mut tar = RawTar::default();
    tar.add(Entry::symlink("b", "../../.."));
    assert_refused(
        &tar.bytes(),
        "b",
        Refusal::SymlinkLeavesRoot("../../..".into()),
        &outside,
    );

    let mut tar = RawTar::default();
    tar.add(Entry::dir("usr/lib/"))
        .add(Entry::symlink("usr/lib/x", "../../../outside/secret"));
    let reason = Refusal::SymlinkLeavesRoot("../../../outside/secret".into());
    assert_refused(&tar.bytes(), "usr/lib/x", reason, &outside);

    let mut tar = RawTar::default();
    tar.add(Entry::hardlink("h", "../outside/secret"));
    assert_refused(
        &tar.bytes(),
        "h",
        Refusal::HardlinkLeavesRoot("../outside/secret".into()),
        &outside,
    );

    let target = outside.join("secret");
    let mut tar = RawTar::default();
    tar.add(Entry::hardlink("h", target.to_str().unwrap()));
    let reason = Refusal::HardlinkLeavesRoot(target.to_str().unwrap().into());
    assert_refused(&tar.bytes(), "h", reason, &outside);

    let mut tar = RawTar::default();
    tar.add(Entry::hardlink("h", "not/here"));
    assert_refused(
        &tar.bytes(),
        "h",
        Refusal::HardlinkMissing("not/here".into()),
        &outside,
    );

    // Relative symlinks that stay inside are fine, however deep.
    let mut tar = RawTar::default();
    tar.add(Entry::dir("usr/lib/"))
        .add(Entry::symlink("usr/lib/x", "../../etc/x"));
    apply(&tmp.path().join("fine"), &tar.bytes()).unwrap();
}

#[test]
fn broken_streams_leave_nothing() {
    require_root();
    let tar = sample_layer();
    let gz = gzip(&tar);
    let mut corrupt = gz.clone();
    let middle = corrupt.len() / 2;
    for byte in &mut corrupt[middle..middle + 16] {
        *byte ^= 0x5a;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated gzip", gz[..gz.len() / 2].to_vec()),
        ("corrupt gzip", corrupt),
        ("gzip without its trailer", gz[..gz.len() - 4].to_vec()),
        ("truncated zstd", {
            let z = zstd(&tar);
            z[..z.len() / 2].to_vec()
        }),
        ("tar cut inside a file", tar[..512 * 3 + 5].to_vec()),
        ("not a tar", b"hello, this is not a tar archive at all".repeat(20)),
    ];
    for (what, bytes) in cases {
        let tmp = temp_dir();
        let dest = tmp.path().join("layer");
        let err = apply(&dest, &bytes).expect_err(what);
        assert!(matches!(err, LayerError::Read(_)), "{what}: {err}");
        assert!(!dest.exists(), "{what}");
        assert!(
            listing(tmp.path()).is_empty(),
            "{what}: left {:?}",
            listing(tmp.path())
        );
    }
}

#[test]
fn refuses_an_existing_destination() {
    require_root();
    let tmp = temp_dir();
    let dest = tmp.path().join("layer");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("mine"), b"keep").unwrap();
    let err = apply(&dest, &sample_layer()).unwrap_err();
    assert!(matches!(err, LayerError::DestinationExists(_)), "{err}");
    assert_eq!(listing(&dest), vec![std::ffi::OsString::from("mine")]);
    assert_eq!(listing(tmp.path()), vec![std::ffi::OsString::from("layer")]);
}
