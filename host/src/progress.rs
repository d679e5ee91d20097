//! Progress on stderr while bytes move, when someone is watching: a bar on
//! a terminal; with `--progress` off a terminal (a CI log, a file), plain
//! lines every few seconds or every tenth of the way, since a redrawn bar
//! is invisible or noise there.

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the counter is read.
const TICK: Duration = Duration::from_millis(200);
/// Off a terminal, a line at least this often...
const LINE_EVERY: Duration = Duration::from_secs(5);
/// ...and whenever another tenth of the total has moved.
const LINE_STEPS: u64 = 10;

/// Polls a byte counter and shows it; shows nothing when disabled.
pub struct Progress {
    counter: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    painter: Option<JoinHandle<()>>,
}

impl Progress {
    /// A bar when stderr is a terminal; plain lines when it is not and
    /// `forced` (`--progress`); otherwise nothing. `total` 0 is unknown.
    pub fn start(total: u64, forced: bool, label: &'static str) -> Self {
        let counter = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (polled, stopped) = (Arc::clone(&counter), Arc::clone(&stop));
        let painter = match (std::io::stderr().is_terminal(), forced) {
            (true, _) => Some(std::thread::spawn(move || {
                draw_bar(total, label, &polled, &stopped)
            })),
            (false, true) => Some(std::thread::spawn(move || {
                print_lines(total, label, &polled, &stopped)
            })),
            (false, false) => None,
        };
        Self {
            counter,
            stop,
            painter,
        }
    }

    pub fn counter(&self) -> &AtomicU64 {
        &self.counter
    }
}

fn draw_bar(total: u64, label: &'static str, counter: &AtomicU64, stop: &AtomicBool) {
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(label);
    while !stop.load(Ordering::Relaxed) {
        bar.set_position(counter.load(Ordering::Relaxed));
        std::thread::sleep(TICK);
    }
    bar.set_position(counter.load(Ordering::Relaxed));
    bar.finish_and_clear();
}

fn print_lines(total: u64, label: &'static str, counter: &AtomicU64, stop: &AtomicBool) {
    let started = Instant::now();
    let mut last_line = started;
    let mut last_step = 0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let done = counter.load(Ordering::Relaxed);
        let step = (total > 0).then(|| done.min(total) * LINE_STEPS / total);
        let stepped = step.is_some_and(|step| step > last_step);
        if stepped || last_line.elapsed() >= LINE_EVERY {
            eprintln!("{}", line(label, done, total, started.elapsed()));
            last_line = Instant::now();
            last_step = step.unwrap_or(last_step);
        }
    }
}

/// `publishing: 45.2 MiB of 95.0 MiB (47%), 35.1 MiB/s, eta 1 second`.
fn line(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
    let speed = format!("{}/s", HumanBytes(rate as u64));
    if total == 0 {
        return format!("{label}: {}, {speed}", HumanBytes(done));
    }
    let left = total.saturating_sub(done) as f64 / rate.max(1.0);
    format!(
        "{label}: {} of {} ({}%), {speed}, eta {}",
        HumanBytes(done),
        HumanBytes(total),
        done.min(total) * 100 / total,
        HumanDuration(Duration::from_secs_f64(left.min(1e7))),
    )
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(painter) = self.painter.take() {
            let _ = painter.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_how_far_how_fast_and_how_long() {
        let known = line("publishing", 50 << 20, 100 << 20, Duration::from_secs(2));
        assert_eq!(
            known,
            "publishing: 50.00 MiB of 100.00 MiB (50%), 25.00 MiB/s, eta 2 seconds"
        );
        let unknown = line("fetching", 10 << 20, 0, Duration::from_secs(2));
        assert_eq!(unknown, "fetching: 10.00 MiB, 5.00 MiB/s");
    }
}
