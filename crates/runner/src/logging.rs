//! Log lines (tracing, filtered by `RUST_LOG`, default `info`): on stderr, or above the
//! progress bars when they are drawn.

use std::io::Write as _;

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Starts logging; with `multi`, lines are printed above its bars.
pub fn init(multi: Option<MultiProgress>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match multi {
        Some(m) => builder.without_time().with_writer(AboveBars(m)).try_init(),
        None => builder
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .try_init(),
    };
}

/// Writes each log line above the progress bars.
#[derive(Clone)]
struct AboveBars(MultiProgress);

/// Collects one event, printed when dropped.
struct Line {
    multi: MultiProgress,
    buf: Vec<u8>,
}

impl std::io::Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end();
        if !text.is_empty() && self.multi.println(text).is_err() {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}

impl<'a> MakeWriter<'a> for AboveBars {
    type Writer = Line;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            multi: self.0.clone(),
            buf: Vec::new(),
        }
    }
}
