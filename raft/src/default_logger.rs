//! The logger [`RawNode::with_default_logger`](crate::RawNode::with_default_logger)
//! gives a first program: human-readable lines on stderr at INFO and above,
//! so the core's per-message and per-commit DEBUG lines stay quiet in debug
//! and release builds alike.

use std::io::Write;

use slog::{Drain, Level, LevelFilter, Logger, o};

/// A synchronous `slog-term` logger writing to `w`, dropping everything
/// below INFO.
pub(crate) fn logger_to<W: Write + Send + 'static>(w: W) -> Logger {
    let decorator = slog_term::PlainSyncDecorator::new(w);
    let drain = slog_term::FullFormat::new(decorator).build();
    let drain = LevelFilter::new(drain, Level::Info).fuse();
    Logger::root(drain, o!())
}

/// [`logger_to`] on stderr.
pub(crate) fn stderr_logger() -> Logger {
    logger_to(std::io::stderr())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::storage::MemStorage;
    use crate::{Config, RawNode};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 12: "debug builds do not print a DEBUG line per commit by
    /// default". A single-node cluster commits 50 proposals through the
    /// default logger: the INFO lines of its election are there, no DEBUG
    /// line is, and the output does not grow with the number of commits.
    #[test]
    fn default_logger_prints_info_but_no_debug_line_per_commit() {
        let out = Shared::default();
        let store = MemStorage::new_with_conf_state((vec![1], vec![]));
        let mut node = RawNode::new(&Config::new(1), store.clone(), &logger_to(out.clone()))
            .expect("raw node");
        node.campaign().expect("campaign");
        let mut committed = 0;
        let mut drive = |node: &mut RawNode<MemStorage>| {
            while node.has_ready() {
                let rd = node.ready();
                let mut core = store.wl();
                core.append(&rd.entries).expect("append");
                if let Some(hs) = &rd.hs {
                    core.set_hardstate(*hs);
                }
                drop(core);
                committed += rd.committed_entries.len();
                node.advance(rd);
            }
        };
        drive(&mut node);
        let after_election = out.0.lock().expect("log").len();
        for i in 0..50 {
            node.propose("", format!("cmd {i}")).expect("propose");
            drive(&mut node);
        }
        let text = String::from_utf8(out.0.lock().expect("log").clone()).expect("utf-8 log");
        assert_eq!(committed, 51, "the empty entry and 50 proposals");
        assert!(text.contains("INFO"), "no INFO line at all:\n{text}");
        assert!(!text.contains("DEBG"), "a DEBUG line got through:\n{text}");
        assert_eq!(
            text.len(),
            after_election,
            "committing printed lines:\n{text}"
        );
    }
}
