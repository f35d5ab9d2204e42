//! The test harness: a private berthd per test, and the real Docker to compare with (the
//! workspace's shared harness, `berth-testkit`).

#![allow(unused_imports)]

pub use berth_testkit::{
    NetSlot, TempDir, TestDaemon, bin_dir, docker, docker_cli, docker_ok, stand_in_images, unique_dir,
    unique_name, workspace_root,
};
