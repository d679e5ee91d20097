//! SIGINT, SIGTERM and SIGHUP: the first one asks the running command to
//! stop, a second one ends the process at once.
//!
//! A cancelled Woodpecker step gets SIGTERM and, after a grace period,
//! SIGKILL; a person presses Ctrl-C. Either way the command must stop soon
//! and leave nothing behind: no multipart upload, no unregistered object, no
//! half-written output file. So the first signal is only recorded here, and
//! the command notices it where it waits: [`Checked`] readers fail their
//! next read (the seal and open pipelines then wind down, every stage seeing
//! the others stop), and async code races its requests against [`wait`].
//! The command then cleans up what it started, and `main` reports the
//! failure with exit code 128 + the signal. Someone who sends the signal a
//! second time does not want to wait for that: the process exits at once.

use std::io::{self, Read};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicI32, Ordering};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// The first signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The same, for async code to wait on.
static NOTIFY: LazyLock<watch::Sender<i32>> = LazyLock::new(|| watch::channel(0).0);

/// A signal that stopped (or is stopping) the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped by {}", self.name())]
pub struct Interrupted(pub i32);

impl Interrupted {
    pub fn name(self) -> String {
        match self.0 {
            libc::SIGINT => "SIGINT".into(),
            libc::SIGTERM => "SIGTERM".into(),
            libc::SIGHUP => "SIGHUP".into(),
            other => format!("signal {other}"),
        }
    }

    /// The conventional exit code of a process ended by this signal.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(u8::MAX)
    }
}

/// Handles the signals from now on. The handlers are registered before this
/// returns, so a signal that arrives while the command starts is not lost.
pub fn install() -> io::Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => return drop(ready_tx.send(Err(err))),
            };
            runtime.block_on(async move {
                let streams = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
                    .map(|number| signal(SignalKind::from_raw(number)).map(|s| (number, s)));
                let [mut int, mut term, mut hup] = match streams {
                    [Ok(int), Ok(term), Ok(hup)] => [int, term, hup],
                    [Err(err), ..] | [_, Err(err), _] | [.., Err(err)] => {
                        return drop(ready_tx.send(Err(err)));
                    }
                };
                let _ = ready_tx.send(Ok(()));
                loop {
                    let number = tokio::select! {
                        _ = int.1.recv() => int.0,
                        _ = term.1.recv() => term.0,
                        _ = hup.1.recv() => hup.0,
                    };
                    received_signal(number);
                }
            });
        })?;
    ready_rx
        .recv()
        .map_err(|_| io::Error::other("could not watch for SIGINT, SIGTERM and SIGHUP"))?
}

fn received_signal(number: i32) {
    let signal = Interrupted(number);
    if RECEIVED
        .compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        write_stderr(&format!(
            "publish-artifact: {} again: exiting at once, without cleaning up\n",
            signal.name()
        ));
        // SAFETY: `_exit` ends the process without running anything else;
        // that is the point of a second signal.
        unsafe { libc::_exit(i32::from(signal.exit_code())) }
    }
    write_stderr(&format!(
        "publish-artifact: {}: stopping and cleaning up (send it again to exit at once)\n",
        signal.name()
    ));
    NOTIFY.send_replace(number);
}

/// Straight to file descriptor 2: the stderr lock may be held by a thread
/// that a signal interrupted.
fn write_stderr(text: &str) {
    // SAFETY: a plain write(2) of a valid buffer; a short or failed write of
    // a diagnostic is acceptable.
    unsafe {
        libc::write(2, text.as_ptr().cast(), text.len());
    }
}

/// Makes sure the process ends within `limit` of returning from `main`
/// with `code`. Exiting runs code that is not ours (atexit handlers, the C
/// library's stream flushing, destructors of linked C libraries), and one
/// run of issue #14 printed its error and never exited; whatever holds an
/// exit up, this ends the process anyway.
pub fn exit_within(limit: std::time::Duration, code: u8) {
    let watchdog = std::thread::Builder::new()
        .name("exit-watchdog".into())
        .spawn(move || {
            std::thread::sleep(limit);
            write_stderr("publish-artifact: exiting took too long; forcing it\n");
            // SAFETY: `_exit` ends the process at once, which is the point.
            unsafe { libc::_exit(i32::from(code)) }
        });
    if let Err(err) = watchdog {
        tracing::debug!("no exit watchdog: {err}");
    }
}

/// The signal received so far, if any.
pub fn received() -> Option<Interrupted> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        number => Some(Interrupted(number)),
    }
}

/// Resolves once a signal has been received (never, if none is).
pub async fn wait() -> Interrupted {
    let mut watching = NOTIFY.subscribe();
    let number = *watching
        .wait_for(|number| *number != 0)
        .await
        .expect("the sender is a static and never dropped");
    Interrupted(number)
}

/// Runs `future` unless a signal comes first.
pub async fn guard<F: Future>(future: F) -> Result<F::Output, Interrupted> {
    tokio::select! {
        biased;
        signal = wait() => Err(signal),
        output = future => Ok(output),
    }
}

/// The error a [`Checked`] reader returns once a signal was received.
pub fn as_io_error(signal: Interrupted) -> io::Error {
    io::Error::other(signal)
}

/// A reader that fails with [`Interrupted`] once a signal was received, so
/// that a pipeline reading from it winds down.
pub struct Checked<R>(pub R);

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(signal) = received() {
            return Err(as_io_error(signal));
        }
        self.0.read(buf)
    }
}
