//! Explain events emitted by berthd itself (see `berth_api::explain` for the format).

/// Emit an explain event: one plain sentence about a kernel-facing step.
///
/// `explain!("mounted overlay at {} with {} lower layers", path.display(), n)`
#[macro_export]
macro_rules! explain {
    ($($arg:tt)*) => {
        ::tracing::info!(target: "explain", $($arg)*)
    };
}
