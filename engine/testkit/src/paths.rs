use std::path::{Path, PathBuf};

/// The directory holding the workspace's binaries (berthd, berth, berth-shim, berth-runtime,
/// lab): the cargo profile directory the running test binary was built in (tests live in its
/// `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("berthd").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            panic!(
                "no berthd beside {}: run `cargo build --workspace` (or test with --workspace)",
                exe.display()
            )
        })
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("engine/testkit is two levels down")
        .to_owned()
}

/// `stand-in-images.tar` in cargo's target dir, beside the profile directory: the offline
/// busybox stand-ins of the lab images (`busybox`, `httpd:2.4`, `nginx`, `postgres:12.1`…), a
/// few megabytes that load in milliseconds, which the engine's tests run. `cargo xtask images
/// --stand-ins` writes it; CI builds it before the tests.
pub fn stand_in_images() -> PathBuf {
    let target = bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target.join("stand-in-images.tar");
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask images --stand-ins` first",
        path.display()
    );
    path
}
