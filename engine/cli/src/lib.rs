//! berth's command line as a library: only the clap definitions, so tools such as the book's
//! reference (`cargo xtask book`) read the commands and flags from the same source the binary
//! parses with. What each command does stays in the binary (`src/commands`).

/// The command line's shape (clap definitions), as Docker 20.10's.
pub mod cli;
