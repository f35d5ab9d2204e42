//! OS errors as Go prints them, so berthd's messages read as Docker's do.

/// "No such file or directory (os error 2)" → "no such file or directory".
pub fn text(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_errors_read_as_gos() {
        let error = std::io::Error::from_raw_os_error(libc::ENODEV);
        assert_eq!(super::text(&error), "no such device");
    }
}
