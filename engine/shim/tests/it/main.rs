//! Integration tests of berth-shim, as root on the real kernel, against the runtime named by
//! `BERTH_TEST_RUNTIME` (default `/usr/sbin/runc`). One test binary, one module per suite.

mod attach;
mod exec;
mod exits;
mod lifecycle;
mod logs;
mod support;
