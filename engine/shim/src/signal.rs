//! Signal names and numbers, parsed the way Docker's `signal.ParseSignal` does.

use std::str::FromStr;

use nix::sys::signal::Signal;

/// Parse `"9"`, `"KILL"`, `"SIGKILL"` or `"sigkill"` into a signal number; `None` when it is not
/// a signal this kernel has (0 is not a signal either).
pub fn parse_signal(text: &str) -> Option<i32> {
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).ok().map(|s| s as i32);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    Signal::from_str(&format!("SIG{name}")).ok().map(|s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_docker_spellings() {
        for text in ["9", "KILL", "SIGKILL", "sigkill", "kill"] {
            assert_eq!(parse_signal(text), Some(9), "{text}");
        }
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("SIGWINCH"), Some(28));
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        for text in ["0", "-1", "999", "SIGNOPE", ""] {
            assert_eq!(parse_signal(text), None, "{text}");
        }
    }
}
