//! `berth cp` and `berth export` beside `docker cp` and `docker export` on Docker 20.10: the
//! same commands, run in two working directories with the same files, must leave the same
//! trees (names, kinds, contents, link targets), print the same errors with the same exit
//! codes, and print nothing on success. Then the real docker CLI does `cp` against berthd.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{TempDir, TestDaemon, docker, docker_cli, docker_ok, unique_name};

/// A container on the real Docker daemon, removed (with its volumes) on drop.
struct OnDocker(String);

impl Drop for OnDocker {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "-f", "-v", &self.0]).output();
    }
}

/// What the containers' command lays out before `/ready` appears.
const SETUP: &str = "mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln -s /d /dlink \
     && ln -s /etc /hostetc && echo v > /data/f && touch /ready && sleep 1000";

/// The same local files in each engine's working directory.
fn fixtures(dir: &Path) {
    std::fs::create_dir_all(dir.join("srcdir/inner")).unwrap();
    std::fs::write(dir.join("srcdir/in"), "in\n").unwrap();
    std::fs::write(dir.join("srcdir/inner/deep"), "deep\n").unwrap();
    std::fs::write(dir.join("src.txt"), "hello\n").unwrap();
    std::fs::write(dir.join("afile"), "x\n").unwrap();
    std::fs::create_dir(dir.join("existing")).unwrap();
    std::os::unix::fs::symlink("srcdir", dir.join("srclink")).unwrap();
}

/// Every path under `dir`: relative name, kind, and content or link target.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                found.push(format!(
                    "{name} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                found.push(format!("{name}/"));
                pending.push(path);
            } else {
                found.push(format!(
                    "{name}: {:?}",
                    std::fs::read_to_string(&path).unwrap_or_default()
                ));
            }
        }
    }
    found.sort();
    found
}

/// One side of the comparison: how to run a command, where, and the container's name.
struct Side<'a> {
    command: Box<dyn Fn() -> Command + 'a>,
    dir: PathBuf,
}

impl Side<'_> {
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut command = (self.command)();
        command.args(args).current_dir(&self.dir);
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("run the CLI");
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        child.wait_with_output().unwrap()
    }
}

/// Run `args` on both sides; the same exit code, stdout and stderr (the working directory
/// written `DIR`). Returns berth's output.
fn alike(ours: &Side, theirs: &Side, args: &[&str]) -> Output {
    let a = ours.run(args, None);
    let b = theirs.run(args, None);
    let text = |output: &Output, side: &Side| {
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).replace(side.dir.to_str().unwrap(), "DIR"),
            String::from_utf8_lossy(&output.stderr).replace(side.dir.to_str().unwrap(), "DIR"),
        )
    };
    assert_eq!(
        text(&a, ours),
        text(&b, theirs),
        "cp {args:?}: berth, then docker"
    );
    a
}

/// The names in a tar.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    let mut names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    names.sort();
    names
}

/// Wait until the container has laid out its files.
fn wait_ready(run: &dyn Fn(&[&str]) -> Output, name: &str) {
    for _ in 0..200 {
        if run(&["exec", name, "test", "-e", "/ready"]).status.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{name} never got ready");
}

#[test]
fn cp_and_export_do_what_docker_does() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_ok(&[
        "load",
        "-i",
        &crate::common::stand_in_images().display().to_string(),
    ]);
    let name = unique_name("berth-cli-cp");
    let run_args = [
        "run", "-d", "--name", &name, "-v", "/data", "busybox", "sh", "-c", SETUP,
    ];
    daemon.ok(&run_args);
    docker_ok(&run_args);
    let _on_docker = OnDocker(name.clone());
    wait_ready(&|args| daemon.output(args), &name);
    wait_ready(&|args| docker().args(args).output().unwrap(), &name);

    let work = TempDir::new("berth-cli-cp");
    let ours = Side {
        command: Box::new(|| daemon.berth()),
        dir: work.path().join("ours"),
    };
    let theirs = Side {
        command: Box::new(docker),
        dir: work.path().join("theirs"),
    };
    for side in [&ours, &theirs] {
        fixtures(&side.dir);
    }
    let from = |path: &str| format!("{name}:{path}");

    // From the container: a new name, into a directory, `/.`, a file, links, the volume.
    for (source, destination) in [
        ("/d", "d_new"),
        ("/d", "existing"),
        ("/d/.", "dot"),
        ("/d/a", "file_new"),
        ("/d/a", "existing/"),
        ("/dlink", "link_copy"),
        ("/dlink/", "link_slash"),
        ("/data/f", "volume_f"),
        ("/data", "volume_dir"),
    ] {
        let output = alike(&ours, &theirs, &["cp", &from(source), destination]);
        assert!(output.status.success() && output.stdout.is_empty() && output.stderr.is_empty());
    }
    let output = alike(&ours, &theirs, &["cp", "-L", &from("/dlink"), "followed"]);
    assert!(output.status.success());
    // To the container, then back out to compare what landed there.
    for (source, destination) in [
        ("srcdir", "/newdir"),
        ("srcdir/.", "/newdir2"),
        ("src.txt", "/tmp/"),
        ("src.txt", "/newname.txt"),
        ("srcdir", "/data/"),
        ("srclink", "/tmp/keptlink"),
    ] {
        let output = alike(&ours, &theirs, &["cp", source, &from(destination)]);
        assert!(output.status.success(), "{output:?}");
    }
    alike(&ours, &theirs, &["cp", "-L", "srclink", &from("/followedlink")]);
    std::fs::create_dir(ours.dir.join("back")).unwrap();
    std::fs::create_dir(theirs.dir.join("back")).unwrap();
    for path in [
        "/newdir",
        "/newdir2",
        "/tmp/src.txt",
        "/newname.txt",
        "/data/srcdir",
        "/tmp/keptlink",
        "/followedlink",
    ] {
        alike(&ours, &theirs, &["cp", &from(path), "back/"]);
    }
    // Mistakes: the CLI's and the daemon's words, exit 1.
    for (source, destination) in [
        (from("/nosuch"), "x".to_owned()),
        ("berth-nosuch-cp:/etc".to_owned(), "x".to_owned()),
        (from("/d"), "afile".to_owned()),
        (from("/d/a"), "nodir/".to_owned()),
        (from("/d/a"), "nosuchparent/x".to_owned()),
        (from("/d/a"), "afile/".to_owned()),
        ("src.txt".to_owned(), from("/nosuchdir/x")),
        ("srcdir".to_owned(), from("/d/a")),
        ("nosuchlocal".to_owned(), from("/tmp")),
        ("srcdir".to_owned(), "berth-nosuch-cp:/tmp".to_owned()),
        ("a".to_owned(), "b".to_owned()),
        (from("/x"), from("/y")),
    ] {
        let output = alike(&ours, &theirs, &["cp", &source, &destination]);
        assert_eq!(output.status.code(), Some(1), "cp {source} {destination}");
    }
    alike(
        &ours,
        &theirs,
        &["container", "cp", &from("/d/a"), "via_container_cp"],
    );
    assert_eq!(tree(&ours.dir), tree(&theirs.dir));
    assert!(
        tree(&ours.dir).contains(&"dot/sub/b: \"b\\n\"".to_owned()),
        "{:?}",
        tree(&ours.dir)
    );

    // `-`: a tar on stdout, and one on stdin.
    let [a, b] = [&ours, &theirs].map(|side| side.run(&["cp", &from("/d"), "-"], None));
    assert_eq!(tar_names(&a.stdout), tar_names(&b.stdout));
    assert!(tar_names(&a.stdout).contains(&"d/sub/b".to_owned()));
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_path_with_name(ours.dir.join("src.txt"), "from_stdin.txt")
        .unwrap();
    let tar = builder.into_inner().unwrap();
    for side in [&ours, &theirs] {
        let output = side.run(&["cp", "-", &from("/tmp")], Some(&tar));
        assert!(output.status.success(), "{output:?}");
        let output = side.run(&["cp", &from("/tmp/from_stdin.txt"), "-"], None);
        assert_eq!(tar_names(&output.stdout), ["from_stdin.txt"]);
    }
    let [a, b] = [&ours, &theirs].map(|side| side.run(&["cp", "-", &from("/d/a")], Some(&tar)));
    assert_eq!((a.status.code(), a.stderr), (b.status.code(), b.stderr));

    // export: the same paths as Docker's (volumes left out), to a file or a pipe.
    let [a, b] = [&ours, &theirs].map(|side| side.run(&["export", &name], None));
    assert!(a.status.success());
    assert_eq!(tar_names(&a.stdout), tar_names(&b.stdout));
    assert!(!tar_names(&a.stdout).contains(&"data/f".to_owned()));
    for side in [&ours, &theirs] {
        let output = side.run(&["container", "export", "-o", "out.tar", &name], None);
        assert!(output.status.success() && output.stdout.is_empty(), "{output:?}");
    }
    let exported = |side: &Side| tar_names(&std::fs::read(side.dir.join("out.tar")).unwrap());
    assert_eq!(exported(&ours), exported(&theirs));
    alike(&ours, &theirs, &["export", "berth-nosuch-export"]);
}

#[test]
fn the_docker_cli_copies_to_and_from_berthd() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&[
        "run", "-d", "--name", "box", "-v", "/data", "busybox", "sh", "-c", SETUP,
    ]);
    wait_ready(&|args| daemon.output(args), "box");
    let work = TempDir::new("berth-cli-dockercp");
    fixtures(work.path());
    let real_docker = |args: &[&str]| {
        Command::new(docker_cli())
            .env("DOCKER_HOST", daemon.host())
            .env("DOCKER_CONFIG", work.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .current_dir(work.path())
            .args(args)
            .output()
            .expect("run the docker CLI")
    };
    for args in [
        &["cp", "box:/d", "from_docker"][..],
        &["cp", "srcdir", "box:/data/"],
        &["cp", "box:/data/srcdir", "back_docker"],
    ] {
        let output = real_docker(args);
        assert!(
            output.status.success(),
            "docker {args:?}: {output:?}\n{}",
            daemon.log()
        );
    }
    let from_berth = work.path().join("from_berth");
    daemon.ok(&["cp", "box:/d", from_berth.to_str().unwrap()]);
    let listing = |dir: &str| tree(&work.path().join(dir));
    assert_eq!(listing("from_docker"), listing("from_berth"));
    assert_eq!(listing("back_docker"), listing("srcdir"));
    let output = real_docker(&["cp", "box:/nosuch", "x"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: No such container:path: box:/nosuch\n"
    );
}
