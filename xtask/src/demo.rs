//! `cargo xtask demo`: the end-to-end run README's first command does on a fresh machine —
//! build berth, build the lab images, start a private berthd, load the images and list them.
//! (When the lab runner lands, this runs a lab instead.)

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::util::{run, workspace_root};

#[derive(clap::Args)]
pub struct Args {}

pub fn run_demo(_args: Args) -> anyhow::Result<()> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    crate::ci::install_packages(&["busybox-static"])?;
    run(Command::new("cargo").args(["build", "--release", "--bins", "--workspace"]))?;
    run(Command::new("cargo").args(["xtask", "images"]))?;

    let state = tempdir("berth-demo")?;
    let socket = state.join("berth.sock");
    let host = format!("unix://{}", socket.display());
    let bin = root.join("target/release");
    let daemon = Daemon(
        Command::new(bin.join("berthd"))
            .arg("--data-root")
            .arg(state.join("data"))
            .arg("--exec-root")
            .arg(state.join("exec"))
            .args(["-H", &host])
            .stderr(Stdio::null())
            .spawn()
            .context("start berthd")?,
    );
    wait_for_socket(&socket)?;
    let berth = |args: &[&str]| {
        println!("$ berth {}", args.join(" "));
        run(Command::new(bin.join("berth")).args(["-H", &host]).args(args))
    };
    let images = root.join("target/lab-images.tar");
    berth(&["load", "-i", &images.display().to_string()])?;
    berth(&["images"])?;
    drop(daemon);
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}

/// berthd, stopped with SIGTERM when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill with our own child's pid and a valid signal.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn tempdir(prefix: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn wait_for_socket(socket: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        if Instant::now() > deadline {
            bail!("berthd did not listen on {} within 10 s", socket.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
