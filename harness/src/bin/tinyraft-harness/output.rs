//! Standard output that ends the process quietly when the reader has gone
//! away (`tinyraft-harness replay … | head`): a failed write exits with
//! status 141 (128 + SIGPIPE, what a shell reports for a process killed by
//! a closed pipe) instead of panicking as `println!` does.

use std::io::Write;

/// Exit status after a write to a closed pipe.
pub const CLOSED_PIPE: i32 = 141;

/// Writes one line to standard output, or exits quietly if it cannot.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").and_then(|()| out.flush()).is_err() {
        std::process::exit(CLOSED_PIPE);
    }
}

/// Maps a write error to a message, or exits quietly if it is a closed
/// pipe (`--trace /dev/stdout | head`).
pub fn write_error(path: &str, e: std::io::Error) -> String {
    let closed = |k: Option<std::io::ErrorKind>| k == Some(std::io::ErrorKind::BrokenPipe);
    // A JSON writer's failure wraps the io error.
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<serde_json::Error>())
        .and_then(|j| j.io_error_kind());
    if closed(Some(e.kind())) || closed(inner) {
        std::process::exit(CLOSED_PIPE);
    }
    format!("{path}: {e}")
}

/// `println!` through [`line`].
#[macro_export]
macro_rules! out {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($t:tt)*) => {
        $crate::output::line(format_args!($($t)*))
    };
}
