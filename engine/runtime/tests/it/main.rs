//! berth-runtime on the real kernel, as root. Every test uses its own container ids, bundles
//! and state roots, and deletes its containers through guards, so they run in parallel.

/// Two tests from one check taking a `&Runtime`: `<check>::runc` and `<check>::berth`, so each
/// runtime's run is reported, and runs in parallel, on its own.
macro_rules! on_both_runtimes {
    ($check:ident) => {
        mod $check {
            #[test]
            fn runc() {
                super::$check(&crate::common::Runtime::runc());
            }

            #[test]
            fn berth() {
                super::$check(&crate::common::Runtime::berth());
            }
        }
    };
}

mod cgroups;
mod cli;
mod common;
mod compare_runc;
mod conformance;
mod events;
mod exec;
mod hooks;
mod init;
mod lifecycle;
mod lifecycle_rules;
mod pause;
mod seccomp;
mod security;
mod update;
