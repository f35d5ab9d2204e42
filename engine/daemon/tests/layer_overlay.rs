//! Overlay mounts on the real kernel (as root): a container's writes land in the upper dir,
//! `diff_layer` turns them into a layer that `apply_layer` unpacks back to the same tree,
//! and `changes` reports them as `docker diff` does.

mod layer_support;

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use berthd::layer::{
    LayerError, apply_layer, changes, diff_layer, mount_overlay, mount_overlay_readonly, unmount,
};
use layer_support::{
    Entry, MountGuard, RawTar, SnapshotOptions, is_mounted, require_root, snapshot, temp_dir,
};
use tar::EntryType;

const WITH_DIR_TIMES: SnapshotOptions = SnapshotOptions { dir_mtimes: true };

/// The image's layer: what the container starts from.
fn base_layer() -> Vec<u8> {
    let mut tar = RawTar::default();
    tar.add(Entry::dir("bin/"))
        .add(Entry {
            mode: 0o755,
            ..Entry::file("bin/busybox", b"#!busybox")
        })
        .add(Entry::symlink("bin/sh", "busybox"))
        .add(Entry::dir("etc/"))
        .add(Entry::file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"))
        .add(Entry::file("etc/hostname", b"base\n"))
        .add(Entry::file("etc/keep", b"keep me\n"))
        .add(Entry::dir("data/"))
        .add(Entry::file("data/a", b"a"))
        .add(Entry::dir("data/sub/"))
        .add(Entry::file("data/sub/b", b"b"))
        .add(Entry::dir("old/"))
        .add(Entry::file("old/x", b"x"))
        .add(Entry::dir("var/log/"))
        .add(Entry::file("var/log/app.log", b"start\n"))
        .add(Entry {
            uid: 1000,
            gid: 1000,
            mode: 0o700,
            ..Entry::dir("home/user/")
        })
        .add(Entry::file("chmod-me", b"c"))
        .add(Entry::file("chown-me", b"c"))
        .add(Entry {
            device: Some((1, 3)),
            mode: 0o666,
            ..Entry::new("dev/null", EntryType::Char)
        });
    tar.bytes()
}

fn long_dir() -> String {
    "d".repeat(120)
}

fn long_file() -> String {
    "f".repeat(90)
}

/// What a container does: create, change, delete files, and recreate a directory (opaque).
fn change_through(merged: &Path) {
    let m = |p: &str| merged.join(p);
    fs::write(m("new.txt"), b"new file\n").unwrap();
    rustix::fs::setxattr(m("new.txt"), "user.note", b"hi", rustix::fs::XattrFlags::empty()).unwrap();
    fs::hard_link(m("new.txt"), m("new-link.txt")).unwrap();
    fs::write(m("etc/hostname"), b"changed\n").unwrap();
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(m("var/log/app.log"))
        .unwrap();
    std::io::Write::write_all(&mut log, b"more\n").unwrap();
    // Opened for writing but not written: copied up, unchanged.
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(0)
        .open(m("etc/passwd"))
        .unwrap();
    fs::remove_file(m("etc/keep")).unwrap();
    fs::remove_dir_all(m("old")).unwrap();
    fs::remove_dir_all(m("data")).unwrap();
    fs::create_dir(m("data")).unwrap();
    fs::write(m("data/new"), b"n").unwrap();
    fs::set_permissions(m("chmod-me"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(m("chown-me"), Some(1000), Some(1000)).unwrap();
    fs::create_dir_all(m("newdir/deeper")).unwrap();
    fs::write(m("newdir/deeper/f"), b"f").unwrap();
    // A file capability (`cap_net_raw+ep`): binary xattr values travel too.
    let net_raw = [1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    rustix::fs::setxattr(
        m("newdir/deeper/f"),
        "security.capability",
        &net_raw,
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    fs::create_dir(m(&format!("newdir/{}", long_dir()))).unwrap();
    fs::write(m(&format!("newdir/{}/{}", long_dir(), long_file())), b"long").unwrap();
    symlink("etc/hostname", m("newlink")).unwrap();
    nix::unistd::mkfifo(&m("newfifo"), nix::sys::stat::Mode::from_bits_truncate(0o640)).unwrap();
    nix::sys::stat::mknod(
        &m("newdev"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        nix::sys::stat::makedev(1, 5),
    )
    .unwrap();
}

struct Container {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    lower: PathBuf,
    upper: PathBuf,
}

/// Unpack the base layer, mount it under an upper dir, make the changes, unmount.
/// Returns the merged view as the container saw it.
fn run_container() -> (
    Container,
    std::collections::BTreeMap<PathBuf, layer_support::Node>,
) {
    let tmp = temp_dir();
    let root = tmp.path().to_owned();
    let lower = root.join("lower");
    apply_layer(&lower, &base_layer()[..]).unwrap();
    let (upper, work, merged) = (root.join("upper"), root.join("work"), root.join("merged"));
    for dir in [&upper, &work, &merged] {
        fs::create_dir(dir).unwrap();
    }
    mount_overlay(std::slice::from_ref(&lower), &upper, &work, &merged).unwrap();
    let guard = MountGuard(merged.clone());
    assert!(is_mounted(&merged));
    change_through(&merged);
    let seen = snapshot(&merged, &WITH_DIR_TIMES);
    guard.unmount();
    assert!(!is_mounted(&merged));
    (
        Container {
            _tmp: tmp,
            root,
            lower,
            upper,
        },
        seen,
    )
}

#[test]
fn diff_then_apply_gives_back_the_upper_dir() {
    require_root();
    let (container, merged_view) = run_container();
    let upper_tree = snapshot(&container.upper, &WITH_DIR_TIMES);
    // The upper dir holds what a container's writes leave: check the overlay forms are there.
    assert_eq!(upper_tree[Path::new("etc/keep")].kind, "whiteout");
    assert_eq!(upper_tree[Path::new("old")].kind, "whiteout");
    assert_eq!(
        upper_tree[Path::new("data")]
            .xattrs
            .get(&OsString::from("trusted.overlay.opaque"))
            .unwrap(),
        b"y"
    );

    let mut tar = Vec::new();
    let stats = diff_layer(&container.upper, &mut tar).unwrap();
    assert_eq!((stats.whiteouts, stats.opaque_dirs), (2, 1));
    let applied_dir = container.root.join("committed");
    let applied = apply_layer(&applied_dir, &tar[..]).unwrap();
    assert_eq!(applied.diff_id, berthd::digest::Digest::of(&tar));
    assert_eq!(snapshot(&applied_dir, &WITH_DIR_TIMES), upper_tree);
    let f = &upper_tree[Path::new("newdir/deeper/f")];
    assert!(
        f.xattrs.contains_key(&OsString::from("security.capability")),
        "the test sets a capability"
    );
    let ino = |p: &str| fs::symlink_metadata(applied_dir.join(p)).unwrap().ino();
    assert_eq!(ino("new.txt"), ino("new-link.txt"), "hardlinks stay hardlinks");

    // Deterministic: the same upper dir gives the same bytes.
    let mut again = Vec::new();
    diff_layer(&container.upper, &mut again).unwrap();
    assert_eq!(tar, again);

    // Stacked on the image layer, the committed layer shows what the container saw.
    let view = container.root.join("view");
    fs::create_dir(&view).unwrap();
    mount_overlay_readonly(&[applied_dir.clone(), container.lower.clone()], &view).unwrap();
    let guard = MountGuard(view.clone());
    assert_eq!(snapshot(&view, &WITH_DIR_TIMES), merged_view);
    let write = fs::write(view.join("etc/hostname"), b"no");
    assert_eq!(write.unwrap_err().raw_os_error(), Some(libc::EROFS));
    guard.unmount();
}

#[test]
fn diff_writes_dockers_tar_form() {
    require_root();
    let (container, _) = run_container();
    let mut tar = Vec::new();
    diff_layer(&container.upper, &mut tar).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let header = entry.header().clone();
        if name.ends_with(".wh.keep") {
            assert_eq!(
                (
                    header.entry_type(),
                    header.mode().unwrap(),
                    header.size().unwrap()
                ),
                (EntryType::Regular, 0o600, 0)
            );
        }
        if name == "data/.wh..wh..opq" {
            assert_eq!((header.mode().unwrap(), header.mtime().unwrap()), (0o755, 0));
        }
        if name == "new.txt" {
            // Its first name (in sorted order) carries the content; this one links to it.
            assert_eq!(header.entry_type(), EntryType::Link);
            assert_eq!(entry.link_name_bytes().unwrap().as_ref(), b"new-link.txt");
        }
        if name == "new-link.txt" {
            let xattrs: Vec<(String, Vec<u8>)> = entry
                .pax_extensions()
                .unwrap()
                .unwrap()
                .map(|r| r.unwrap())
                .map(|r| (r.key().unwrap().to_owned(), r.value_bytes().to_vec()))
                .collect();
            assert_eq!(
                xattrs,
                vec![("SCHILY.xattr.user.note".to_owned(), b"hi".to_vec())]
            );
        }
        names.push(name);
    }
    let long = format!("newdir/{}/", long_dir());
    let expected = [
        "chmod-me",
        "chown-me",
        "data/",
        "data/.wh..wh..opq",
        "data/new",
        "etc/",
        "etc/hostname",
        "etc/.wh.keep",
        "etc/passwd",
        "new-link.txt",
        "new.txt",
        "newdev",
        "newdir/",
        &long,
        &format!("{long}{}", long_file()),
        "newdir/deeper/",
        "newdir/deeper/f",
        "newfifo",
        "newlink",
        ".wh.old",
        "var/",
        "var/log/",
        "var/log/app.log",
    ];
    // Depth first, each directory's children sorted by their name on disk (a whiteout by the
    // name it deletes), an opaque marker right after its directory.
    assert_eq!(names, expected);
    assert!(names.iter().all(|n| !n.starts_with('/') && !n.starts_with("./")));
}

#[test]
fn changes_read_like_docker_diff() {
    require_root();
    let (container, _) = run_container();
    let lines: Vec<String> = changes(&container.upper, &[&container.lower])
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let long = format!("/newdir/{}", long_dir());
    let expected = [
        "C /chmod-me",
        "C /chown-me",
        "C /data",
        "D /data/a",
        "A /data/new",
        "D /data/sub",
        "C /etc",
        "C /etc/hostname",
        "D /etc/keep",
        "A /new-link.txt",
        "A /new.txt",
        "A /newdev",
        "A /newdir",
        &format!("A {long}"),
        &format!("A {long}/{}", long_file()),
        "A /newdir/deeper",
        "A /newdir/deeper/f",
        "A /newfifo",
        "A /newlink",
        "D /old",
        "C /var",
        "C /var/log",
        "C /var/log/app.log",
    ];
    assert_eq!(lines, expected);
}

#[test]
fn changes_follow_overlay_rules_across_layers() {
    require_root();
    // Two image layers: the top one deletes /gone and makes /d opaque (keeping only d/top).
    let tmp = temp_dir();
    let bottom = tmp.path().join("bottom");
    let mut tar = RawTar::default();
    tar.add(Entry::file("gone", b"g"))
        .add(Entry::dir("d/"))
        .add(Entry::file("d/old1", b"1"))
        .add(Entry::file("d/old2", b"2"))
        .add(Entry::dir("e/"))
        .add(Entry::file("e/deep", b"e"));
    apply_layer(&bottom, &tar.bytes()[..]).unwrap();
    let top = tmp.path().join("top");
    let mut tar = RawTar::default();
    tar.add(Entry::file(".wh.gone", b""))
        .add(Entry::dir("d/"))
        .add(Entry::file("d/.wh..wh..opq", b""))
        .add(Entry::file("d/top", b"t"))
        .add(Entry::file("e/.wh.deep", b""));
    apply_layer(&top, &tar.bytes()[..]).unwrap();

    // A crafted upper dir: /gone recreated (added: the top layer deleted it), /d recreated
    // again (only d/top is deleted: old1 and old2 were hidden already), /e/deep recreated.
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("d")).unwrap();
    fs::create_dir_all(upper.join("e")).unwrap();
    fs::write(upper.join("gone"), b"again").unwrap();
    fs::write(upper.join("e/deep"), b"again").unwrap();
    rustix::fs::setxattr(
        upper.join("d"),
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    fs::write(upper.join("d/mine"), b"m").unwrap();

    let lines: Vec<String> = changes(&upper, &[&top, &bottom])
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        lines,
        ["C /d", "A /d/mine", "D /d/top", "C /e", "A /e/deep", "A /gone"]
    );
}

#[test]
fn many_layers_mount_with_relative_paths() {
    require_root();
    let tmp = temp_dir();
    let layers = tmp.path().join("layers");
    fs::create_dir(&layers).unwrap();
    // Store-like paths: <64 hex>/diff. 50 of them do not fit in a page as absolute paths.
    let mut lowers = Vec::new();
    for n in 0..50 {
        let dir = layers.join(format!("{:064x}", n)).join("diff");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("layer-{n}")), format!("{n}")).unwrap();
        fs::write(dir.join("top"), format!("{n}")).unwrap();
        lowers.push(dir);
    }
    lowers.reverse(); // top first: layer 49 is on top
    let absolute_len: usize = lowers.iter().map(|l| l.as_os_str().len() + 1).sum();
    assert!(
        absolute_len > 4096,
        "the test must exceed a page ({absolute_len} bytes)"
    );

    let (upper, work, merged) = (
        tmp.path().join("upper"),
        tmp.path().join("work"),
        tmp.path().join("merged"),
    );
    for dir in [&upper, &work, &merged] {
        fs::create_dir(dir).unwrap();
    }
    let cwd = std::env::current_dir().unwrap();
    mount_overlay(&lowers, &upper, &work, &merged).unwrap();
    let guard = MountGuard(merged.clone());
    assert_eq!(
        std::env::current_dir().unwrap(),
        cwd,
        "the process kept its working directory"
    );
    assert_eq!(fs::read_to_string(merged.join("top")).unwrap(), "49");
    for n in 0..50 {
        assert_eq!(
            fs::read_to_string(merged.join(format!("layer-{n}"))).unwrap(),
            n.to_string()
        );
    }
    fs::write(merged.join("written"), b"w").unwrap();
    assert!(upper.join("written").exists());
    guard.unmount();

    // Far too many for a page even when relative: refused with the numbers.
    let too_many: Vec<PathBuf> = lowers.iter().cycle().take(100).cloned().collect();
    let err = mount_overlay(&too_many, &upper, &work, &merged).unwrap_err();
    assert!(
        matches!(err, LayerError::TooManyLayers { layers: 100, .. }),
        "{err}"
    );
    assert!(!is_mounted(&merged));
}

#[test]
fn read_only_views_of_one_and_no_layers() {
    require_root();
    let tmp = temp_dir();
    let lower = tmp.path().join("lower");
    apply_layer(&lower, &base_layer()[..]).unwrap();
    let view = tmp.path().join("view");
    fs::create_dir(&view).unwrap();

    mount_overlay_readonly(std::slice::from_ref(&lower), &view).unwrap();
    let guard = MountGuard(view.clone());
    assert_eq!(
        snapshot(&view, &WITH_DIR_TIMES),
        snapshot(&lower, &WITH_DIR_TIMES)
    );
    let err = fs::write(view.join("etc/hostname"), b"no").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    guard.unmount();
    assert!(!is_mounted(&view));

    let err = mount_overlay_readonly(&[], &view).unwrap_err();
    assert!(matches!(err, LayerError::NoLowerLayers(_)), "{err}");
    let err = unmount(&view).unwrap_err();
    assert!(matches!(err, LayerError::Unmount { .. }), "{err}");
}
