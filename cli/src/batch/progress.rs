//! `import-batch`'s progress on stderr: a bar on a terminal (done/total, rate, ETA,
//! failures so far), else one plain line every few seconds (logs, CI, `nohup`).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use std::fmt::Write as FmtWrite;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often the plain line is printed.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: Option<u64>,
    done: u64,
    failed: u64,
    start: Instant,
}

impl Progress {
    pub fn new(total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = if total.is_some() {
                "{elapsed_precise} [{wide_bar}] {pos}/{len} {rate} ETA {eta} {msg}"
            } else {
                "{elapsed_precise} {spinner} {pos} rows {rate} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                // Whole rows per second (indicatif's own {per_sec} prints four decimals).
                let style = style.with_key("rate", |s: &ProgressState, w: &mut dyn FmtWrite| {
                    let _ = write!(w, "{:.0} rows/s", s.per_sec());
                });
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            total,
            done: 0,
            failed: 0,
            start: Instant::now(),
        }
    }

    /// One row finished.
    pub fn row(&mut self, ok: bool) {
        self.done += 1;
        if !ok {
            self.failed += 1;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if !ok {
                bar.set_message(format!("{} failed", self.failed));
            }
        }
    }

    /// The plain line, on a non-terminal (the bar draws itself).
    pub fn tick(&self) {
        if self.bar.is_none() {
            eprintln!("{}", self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        let rate = self.done as f64 / secs;
        let of = self.total.map_or_else(String::new, |t| format!("/{t}"));
        let eta = match self.total {
            Some(t) if rate > 0.0 && t > self.done => {
                format!(", ETA {}s", ((t - self.done) as f64 / rate).ceil())
            }
            _ => String::new(),
        };
        format!(
            "import-batch: {}{of} rows, {} failed, {rate:.1} rows/s{eta}",
            self.done, self.failed
        )
    }

    pub fn finish(&self) {
        match &self.bar {
            Some(bar) => {
                bar.finish();
                // The summary table starts on a line of its own.
                eprintln!();
            }
            None => eprintln!("{}", self.line()),
        }
    }
}
