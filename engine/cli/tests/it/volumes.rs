//! Volumes and bind mounts (issue 5): the guide's volume lab as written, named and anonymous
//! volumes, copy-up, every mount form (`-v`, `--mount`, `--tmpfs`, `--volumes-from`,
//! `--read-only`), `rm -v` and `--rm`, the `volume` commands and their errors, mount targets
//! that are symlinks (runc's CVE-2021-30465), and the explain events of mounts.
//!
//! Where Docker 20.10's output matters, the expected text is what the real docker printed here
//! for the same commands (noted beside each assertion).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempDir, TestDaemon, docker, docker_ok, stand_in_images, unique_name};
use crate::containers_common::mounts_mentioning;
use crate::network_common::{free_port, wait_http};

/// A daemon with the lab images.
fn daemon() -> TestDaemon {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon
}

/// `berth inspect -f FORMAT NAME`, trimmed.
fn inspect(daemon: &TestDaemon, format: &str, name: &str) -> String {
    daemon.ok(&["inspect", "-f", format, name]).trim().to_owned()
}

/// `berth volume inspect -f '{{.Mountpoint}}' NAME` as a path (the guide's way to find it).
fn mountpoint(daemon: &TestDaemon, volume: &str) -> PathBuf {
    PathBuf::from(
        daemon
            .ok(&["volume", "inspect", "-f", "{{ .Mountpoint }}", volume])
            .trim(),
    )
}

/// The names `volume ls -q` lists.
fn volume_names(daemon: &TestDaemon) -> Vec<String> {
    daemon
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The container's `.Mounts` as JSON values.
fn mounts_of(daemon: &TestDaemon, container: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&inspect(daemon, "{{json .Mounts}}", container)).expect("Mounts as JSON")
}

/// The one mount of `container` at `destination`.
fn mount_at(daemon: &TestDaemon, container: &str, destination: &str) -> serde_json::Value {
    mounts_of(daemon, container)
        .into_iter()
        .find(|m| m["Destination"] == destination)
        .unwrap_or_else(|| panic!("{container} has no mount at {destination}"))
}

/// Wait (a few seconds at most) until `done` holds; `--rm` removes a container as it exits,
/// just after `stop` returns.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `curl` over the daemon's socket: (HTTP status, body), for the API's status codes.
fn api(daemon: &TestDaemon, method: &str, path: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-X", method, "-w", "\n%{http_code}", "--unix-socket"])
        .arg(&daemon.socket)
        .arg(format!("http://localhost/v1.41{path}"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("curl printed the status");
    // Both engines end a JSON body with a newline: compare without it.
    (status.parse().expect("a status code"), body.trim_end().to_owned())
}

/// Mount points under the daemon's roots, for the no-leak checks.
fn mounts_under(daemon: &TestDaemon) -> Vec<String> {
    mounts_mentioning(&format!("{}/", daemon.root.display()))
}

/// Every regular file under `dir`, relative path → bytes.
fn files_in(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read a directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, files);
            } else {
                let relative = path.strip_prefix(base).unwrap().to_owned();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// One entry of a test image's root file system.
enum Entry<'a> {
    Dir {
        path: &'a str,
        mode: u32,
        owner: u32,
    },
    File {
        path: &'a str,
        mode: u32,
        owner: u32,
        content: &'a str,
    },
    Symlink {
        path: &'a str,
        target: &'a str,
    },
}

/// Import a tiny image: the host's static busybox as `/bin/busybox`, with the applets the tests
/// use, plus `entries`, with `changes` (`-c`) such as `VOLUME /data`.
fn import_image(daemon: &TestDaemon, reference: &str, entries: &[Entry], changes: &[&str]) {
    let mut builder = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, owner: u32, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(owner.into());
        header.set_gid(owner.into());
        header.set_size(size);
        header.set_mtime(1_600_000_000);
        header
    };
    builder
        .append_data(
            &mut header(tar::EntryType::Directory, 0o755, 0, 0),
            "bin/",
            std::io::empty(),
        )
        .unwrap();
    builder
        .append_path_with_name("/bin/busybox", "bin/busybox")
        .expect("the host's busybox-static (apt-get install busybox-static)");
    for applet in ["sh", "cat", "ls", "grep", "cut", "touch", "true"] {
        builder
            .append_link(
                &mut header(tar::EntryType::Symlink, 0o777, 0, 0),
                format!("bin/{applet}"),
                "busybox",
            )
            .unwrap();
    }
    for entry in entries {
        match entry {
            Entry::Dir { path, mode, owner } => builder.append_data(
                &mut header(tar::EntryType::Directory, *mode, *owner, 0),
                format!("{path}/"),
                std::io::empty(),
            ),
            Entry::File {
                path,
                mode,
                owner,
                content,
            } => builder.append_data(
                &mut header(tar::EntryType::Regular, *mode, *owner, content.len() as u64),
                path,
                content.as_bytes(),
            ),
            Entry::Symlink { path, target } => {
                builder.append_link(&mut header(tar::EntryType::Symlink, 0o777, 0, 0), path, target)
            }
        }
        .unwrap();
    }
    let dir = TempDir::new("berth-volume-image");
    let tar_path = dir.0.join("rootfs.tar");
    std::fs::write(&tar_path, builder.into_inner().unwrap()).unwrap();
    let mut args = vec!["import"];
    for change in changes {
        args.extend(["-c", change]);
    }
    args.extend([tar_path.to_str().unwrap(), reference]);
    daemon.ok(&args);
}

/// The guide's lab, first half: `docker volume ls`; a database with the anonymous volume its
/// image asks for, found in `inspect`'s Mounts (piped to `python -m json.tool` as the guide
/// does); a second one run with `--rm`, whose volume goes when it stops.
#[test]
fn guide_lab_database_volumes() {
    let daemon = daemon();
    // Docker 20.10 prints the header alone when there are no volumes.
    assert_eq!(daemon.ok(&["volume", "ls"]), "DRIVER    VOLUME NAME\n");

    daemon.ok(&["run", "-d", "--name", "db1", "postgres:12.1"]);
    let json = daemon.ok(&["inspect", "db1", "-f", "{{ json .Mounts }}"]);
    let name = mounts_of(&daemon, "db1")[0]["Name"].as_str().unwrap().to_owned();
    assert!(
        name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()),
        "an anonymous volume has a 64-hex name: {name}"
    );
    // Docker's exact shape: these keys in this order, a volume's Mode and Propagation empty.
    let source = daemon.data_root().join(format!("volumes/{name}/_data"));
    assert_eq!(
        json,
        format!(
            "[{{\"Type\":\"volume\",\"Name\":\"{name}\",\"Source\":\"{}\",\"Destination\":\"/var/lib/postgresql/data\",\"Driver\":\"local\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"\"}}]\n",
            source.display()
        )
    );
    let mut python = Command::new("python3")
        .args(["-m", "json.tool"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3 (apt-get install python3)");
    python.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
    let pretty = String::from_utf8(python.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        pretty.contains("        \"Destination\": \"/var/lib/postgresql/data\",\n"),
        "{pretty}"
    );
    assert!(source.is_dir(), "the volume lives under the data root");
    assert_eq!(
        daemon.ok(&["volume", "ls"]),
        format!("DRIVER    VOLUME NAME\nlocal     {name}\n")
    );

    daemon.ok(&["run", "-d", "--rm", "--name", "dbTmp", "postgres:12.1"]);
    let tmp_volume = mount_at(&daemon, "dbTmp", "/var/lib/postgresql/data")["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(volume_names(&daemon).len(), 2);
    daemon.ok(&["stop", "dbTmp"]);
    eventually("dbTmp's removal", || {
        daemon.output(&["inspect", "dbTmp"]).status.code() == Some(1)
    });
    eventually("the removal of dbTmp's volume", || {
        volume_names(&daemon) == [name.clone()]
    });
    assert!(!daemon.data_root().join(format!("volumes/{tmp_volume}")).exists());
    // db1 is still running on its own volume.
    assert_eq!(inspect(&daemon, "{{.State.Status}}", "db1"), "running");
}

/// The guide's lab, second half: a `website` volume filled through its Mountpoint and served
/// read-only by two httpd containers; `--rm` leaves a named volume; `volume prune`; a tar backup
/// restored into a new volume with the same bytes.
#[test]
fn guide_lab_website_volume_shared_read_only_pruned_and_backed_up() {
    let daemon = daemon();
    assert_eq!(daemon.ok(&["volume", "create", "website"]), "website\n");
    let data = mountpoint(&daemon, "website");
    assert_eq!(data, daemon.data_root().join("volumes/website/_data"));
    std::fs::create_dir_all(data.join("css")).unwrap();
    std::fs::write(
        data.join("index.html"),
        "<html><title>Widget Factory Inc.</title></html>\n",
    )
    .unwrap();
    std::fs::write(data.join("products.html"), "widgets\n").unwrap();
    std::fs::write(data.join("css/style.css"), "body { color: teal }\n").unwrap();

    let port = free_port();
    let publish = format!("{port}:80");
    let htdocs = "website:/usr/local/apache2/htdocs:ro";
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web1",
        "-p",
        &publish,
        "-v",
        htdocs,
        "httpd:2.4",
    ]);
    daemon.ok(&["run", "-d", "--rm", "--name", "webTmp", "-v", htdocs, "httpd:2.4"]);
    for web in ["web1", "webTmp"] {
        let mount = mount_at(&daemon, web, "/usr/local/apache2/htdocs");
        assert_eq!(
            (&mount["Type"], &mount["Name"], &mount["RW"], &mount["Mode"]),
            (&"volume".into(), &"website".into(), &false.into(), &"ro".into())
        );
    }
    let page = wait_http(([127, 0, 0, 1], port).into());
    assert!(page.contains("Widget Factory Inc."), "{page}");
    // The guide's look inside: the files are there, and the mount is read-only.
    let listing = daemon.ok(&["exec", "webTmp", "ls", "htdocs"]);
    assert_eq!(listing, "css\nindex.html\nproducts.html\n");
    let refused = daemon.output(&[
        "exec",
        "webTmp",
        "sh",
        "-c",
        "echo defaced > /usr/local/apache2/htdocs/index.html",
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Read-only file system"),
        "{refused:?}"
    );
    assert!(wait_http(([127, 0, 0, 1], port).into()).contains("Widget Factory Inc."));

    // --rm takes only anonymous volumes: website stays (and web1 still uses it).
    daemon.ok(&["stop", "webTmp"]);
    eventually("webTmp's removal", || {
        daemon.output(&["inspect", "webTmp"]).status.code() == Some(1)
    });
    assert_eq!(volume_names(&daemon), ["website"]);
    assert!(data.join("index.html").exists());

    // prune asks first; `y` confirms. Only what no container uses goes.
    daemon.ok(&["volume", "create", "scratch"]);
    let mut prune = daemon
        .berth()
        .args(["volume", "prune"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    prune.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let pruned = prune.wait_with_output().unwrap();
    assert!(pruned.status.success());
    assert_eq!(
        String::from_utf8_lossy(&pruned.stdout),
        "WARNING! This will remove all local volumes not used by at least one container.\n\
         Are you sure you want to continue? [y/N] Deleted Volumes:\nscratch\n\nTotal reclaimed space: 0B\n"
    );
    assert_eq!(volume_names(&daemon), ["website"]);

    // A backup with tar from the host, restored into a new volume by a container.
    let backup = TempDir::new("berth-volume-backup");
    let archive = backup.0.join("website.tgz");
    let tar = Command::new("tar")
        .arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(&data)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    let backup_mount = format!("{}:/backup:ro", backup.0.display());
    daemon.ok(&[
        "run",
        "--rm",
        "-v",
        "restored:/restore",
        "-v",
        &backup_mount,
        "busybox",
        "tar",
        "xzf",
        "/backup/website.tgz",
        "-C",
        "/restore",
    ]);
    let restored = files_in(&mountpoint(&daemon, "restored"));
    assert_eq!(restored.len(), 3, "{:?}", restored.keys());
    assert_eq!(restored, files_in(&data), "the same bytes");
}

/// A new, empty volume mounted over an image directory gets the image's files, modes and owners
/// (for a VOLUME, `-v name:`, `--mount`); `nocopy` and `volume-nocopy` turn that off, a volume
/// with files in it is never overwritten, and a bind mount never gets a copy.
#[test]
fn copy_up_fills_a_new_volume_with_the_image_files_unless_nocopy() {
    let daemon = daemon();
    import_image(
        &daemon,
        "seeded:1",
        &[
            Entry::Dir {
                path: "data",
                mode: 0o750,
                owner: 999,
            },
            Entry::File {
                path: "data/seed.txt",
                mode: 0o640,
                owner: 999,
                content: "seeded by the image\n",
            },
            Entry::Dir {
                path: "data/sub",
                mode: 0o700,
                owner: 0,
            },
            Entry::File {
                path: "data/sub/deep.txt",
                mode: 0o600,
                owner: 0,
                content: "deep\n",
            },
            Entry::Symlink {
                path: "data/link",
                target: "seed.txt",
            },
        ],
        &["VOLUME /data"],
    );
    let seed = |volume: &str| mountpoint(&daemon, volume).join("seed.txt");

    // The image's VOLUME: an anonymous volume, filled.
    daemon.ok(&["create", "--name", "anon", "seeded:1", "true"]);
    let anon = mount_at(&daemon, "anon", "/data")["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    daemon.ok(&["start", "anon"]);
    let dir = mountpoint(&daemon, &anon);
    assert_eq!(
        std::fs::read_to_string(seed(&anon)).unwrap(),
        "seeded by the image\n"
    );
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (999, 999, 0o750));
    let file = std::fs::metadata(seed(&anon)).unwrap();
    assert_eq!((file.uid(), file.mode() & 0o7777), (999, 0o640));
    assert_eq!(
        std::fs::read_to_string(dir.join("sub/deep.txt")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_link(dir.join("link")).unwrap(),
        Path::new("seed.txt")
    );

    // A named volume by -v and by --mount: filled; the container sees the files.
    let seen = daemon.ok(&[
        "run",
        "--rm",
        "-v",
        "named:/data",
        "seeded:1",
        "cat",
        "/data/seed.txt",
    ]);
    assert_eq!(seen, "seeded by the image\n");
    assert!(seed("named").exists());
    daemon.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=mounted,target=/data",
        "seeded:1",
        "true",
    ]);
    assert!(seed("mounted").exists());

    // A volume that has files keeps them: no second copy over the user's data.
    std::fs::write(seed("named"), "changed by the user\n").unwrap();
    std::fs::remove_file(mountpoint(&daemon, "named").join("sub/deep.txt")).unwrap();
    let seen = daemon.ok(&[
        "run",
        "--rm",
        "-v",
        "named:/data",
        "seeded:1",
        "cat",
        "/data/seed.txt",
    ]);
    assert_eq!(seen, "changed by the user\n");
    assert!(!mountpoint(&daemon, "named").join("sub/deep.txt").exists());

    // nocopy (-v) and volume-nocopy (--mount): the volume stays empty.
    let listing = daemon.ok(&[
        "run",
        "--rm",
        "-v",
        "bare:/data:nocopy",
        "seeded:1",
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!(listing, "");
    daemon.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=bare2,target=/data,volume-nocopy",
        "seeded:1",
        "true",
    ]);
    for bare in ["bare", "bare2"] {
        assert_eq!(
            std::fs::read_dir(mountpoint(&daemon, bare)).unwrap().count(),
            0,
            "{bare} got a copy"
        );
    }

    // A bind mount shows the host directory as it is.
    let host = TempDir::new("berth-volume-bind");
    let bind = format!("{}:/data", host.0.display());
    assert_eq!(
        daemon.ok(&["run", "--rm", "-v", &bind, "seeded:1", "ls", "-A", "/data"]),
        ""
    );
    assert_eq!(std::fs::read_dir(&host.0).unwrap().count(), 0);
}

/// `-v /host/path:…` creates a missing host directory (and its parents), as Docker does;
/// `--mount type=bind` refuses a missing source; binds are rprivate and writable unless `:ro`.
#[test]
fn bind_mounts_create_a_missing_host_dir_only_with_v() {
    let daemon = daemon();
    let host = TempDir::new("berth-volume-bind");
    let missing = host.0.join("made/by/v");
    let spec = format!("{}:/data", missing.display());
    daemon.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo from the container > /data/out",
    ]);
    assert!(missing.is_dir());
    assert_eq!(
        std::fs::read_to_string(missing.join("out")).unwrap(),
        "from the container\n"
    );
    // Docker 20.10: [{"Type":"bind","Source":"…","Destination":"/data","Mode":"","RW":true,"Propagation":"rprivate"}]
    assert_eq!(
        inspect(&daemon, "{{json .Mounts}}", "writer"),
        format!(
            "[{{\"Type\":\"bind\",\"Source\":\"{}\",\"Destination\":\"/data\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"rprivate\"}}]",
            missing.display()
        )
    );

    let read_only = format!("{}:/data:ro", missing.display());
    let refused = daemon.output(&["run", "--rm", "-v", &read_only, "busybox", "touch", "/data/x"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Read-only file system"));

    let absent = host.0.join("absent");
    let mount = format!("type=bind,source={},target=/data", absent.display());
    let (code, stderr) = daemon.fails(&["run", "--rm", "--mount", &mount, "busybox", "true"]);
    // Docker 20.10, exit 125.
    assert_eq!(code, 125);
    assert!(
        stderr.contains(&format!(
            "Error response from daemon: invalid mount config for type \"bind\": bind source path does not exist: {}",
            absent.display()
        )),
        "{stderr}"
    );
    assert!(!absent.exists());
}

/// `--mount` in its three types, with `readonly`, `tmpfs-size` and `tmpfs-mode`, as the kernel
/// sees them inside and as `inspect` shows them (Docker 20.10's entries, verbatim).
#[test]
fn mount_flag_volume_bind_and_tmpfs() {
    let daemon = daemon();
    let host = TempDir::new("berth-volume-mount");
    std::fs::write(host.0.join("hello"), "from the host\n").unwrap();
    let bind = format!("type=bind,src={},dst=/h", host.0.display());
    let script = "grep -E ' /(m|t|h) ' /proc/mounts | cut -d' ' -f2-4; cat /h/hello; \
                  touch /m/x 2>&1; touch /t/x && echo tmpfs writable";
    let output = daemon.ok(&[
        "run",
        "--name",
        "mounted",
        "--mount",
        "type=volume,source=mvol,target=/m,readonly",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=0700",
        "--mount",
        &bind,
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let lines: Vec<&str> = output.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("/m ") && l.contains(" ro,")),
        "{output}"
    );
    assert!(
        lines.contains(&"/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700"),
        "{output}"
    );
    assert!(output.contains("from the host\n"), "{output}");
    assert!(output.contains("touch: /m/x: Read-only file system"), "{output}");
    assert!(output.contains("tmpfs writable"), "{output}");

    // Docker 20.10 sorts them by destination; a --mount volume's Mode is "z".
    let source = daemon.data_root().join("volumes/mvol/_data");
    assert_eq!(
        inspect(&daemon, "{{json .Mounts}}", "mounted"),
        format!(
            "[{{\"Type\":\"bind\",\"Source\":\"{}\",\"Destination\":\"/h\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"rprivate\"}},\
             {{\"Type\":\"volume\",\"Name\":\"mvol\",\"Source\":\"{}\",\"Destination\":\"/m\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":false,\"Propagation\":\"\"}},\
             {{\"Type\":\"tmpfs\",\"Source\":\"\",\"Destination\":\"/t\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"\"}}]",
            host.0.display(),
            source.display()
        )
    );

    // readonly on a tmpfs.
    let output = daemon.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,readonly",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts | cut -d' ' -f4; touch /t/x 2>&1; true",
    ]);
    assert_eq!(
        output,
        "ro,nosuid,nodev,noexec,relatime\ntouch: /t/x: Read-only file system\n"
    );
}

/// `--tmpfs /path:opts`: a tmpfs with Docker's options; not a `.Mounts` entry (Docker lists it
/// only under HostConfig.Tmpfs).
#[test]
fn tmpfs_flag_mounts_a_tmpfs_with_its_options() {
    let daemon = daemon();
    let output = daemon.ok(&[
        "run",
        "--name",
        "tmp",
        "--tmpfs",
        "/run:size=1m,mode=1770",
        "busybox",
        "sh",
        "-c",
        "grep ' /run ' /proc/mounts",
    ]);
    // Docker 20.10: tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770 0 0
    assert_eq!(
        output,
        "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770 0 0\n"
    );
    assert_eq!(
        inspect(&daemon, "{{json .Mounts}} {{json .HostConfig.Tmpfs}}", "tmp"),
        r#"[] {"/run":"size=1m,mode=1770"}"#
    );
}

/// `--volumes-from C` takes C's volumes and binds with their modes; `:ro` makes them read-only.
/// Docker 20.10 leaves a copied mount's Mode empty.
#[test]
fn volumes_from_shares_mounts_and_ro_makes_them_read_only() {
    let daemon = daemon();
    let host = TempDir::new("berth-volume-from");
    let bind = format!("{}:/h", host.0.display());
    daemon.ok(&[
        "create",
        "--name",
        "source",
        "-v",
        "shared:/data",
        "-v",
        "/anon",
        "-v",
        &bind,
        "busybox",
    ]);
    daemon.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "source",
        "busybox",
        "sh",
        "-c",
        "echo written > /data/f && echo bound > /h/f && touch /anon/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(mountpoint(&daemon, "shared").join("f")).unwrap(),
        "written\n"
    );
    assert_eq!(std::fs::read_to_string(host.0.join("f")).unwrap(), "bound\n");

    daemon.ok(&[
        "create",
        "--name",
        "reader",
        "--volumes-from",
        "source:ro",
        "busybox",
    ]);
    let mounts = mounts_of(&daemon, "reader");
    assert_eq!(mounts.len(), 3, "{mounts:?}");
    for mount in &mounts {
        assert_eq!(
            (&mount["RW"], &mount["Mode"]),
            (&false.into(), &"".into()),
            "{mount}"
        );
    }
    assert_eq!(mounts, {
        let mut expected = mounts_of(&daemon, "source");
        for m in &mut expected {
            m["RW"] = false.into();
            m["Mode"] = "".into();
        }
        expected
    });
    let output = daemon.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "source:ro",
        "busybox",
        "sh",
        "-c",
        "cat /data/f; touch /data/g 2>&1; touch /h/g 2>&1; true",
    ]);
    assert_eq!(
        output,
        "written\ntouch: /data/g: Read-only file system\ntouch: /h/g: Read-only file system\n"
    );
    let (code, stderr) = daemon.fails(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(stderr.contains("No such container: nosuch"), "{stderr}");
}

/// `--read-only`: the root is read-only, the volumes stay writable.
#[test]
fn read_only_root_with_a_writable_volume() {
    let daemon = daemon();
    let output = daemon.ok(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        "rw:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f && cat /data/f; touch /etc/x 2>&1; true",
    ]);
    assert_eq!(output, "kept\ntouch: /etc/x: Read-only file system\n");
    assert_eq!(
        std::fs::read_to_string(mountpoint(&daemon, "rw").join("f")).unwrap(),
        "kept\n"
    );
}

/// `rm -v` and `--rm` remove a container's anonymous volumes, never named ones, and not one
/// another container still uses; a container sharing it by `--volumes-from` takes it when it
/// goes last (as Docker 20.10 does).
#[test]
fn rm_v_removes_anonymous_volumes_only() {
    let daemon = daemon();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "r1",
        "-v",
        "named1:/n",
        "-v",
        "/anon",
        "busybox",
        "sleep",
        "60",
    ]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "r2",
        "--volumes-from",
        "r1",
        "busybox",
        "sleep",
        "60",
    ]);
    let anon = mount_at(&daemon, "r1", "/anon")["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut all = vec![anon.clone(), "named1".to_owned()];
    all.sort();
    assert_eq!(volume_names(&daemon), all);
    daemon.ok(&["rm", "-fv", "r1"]);
    assert_eq!(volume_names(&daemon), all, "r2 still uses the anonymous volume");
    daemon.ok(&["rm", "-fv", "r2"]);
    assert_eq!(volume_names(&daemon), ["named1"]);

    // Without -v, the anonymous volume stays.
    daemon.ok(&["run", "--name", "kept", "-v", "/anon", "busybox", "true"]);
    let kept = mount_at(&daemon, "kept", "/anon")["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    daemon.ok(&["rm", "kept"]);
    assert!(volume_names(&daemon).contains(&kept));

    // --rm: the anonymous one goes, the named one stays.
    daemon.ok(&["run", "--rm", "-v", "named2:/n", "-v", "/anon", "busybox", "true"]);
    eventually("--rm's removal", || volume_names(&daemon).len() == 3);
    let mut expected = vec![kept, "named1".to_owned(), "named2".to_owned()];
    expected.sort();
    assert_eq!(volume_names(&daemon), expected);
}

/// `volume rm` of a volume in use: 409 naming the container, with or without `-f` (Docker
/// 20.10 refuses both); an unknown volume: 404 naming it, `-f` ignores it.
#[test]
fn volume_rm_is_refused_while_in_use_even_forced() {
    let daemon = daemon();
    daemon.ok(&["volume", "create", "busy"]);
    let id = daemon
        .ok(&["create", "--name", "user", "-v", "busy:/data", "busybox"])
        .trim()
        .to_owned();
    // Docker 20.10: exit 1, "Error response from daemon: remove vt1: volume is in use - [<full id>]".
    for args in [&["volume", "rm", "busy"][..], &["volume", "rm", "-f", "busy"]] {
        let output = daemon.output(args);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("Error response from daemon: remove busy: volume is in use - [{id}]\n")
        );
    }
    let (status, body) = api(&daemon, "DELETE", "/volumes/busy?force=1");
    assert_eq!(status, 409);
    assert_eq!(
        body,
        format!("{{\"message\":\"remove busy: volume is in use - [{id}]\"}}")
    );
    assert_eq!(volume_names(&daemon), ["busy"]);

    // Unknown: Docker 20.10's CLI says "Error: No such volume", exit 1; -f says the name,
    // exit 0. The API answers 404 with the daemon's "get nosuch: no such volume".
    let output = daemon.output(&["volume", "rm", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: No such volume: nosuch\n"
    );
    assert_eq!(daemon.ok(&["volume", "rm", "-f", "nosuch"]), "nosuch\n");
    assert_eq!(
        api(&daemon, "DELETE", "/volumes/nosuch"),
        (404, "{\"message\":\"get nosuch: no such volume\"}".to_owned())
    );

    // Once the container is gone, the volume goes.
    daemon.ok(&["rm", "user"]);
    assert_eq!(daemon.ok(&["volume", "rm", "busy"]), "busy\n");
    assert_eq!(volume_names(&daemon), Vec::<String>::new());
}

/// `volume ls`: `-q`, `--filter dangling|name|label|driver`, `--format` (Docker 20.10's
/// output for the same volumes), and a bad filter.
#[test]
fn volume_ls_quiet_filters_and_format() {
    let daemon = daemon();
    daemon.ok(&["volume", "create", "--label", "tier=web", "lv-web"]);
    daemon.ok(&["volume", "create", "lv-db"]);
    daemon.ok(&["create", "--name", "user", "-v", "lv-db:/d", "busybox"]);
    let ls = |args: &[&str]| {
        let mut all = vec!["volume", "ls"];
        all.extend(args);
        daemon.ok(&all)
    };
    assert_eq!(
        ls(&[]),
        "DRIVER    VOLUME NAME\nlocal     lv-db\nlocal     lv-web\n"
    );
    assert_eq!(ls(&["-q"]), "lv-db\nlv-web\n");
    assert_eq!(
        ls(&["--filter", "dangling=true"]),
        "DRIVER    VOLUME NAME\nlocal     lv-web\n"
    );
    assert_eq!(ls(&["--filter", "dangling=false", "-q"]), "lv-db\n");
    assert_eq!(ls(&["-f", "name=web", "-q"]), "lv-web\n");
    assert_eq!(ls(&["-f", "label=tier", "-q"]), "lv-web\n");
    assert_eq!(ls(&["-f", "label=tier=web", "-q"]), "lv-web\n");
    assert_eq!(ls(&["-f", "label=tier=db"]), "DRIVER    VOLUME NAME\n");
    assert_eq!(ls(&["-f", "driver=local", "-q"]), "lv-db\nlv-web\n");
    let root = daemon.data_root().join("volumes");
    assert_eq!(
        ls(&[
            "--format",
            "{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Labels}}|{{.Mountpoint}}"
        ]),
        format!(
            "lv-db|local|local||{0}/lv-db/_data\nlv-web|local|local|tier=web|{0}/lv-web/_data\n",
            root.display()
        )
    );
    assert_eq!(
        ls(&["--format", "table {{.Name}}\t{{.Labels}}"]),
        "VOLUME NAME   LABELS\nlv-db         \nlv-web        tier=web\n"
    );
    // Docker 20.10: exit 1, "Error response from daemon: Invalid filter 'bogus'".
    let (code, stderr) = daemon.fails(&["volume", "ls", "-f", "bogus=1"]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "Error response from daemon: Invalid filter 'bogus'\n");
    let (code, stderr) = daemon.fails(&["volume", "ls", "-f", "dangling=maybe"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error response from daemon: Invalid filter 'dangling=[maybe]'\n"
    );
}

/// `volume create` and `volume inspect`: Docker 20.10's fields and values, `-f` templates, and
/// the errors for an unknown volume, a bad name and a driver berth doesn't have.
#[test]
fn volume_create_and_inspect_fields() {
    let daemon = daemon();
    daemon.ok(&[
        "volume", "create", "--label", "a=b", "--label", "c=d", "-d", "local", "labelled",
    ]);
    daemon.ok(&["volume", "create", "plain"]);
    let volumes: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["volume", "inspect", "labelled", "plain"])).unwrap();
    let keys: Vec<&String> = volumes[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    let labelled = &volumes[0];
    assert_eq!(labelled["Name"], "labelled");
    assert_eq!(labelled["Driver"], "local");
    assert_eq!(labelled["Scope"], "local");
    assert_eq!(labelled["Labels"], serde_json::json!({"a": "b", "c": "d"}));
    assert_eq!(
        labelled["Mountpoint"],
        daemon
            .data_root()
            .join("volumes/labelled/_data")
            .display()
            .to_string()
    );
    let created = labelled["CreatedAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
        "{created}"
    );
    // Docker 20.10 (`docker volume create plain`, whose CLI sends empty maps): "Labels": {},
    // "Options": {}.
    assert_eq!(
        (&volumes[1]["Labels"], &volumes[1]["Options"]),
        (&serde_json::json!({}), &serde_json::json!({}))
    );
    assert_eq!(
        daemon.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{json .Options}}",
            "labelled",
            "plain"
        ]),
        "labelled local local map[a:b c:d] {}\nplain local local map[] {}\n"
    );
    // A volume made by a container's `-v` has no labels and no options at all: null.
    daemon.ok(&["create", "--name", "anon", "-v", "/data", "busybox"]);
    let name = mount_at(&daemon, "anon", "/data")["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        daemon.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{json .Labels}} {{json .Options}}",
            &name
        ]),
        format!("{name} null null\n")
    );

    // Docker 20.10: "[]" on stdout, "Error: No such volume: nosuch" on stderr, exit 1.
    let output = daemon.output(&["volume", "inspect", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "[]\n");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: No such volume: nosuch\n"
    );
    let (status, body) = api(&daemon, "GET", "/volumes/nosuch");
    assert_eq!(
        (status, body.as_str()),
        (404, "{\"message\":\"get nosuch: no such volume\"}")
    );

    let (code, stderr) = daemon.fails(&["volume", "create", "x"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error response from daemon: create x: volume name is too short, names should be at least two alphanumeric characters\n"
    );
    let (code, stderr) = daemon.fails(&["volume", "create", "-d", "nfs", "x1"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error response from daemon: create x1: error looking up volume plugin nfs: plugin \"nfs\" not found\n"
    );
    // Creating again returns the same volume.
    assert_eq!(daemon.ok(&["volume", "create", "plain"]), "plain\n");
    assert_eq!(
        daemon.ok(&["volume", "inspect", "-f", "{{.CreatedAt}}", "plain"]),
        format!("{}\n", volumes[1]["CreatedAt"].as_str().unwrap())
    );
}

/// `volume create` options for a 1 MiB tmpfs owned by uid 1000 (Docker's documented example).
const TMPFS_OPTIONS: [&str; 6] = [
    "-o",
    "type=tmpfs",
    "-o",
    "device=tmpfs",
    "-o",
    "o=size=1m,uid=1000",
];

/// Options the local driver takes, for a filesystem type the kernel doesn't have.
const UNMOUNTABLE_OPTIONS: [&str; 4] = ["-o", "type=nosuchfs", "-o", "device=x"];

/// Driver options the local driver refuses, with Docker 20.10's reasons.
const REFUSED_OPTIONS: [(&str, &str); 5] = [
    ("foo=bar", "invalid option: \"foo\""),
    ("type=tmpfs", "missing required option: \"device\""),
    ("device=tmpfs", "missing required option: \"type\""),
    ("o=size=1m", "missing required option: \"device\""),
    ("size=10m", "quota size requested but no quota support"),
];

/// `volume create [OPTIONS] NAME`.
fn volume_create<'a>(options: &[&'a str], name: &'a str) -> Vec<&'a str> {
    let mut args = vec!["volume", "create"];
    args.extend_from_slice(options);
    args.push(name);
    args
}

/// Is a filesystem mounted over the volume's `_data` on the host?
fn is_mounted(daemon: &TestDaemon, volume: &str) -> bool {
    !mounts_mentioning(&format!(" {} ", mountpoint(daemon, volume).display())).is_empty()
}

/// `berth run --rm -v scratch:/data busybox COMMAND…`, its output.
fn run_with_scratch(daemon: &TestDaemon, command: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "-v", "scratch:/data", "busybox"];
    args.extend_from_slice(command);
    daemon.ok(&args)
}

/// `volume create -o type=tmpfs -o device=tmpfs -o o=…` (Docker's local driver options): the
/// tmpfs is mounted for the first container using the volume, shared by the others, kept across
/// a `kill -9` of berthd, and unmounted after the last one ends, taking its files with it.
#[test]
fn a_tmpfs_volume_is_mounted_while_containers_use_it() {
    let mut daemon = daemon();
    daemon.ok(&volume_create(&TMPFS_OPTIONS, "scratch"));
    assert_eq!(
        daemon.ok(&["volume", "inspect", "-f", "{{json .Options}}", "scratch"]),
        "{\"device\":\"tmpfs\",\"o\":\"size=1m,uid=1000\",\"type\":\"tmpfs\"}\n"
    );
    assert!(
        !is_mounted(&daemon, "scratch"),
        "mounted before any container uses it"
    );

    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "writer",
        "-v",
        "scratch:/data",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(is_mounted(&daemon, "scratch"));
    // Docker 20.10 printed the same line for the same volume.
    assert_eq!(
        daemon.ok(&[
            "exec",
            "writer",
            "sh",
            "-c",
            "grep ' /data ' /proc/mounts; echo one > /data/one"
        ]),
        "tmpfs /data tmpfs rw,relatime,size=1024k,uid=1000 0 0\n"
    );
    assert_eq!(run_with_scratch(&daemon, &["cat", "/data/one"]), "one\n");
    assert!(is_mounted(&daemon, "scratch"), "the writer still uses it");

    daemon.kill9();
    daemon.restart();
    assert!(
        is_mounted(&daemon, "scratch"),
        "the running writer holds it across the restart"
    );
    daemon.ok(&["stop", "-t", "0", "writer"]);
    eventually("the tmpfs to be unmounted", || !is_mounted(&daemon, "scratch"));
    assert!(mounts_under(&daemon).is_empty(), "{:?}", mounts_under(&daemon));
    // A new tmpfs for the next container: what the last one wrote is gone.
    assert_eq!(run_with_scratch(&daemon, &["ls", "-A", "/data"]), "");
    assert!(!is_mounted(&daemon, "scratch"));
    daemon.ok(&["rm", "writer"]);
    daemon.ok(&["volume", "rm", "scratch"]);
    assert!(mounts_under(&daemon).is_empty(), "{:?}", mounts_under(&daemon));
}

/// `-o type=none -o o=bind -o device=DIR`: a volume that is a host directory. Containers see
/// and write its files; `volume rm` unmounts it and leaves the directory and its files alone.
/// `--mount`'s `volume-opt` makes such a volume too.
#[test]
fn a_bind_volume_shows_a_host_directory_and_rm_leaves_it_alone() {
    let daemon = daemon();
    let host = TempDir::new("berth-bind-volume");
    std::fs::write(host.0.join("from-host"), "host\n").unwrap();
    let device = format!("device={}", host.0.display());
    daemon.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "shared",
    ]);
    assert_eq!(
        daemon.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/data",
            "busybox",
            "sh",
            "-c",
            "cat /data/from-host; echo c > /data/from-container",
        ]),
        "host\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.0.join("from-container")).unwrap(),
        "c\n"
    );
    assert!(
        !is_mounted(&daemon, "shared"),
        "unmounted once the container ended"
    );

    let mount = format!(
        "type=volume,source=viaflag,target=/data,volume-opt=type=none,volume-opt=o=bind,volume-opt={device}"
    );
    assert_eq!(
        daemon.ok(&["run", "--rm", "--mount", &mount, "busybox", "ls", "/data"]),
        "from-container\nfrom-host\n"
    );
    assert_eq!(
        daemon.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Options.type}} {{.Options.o}}",
            "viaflag"
        ]),
        "none bind\n"
    );

    // Removing the volumes while one is mounted (a container runs) is refused; after, it leaves
    // the host directory as it was.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-v",
        "shared:/data",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(is_mounted(&daemon, "shared"));
    daemon.fails(&["volume", "rm", "shared"]);
    daemon.ok(&["rm", "-f", "holder"]);
    daemon.ok(&["volume", "rm", "shared", "viaflag"]);
    let mut left: Vec<String> = std::fs::read_dir(&host.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["from-container", "from-host"]);
    assert!(mounts_under(&daemon).is_empty(), "{:?}", mounts_under(&daemon));
}

/// Options the local driver doesn't take are refused with Docker's messages, and a filesystem
/// that can't be mounted fails the start (exit 125, Docker's message) and leaves nothing.
#[test]
fn bad_driver_options_are_refused_and_leave_nothing() {
    let daemon = daemon();
    for (option, reason) in REFUSED_OPTIONS {
        let args = volume_create(&["-o", option], "refused");
        let (code, stderr) = daemon.fails(&args);
        assert_eq!(
            (code, stderr),
            (
                1,
                format!("Error response from daemon: create refused: {reason}\n")
            )
        );
    }
    assert!(volume_names(&daemon).is_empty());

    daemon.ok(&volume_create(&UNMOUNTABLE_OPTIONS, "broken"));
    let (code, stderr) = daemon.fails(&["run", "--rm", "-v", "broken:/data", "busybox", "true"]);
    let data = mountpoint(&daemon, "broken");
    assert_eq!(
        (code, stderr),
        (
            125,
            format!(
                "berth: Error response from daemon: error while mounting volume '{0}': failed to mount local volume: mount x:{0}: no such device.\n",
                data.display()
            )
        )
    );
    assert_eq!(daemon.ok(&["ps", "-aq"]), "", "the --rm container is gone");
    assert!(mounts_under(&daemon).is_empty(), "{:?}", mounts_under(&daemon));
}

/// runc's CVE-2021-30465: a mount target that is a symlink is resolved inside the container's
/// root. An image's `/absolute -> /etc`, and a volume's `climb -> ../../../../../../etc` (an
/// image layer may not hold a symlink that climbs out: import refuses it, as Docker does), both
/// mean the container's /etc: the mount covers it, copy-up reads the image's /etc, and nothing
/// lands on the host's.
#[test]
fn symlinked_mount_targets_stay_inside_the_container_root() {
    let daemon = daemon();
    let marker = format!("berth-cve-{}", std::process::id());
    import_image(
        &daemon,
        "symlinks:1",
        &[
            Entry::Dir {
                path: "etc",
                mode: 0o755,
                owner: 0,
            },
            Entry::File {
                path: "etc/from-the-image",
                mode: 0o644,
                owner: 0,
                content: "image\n",
            },
            Entry::Symlink {
                path: "absolute",
                target: "/etc",
            },
        ],
        &[],
    );
    let host_etc_mounts = || mounts_mentioning(" /etc ");
    let before = host_etc_mounts();
    let script = format!("ls /etc; echo escaped > /etc/{marker}");

    // A volume on an absolute symlink: it covers the container's /etc, after a copy of the
    // image's /etc (not the host's).
    let output = daemon.ok(&[
        "run",
        "--rm",
        "-v",
        "cve:/absolute",
        "symlinks:1",
        "sh",
        "-c",
        &script,
    ]);
    assert!(output.lines().any(|l| l == "from-the-image"), "{output}");
    let volume = mountpoint(&daemon, "cve");
    assert!(volume.join("from-the-image").exists());
    assert_eq!(
        std::fs::read_to_string(volume.join(&marker)).unwrap(),
        "escaped\n"
    );
    assert!(!volume.join("debian_version").exists() && !volume.join("os-release").exists());

    // A bind whose target climbs out through a symlink in a volume mounted before it.
    daemon.ok(&["volume", "create", "evil"]);
    std::os::unix::fs::symlink("../../../../../../etc", mountpoint(&daemon, "evil").join("climb")).unwrap();
    let host = TempDir::new("berth-volume-cve");
    let bind = format!("{}:/vol/climb", host.0.display());
    let output = daemon.ok(&[
        "run",
        "--rm",
        "-v",
        "evil:/vol",
        "-v",
        &bind,
        "symlinks:1",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(output, "", "the container's /etc is the (empty) bind source");
    assert_eq!(
        std::fs::read_to_string(host.0.join(&marker)).unwrap(),
        "escaped\n"
    );

    // A tmpfs too.
    let output = daemon.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/absolute",
        "symlinks:1",
        "sh",
        "-c",
        "grep ' /etc ' /proc/mounts | cut -d' ' -f1-3",
    ]);
    assert_eq!(output, "tmpfs /etc tmpfs\n");

    assert!(
        !Path::new("/etc").join(&marker).exists(),
        "the host's /etc was written"
    );
    assert_eq!(host_etc_mounts(), before, "a mount landed on the host's /etc");
    assert_eq!(mounts_under(&daemon), Vec::<String>::new());
}

/// Every mount is an explain event, in the container's explain log and through
/// `/berth/explain` (`events --explain`).
#[test]
fn mounts_are_explained() {
    let daemon = daemon();
    daemon.ok(&["volume", "create", "website"]);
    let host = TempDir::new("berth-volume-explain");
    let bind = format!("{}:/srv", host.0.display());
    daemon.ok(&[
        "run",
        "--name",
        "explained",
        "-v",
        "website:/usr/local/apache2/htdocs:ro",
        "-v",
        &bind,
        "--tmpfs",
        "/run",
        "httpd:2.4",
        "true",
    ]);
    let data = daemon.data_root().join("volumes/website/_data");
    // The empty volume first gets httpd's index.html (copy-up), then is bound read-only.
    let sentences = [
        "copied 1 files (".to_owned(),
        format!(
            "from the image's /usr/local/apache2/htdocs into the new volume {}",
            data.display()
        ),
        format!(
            "bound volume website ({}) read-only at /usr/local/apache2/htdocs",
            data.display()
        ),
        format!("bound host path {} at /srv", host.0.display()),
        "mounted a tmpfs at /run".to_owned(),
    ];
    let short = inspect(&daemon, "{{.Id}}", "explained")[..12].to_owned();
    let log = std::fs::read_to_string(daemon.root.join(format!("exec/c/{short}/explain.jsonl"))).unwrap();
    for sentence in &sentences {
        assert!(log.contains(sentence.as_str()), "no {sentence:?} in {log}");
    }
    let steps = daemon.explain_steps("explained");
    for sentence in &sentences {
        assert!(steps.contains(sentence.as_str()), "no {sentence:?} in {steps}");
    }
    // Creating a volume is the daemon's own step.
    let daemon_log = std::fs::read_to_string(daemon.root.join("exec/explain.jsonl")).unwrap();
    assert!(
        daemon_log.contains(&format!("created volume website at {}", data.display())),
        "{daemon_log}"
    );
}

/// Bad input: Docker 20.10's messages and exit codes for bad `--mount` and `-v` syntax (the CLI
/// names the field), and a bind source that can't be created: an error, no container, no
/// volume, directory or mount left behind.
#[test]
fn bad_mount_input_is_refused_and_leaves_nothing() {
    let daemon = daemon();
    // The CLI's own parse errors (Docker 20.10's text, exit 125).
    for (mount, reason) in [
        (
            "type=volume,target",
            "invalid field 'target' must be a key=value pair",
        ),
        ("type=volume,src=x", "target is required"),
        (
            "type=volume,foo=bar,target=/x",
            "unexpected key 'foo' in 'foo=bar'",
        ),
        (
            "type=tmpfs,target=/x,tmpfs-size=abc",
            "invalid value for tmpfs-size: abc",
        ),
        (
            "type=volume,source=v,target=/x,readonly=maybe",
            "invalid value for readonly: maybe",
        ),
    ] {
        let (code, stderr) = daemon.fails(&["run", "--rm", "--mount", mount, "busybox", "true"]);
        assert_eq!(code, 125, "{mount}");
        assert!(
            stderr.starts_with(&format!(
                "invalid argument \"{mount}\" for \"--mount\" flag: {reason}\n"
            )),
            "{mount}: {stderr}"
        );
    }
    // The daemon's (400) errors, as `docker run` prints them.
    for (args, message) in [
        (
            ["--mount", "type=bogus,target=/x"],
            "invalid mount config for type \"bogus\": mount type unknown",
        ),
        (
            ["--mount", "type=tmpfs,source=v,target=/x"],
            "invalid mount config for type \"tmpfs\": field Source must not be specified",
        ),
        (
            ["--mount", "type=volume,target=/x,source=/tmp"],
            "create /tmp: \"/tmp\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
        ),
        (["-v", "/tmp/x:/x:bogus"], "invalid mode: bogus"),
        (["-v", "vv:/x:ro,rw"], "invalid mode: ro,rw"),
        (["-v", "a:b:c:d"], "invalid volume specification: 'a:b:c:d'"),
        (
            ["-v", "/tmp/h:/"],
            "invalid volume specification: '/tmp/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'",
        ),
        (
            ["-v", "vv:relative"],
            "invalid volume specification: 'vv:relative': invalid mount config for type \"volume\": invalid mount path: 'relative' mount path must be absolute",
        ),
        (
            ["--tmpfs", "/"],
            "invalid specification: destination can't be '/'",
        ),
    ] {
        let mut all = vec!["run", "--rm"];
        all.extend(&args);
        all.extend(["busybox", "true"]);
        let (code, stderr) = daemon.fails(&all);
        assert_eq!(code, 125, "{args:?}");
        // Docker 20.10's framing, with berth's name for docker's.
        assert_eq!(
            stderr,
            format!("berth: Error response from daemon: {message}.\nSee 'berth run --help'.\n"),
            "{args:?}"
        );
    }

    // A bind source that can't be made: an error naming it; nothing made for the container
    // (not the volume in the same command, not the container) is left.
    let (status, body) = api(&daemon, "GET", "/volumes");
    assert_eq!((status, body.contains("\"Volumes\":[]")), (200, true), "{body}");
    let (code, stderr) = daemon.fails(&[
        "run",
        "--name",
        "never",
        "-v",
        "fresh:/fresh",
        "-v",
        "/proc/nope/x:/x",
        "busybox",
        "true",
    ]);
    // Docker 20.10's words and exit code for the same bind (its CLI reads "no such file or
    // directory" as 127). Docker makes the directory at start and so leaves a created
    // container; berthd checks at create, so nothing is left (the issue's rule).
    assert_eq!(code, 127);
    assert!(
        stderr.contains(
            "error while creating mount source path '/proc/nope/x': mkdir /proc/nope: no such file or directory"
        ),
        "{stderr}"
    );
    assert_eq!(daemon.ok(&["ps", "-aq"]), "");
    assert_eq!(volume_names(&daemon), Vec::<String>::new());
    assert_eq!(mounts_under(&daemon), Vec::<String>::new());
}

/// Removes what the comparison made on the real Docker, however the test ends.
struct DockerLeftovers {
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl Drop for DockerLeftovers {
    fn drop(&mut self) {
        // One by one: a volume shared by --volumes-from goes with the last container (-v).
        for container in &self.containers {
            let _ = docker().args(["rm", "-fv", container]).output();
        }
        let mut args = vec!["volume", "rm", "-f"];
        args.extend(self.volumes.iter().map(String::as_str));
        let _ = docker().args(&args).output();
    }
}

/// (exit code, stdout, stderr) with what must differ between two engines made equal: their
/// data roots, ids and anonymous volume names (64 hex digits), and creation times.
fn redacted(output: &Output, roots: &[&Path]) -> (Option<i32>, String, String) {
    let redact = |bytes: &[u8]| {
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        for root in roots {
            text = text.replace(&root.display().to_string(), "<root>");
        }
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            let run = rest.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(rest.len());
            out.push_str(if run == 64 { "<hex>" } else { &rest[..run] });
            rest = &rest[run..];
        }
        out.push_str(rest);
        // Docker's CLI, when a start fails, sometimes also logs that its wait was cancelled
        // (a race inside the client): not part of the answer, so left out.
        let out: String = out
            .split_inclusive('\n')
            .filter(|line| !line.contains("msg=\"error waiting for container: context canceled\""))
            .collect();
        // Creation times are each engine's own: two creates a moment apart may straddle a second.
        let out: String = out
            .split_inclusive('\n')
            .map(|line| {
                const KEY: &str = "\"CreatedAt\": \"";
                match line
                    .split_once(KEY)
                    .and_then(|(head, tail)| Some((head, tail.split_once('"')?.1)))
                {
                    Some((head, after)) => format!("{head}{KEY}<time>\"{after}"),
                    None => line.to_owned(),
                }
            })
            .collect();
        // The program names itself in run's errors ("docker: …", "See 'docker run --help'.").
        out.replace("berth: ", "docker: ").replace("'berth ", "'docker ")
    };
    (
        output.status.code(),
        redact(&output.stdout),
        redact(&output.stderr),
    )
}

/// A container's `.Mounts`, sorted by destination (Docker lists them in map order).
fn sorted_mounts(json: &str, roots: &[&Path]) -> Vec<serde_json::Value> {
    let mut text = json.to_owned();
    for root in roots {
        text = text.replace(&root.display().to_string(), "<root>");
    }
    let mut mounts: Vec<serde_json::Value> = serde_json::from_str(text.trim()).expect("Mounts as JSON");
    for mount in &mut mounts {
        if mount["Name"].as_str().is_some_and(|n| n.len() == 64) {
            let name = mount["Name"].as_str().unwrap().to_owned();
            mount["Name"] = "<hex>".into();
            mount["Source"] = mount["Source"].as_str().unwrap().replace(&name, "<hex>").into();
        }
    }
    mounts.sort_by_key(|m| m["Destination"].as_str().unwrap_or_default().to_owned());
    mounts
}

/// The same volume commands, typed to berth against berthd and to docker against the real
/// Docker 20.10 here, print the same (data roots and ids aside) and exit the same.
#[test]
fn volume_commands_answer_as_docker_does() {
    let daemon = daemon();
    docker_ok(&["load", "-i", stand_in_images().to_str().unwrap()]);
    let tag = unique_name("bvol");
    let (named, plain, missing) = (
        format!("{tag}-web"),
        format!("{tag}-plain"),
        format!("{tag}-nosuch"),
    );
    let (user, reader) = (format!("{tag}-user"), format!("{tag}-reader"));
    let (scratch, broken) = (format!("{tag}-scratch"), format!("{tag}-broken"));
    let _leftovers = DockerLeftovers {
        containers: vec![user.clone(), reader.clone()],
        volumes: vec![named.clone(), plain.clone(), scratch.clone(), broken.clone()],
    };
    let docker_root = PathBuf::from(docker_ok(&["info", "--format", "{{.DockerRootDir}}"]).trim());
    let berth_root = daemon.data_root();
    let roots = [docker_root.as_path(), berth_root.as_path()];
    let label = format!("berth-test={tag}");
    let by_name = format!("name={tag}");
    let same = |args: &[&str]| {
        let berth = daemon.output(args);
        let docker = docker().args(args).output().expect("run docker");
        assert_eq!(
            redacted(&berth, &roots),
            redacted(&docker, &roots),
            "berth (left) and docker (right) differ for {args:?}"
        );
    };
    let same_mounts = |container: &str| {
        let berth = daemon.ok(&["inspect", "-f", "{{json .Mounts}}", container]);
        let docker = docker_ok(&["inspect", "-f", "{{json .Mounts}}", container]);
        assert_eq!(
            sorted_mounts(&berth, &roots),
            sorted_mounts(&docker, &roots),
            "{container}"
        );
    };

    same(&[
        "volume", "create", "--label", &label, "--label", "tier=web", &named,
    ]);
    same(&["volume", "create", &plain]);
    same(&[
        "volume",
        "inspect",
        "-f",
        "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{json .Options}} {{.Mountpoint}}",
        &named,
        &plain,
    ]);
    same(&[
        "volume",
        "ls",
        "--filter",
        &by_name,
        "--format",
        // (Not {{.Labels}}: Docker joins them in Go's random map order.)
        "table {{.Name}}\t{{.Driver}}\t{{.Label \"tier\"}}",
    ]);
    same(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &by_name,
        "--filter",
        "label=tier=web",
    ]);
    same(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &by_name,
        "--filter",
        "dangling=true",
    ]);

    same(&[
        "create",
        "--name",
        &user,
        "-v",
        &format!("{named}:/web:ro"),
        "-v",
        "/anon",
        "--tmpfs",
        "/run:size=1m",
        "busybox",
    ]);
    same_mounts(&user);
    same(&[
        "inspect",
        "-f",
        "{{json .HostConfig.Tmpfs}} {{json .HostConfig.Binds}}",
        &user,
    ]);
    same(&["volume", "rm", &named]);
    same(&["volume", "rm", "-f", &named]);
    same(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &by_name,
        "--filter",
        "dangling=false",
    ]);
    same(&[
        "create",
        "--name",
        &reader,
        "--volumes-from",
        &format!("{user}:ro"),
        "busybox",
    ]);
    same_mounts(&reader);

    // rm -v: the anonymous volume stays while the reader shares it, then goes with it (see
    // rm_v_removes_anonymous_volumes_only). Here berthd differs on purpose: Docker 20.10 takes
    // no reference on a *named* volume for --volumes-from, so it calls `web` dangling once
    // `user` is gone and lets `volume rm` delete it under the reader; berthd counts every
    // container that mounts a volume.
    same(&["rm", "-v", &user]);
    same(&["rm", "-v", &reader]);
    same(&["volume", "prune", "-f", "--filter", &format!("label={label}")]);
    same(&["volume", "ls", "-q", "--filter", &by_name]);

    // Errors.
    same(&["volume", "inspect", &missing]);
    same(&["volume", "inspect", "-f", "{{.Name}}", &missing]);
    same(&["volume", "inspect", &plain, &missing]);
    same(&["volume", "rm", &missing]);
    same(&["volume", "rm", "-f", &missing]);
    same(&["volume", "create", "x"]);
    // (Not `volume create -d nfs`: Docker looks for the plugin for 15 s before it says the
    // same as berthd, which volume_create_and_inspect_fields checks.)
    same(&["volume", "ls", "-f", "bogus=1"]);
    same(&["volume", "ls", "-f", "dangling=maybe"]);
    same(&["volume", "rm", &plain]);

    // The local driver's options: a tmpfs volume as the container sees it, and the errors.
    same(&volume_create(&TMPFS_OPTIONS, &scratch));
    same(&["volume", "inspect", "-f", "{{json .Options}}", &scratch]);
    same(&[
        "run",
        "--rm",
        "-v",
        &format!("{scratch}:/data"),
        "busybox",
        "sh",
        "-c",
        "grep ' /data ' /proc/mounts; stat -c '%u %a' /data",
    ]);
    same(&volume_create(&UNMOUNTABLE_OPTIONS, &broken));
    same(&["run", "--rm", "-v", &format!("{broken}:/data"), "busybox", "true"]);
    for (option, _) in REFUSED_OPTIONS {
        same(&volume_create(&["-o", option], &missing));
    }
    same(&["volume", "rm", &scratch, &broken]);
    for mount in [
        "type=bogus,target=/x",
        "type=volume,target",
        "type=volume,src=x",
        "type=volume,foo=bar,target=/x",
        "type=tmpfs,target=/x,tmpfs-size=abc",
        "type=volume,source=v,target=/x,readonly=maybe",
        "type=tmpfs,source=v,target=/x",
        "target=/x,source=/tmp",
    ] {
        same(&["run", "--rm", "--mount", mount, "busybox", "true"]);
    }
    for volume in [
        "a:b:c:d",
        "vv:relative",
        "/tmp/h:/",
        "vv:/x:ro,rw",
        "/tmp/x:/x:bogus",
    ] {
        same(&["run", "--rm", "-v", volume, "busybox", "true"]);
    }
}
