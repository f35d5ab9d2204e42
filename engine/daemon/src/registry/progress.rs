//! Docker's JSON progress messages for pull and push (`jsonmessage.JSONMessage`), sent as they
//! happen to whoever is listening (the `/images/create` response, or nobody).

use berth_api::types::{BuildInfo, ErrorDetail, ProgressDetail};
use tokio::sync::mpsc;

use super::RegistryError;

/// What a pull or push tells its client: a message, or the error that ended it.
#[derive(Debug)]
pub enum ProgressEvent {
    Message(BuildInfo),
    Failed(RegistryError),
}

/// Where progress messages go. Cloned freely; a client that went away is not an error.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    sender: Option<mpsc::UnboundedSender<ProgressEvent>>,
}

impl Progress {
    /// Progress sent to a channel.
    pub fn channel() -> (Progress, mpsc::UnboundedReceiver<ProgressEvent>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Progress { sender: Some(sender) }, receiver)
    }

    /// Progress nobody reads.
    pub fn discard() -> Progress {
        Progress::default()
    }

    pub fn send(&self, message: BuildInfo) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(ProgressEvent::Message(message));
        }
    }

    /// End the stream with an error.
    pub fn fail(&self, error: RegistryError) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(ProgressEvent::Failed(error));
        }
    }

    /// `{"status":"…"}`, or `{"status":"…","id":"…"}`.
    pub fn status(&self, id: Option<&str>, status: impl Into<String>) {
        self.send(BuildInfo {
            status: Some(status.into()),
            id: id.map(str::to_owned),
            ..BuildInfo::default()
        });
    }

    /// A step of one layer: `{"status":"Pull complete","progressDetail":{},"id":"…"}`.
    pub fn layer(&self, id: &str, status: impl Into<String>) {
        self.send(BuildInfo {
            status: Some(status.into()),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id.to_owned()),
            ..BuildInfo::default()
        });
    }

    /// Bytes of a layer done: `{"status":"Downloading","progressDetail":{"current":…,"total":…},"progress":"[=> ] …"}`.
    pub fn bytes(&self, id: &str, status: &str, current: u64, total: u64) {
        self.send(BuildInfo {
            status: Some(status.to_owned()),
            progress_detail: Some(ProgressDetail {
                current: Some(current as i64),
                total: Some(total as i64),
            }),
            progress: Some(progress_bar(current, total)),
            id: Some(id.to_owned()),
            ..BuildInfo::default()
        });
    }

    /// `{"progressDetail":{},"aux":{…}}` (push's digest record).
    pub fn aux(&self, value: serde_json::Value) {
        self.send(BuildInfo {
            progress_detail: Some(ProgressDetail::default()),
            aux: Some(value),
            ..BuildInfo::default()
        });
    }
}

/// An error inside a progress stream, as Docker writes it once output has begun.
pub fn error_message(message: String) -> BuildInfo {
    BuildInfo {
        error_detail: Some(ErrorDetail {
            code: None,
            message: message.clone(),
        }),
        error: Some(message),
        ..BuildInfo::default()
    }
}

/// Docker's `JSONProgress.String()` as a daemon renders it (wide, no time left):
/// `[=====>                                             ]  1.049MB/9.24MB`.
pub fn progress_bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let percent = ((current as f64 / total as f64 * 100.0) as usize / 2).min(50);
    let bar = format!("[{}>{}] ", "=".repeat(percent), " ".repeat(50 - percent));
    let numbers = if current > total {
        format!("{:>8}", human_size(current))
    } else {
        format!("{:>8}/{}", human_size(current), human_size(total))
    };
    bar + &numbers
}

/// go-units `HumanSize`: decimal units, four significant digits (`36.45kB`, `3.001MB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g4(size), UNITS[unit])
}

/// Go's `%.4g` for 0 ≤ x < 1000: four significant digits, trailing zeros dropped.
fn format_g4(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let digits_before_point = (x.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (4 - digits_before_point).max(0) as usize;
    let mut text = format!("{x:.decimals$}");
    // Rounding may have made one more digit (999.95 → "1000.0"): Go prints "1000" then.
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(36445), "36.45kB");
        assert_eq!(human_size(32768), "32.77kB");
        assert_eq!(human_size(3_001_119), "3.001MB");
        assert_eq!(human_size(1_000_000), "1MB");
        assert_eq!(human_size(104_857_600), "104.9MB");
        assert_eq!(human_size(1_234), "1.234kB");
    }

    #[test]
    fn bars_match_dockers_daemon_output() {
        assert_eq!(
            progress_bar(36445, 3_001_119),
            "[>                                                  ]  36.45kB/3.001MB"
        );
        assert_eq!(
            progress_bar(3_001_120, 3_001_120),
            "[==================================================>]  3.001MB/3.001MB"
        );
    }

    #[test]
    fn messages_have_dockers_shape() {
        let (progress, mut events) = Progress::channel();
        progress.layer("12b9246d3bc0", "Pull complete");
        progress.bytes("12b9246d3bc0", "Downloading", 1, 2);
        let Some(ProgressEvent::Message(first)) = events.try_recv().ok() else {
            panic!("a message")
        };
        assert_eq!(
            serde_json::to_string(&first).unwrap(),
            r#"{"status":"Pull complete","progressDetail":{},"id":"12b9246d3bc0"}"#
        );
        let Some(ProgressEvent::Message(second)) = events.try_recv().ok() else {
            panic!("a message")
        };
        assert_eq!(second.progress_detail.unwrap().total, Some(2));
    }
}
