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

/// `lab-images.tar` in cargo's target dir (where `cargo xtask images` writes it; CI builds it
/// before the tests): beside the profile directory.
pub fn lab_images() -> PathBuf {
    let target = bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target.join("lab-images.tar");
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask images` first",
        path.display()
    );
    path
}
