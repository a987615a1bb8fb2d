//! The loop of the line-driven commands (`chat`, `jsonrpc`): lines read by a thread of
//! their own, the stop signals, and the account's events, taken in turn until the input
//! ends, the command says to stop, or a signal arrives.
use crate::fail::Fail;
use esession_client::{Account, ClientEvent};
use esession_store::SqliteStore;
use std::time::Duration;
use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedReceiver};

/// Longest wait for network events before reading lines again.
const POLL: Duration = Duration::from_millis(50);

/// What the input side produced.
pub(crate) enum Input {
    Line(String),
    End,
}

/// What a command does with the lines and the events.
pub(crate) trait Lines {
    /// Acts on one line; `false` to stop.
    async fn line(
        &mut self,
        account: &mut Account<SqliteStore>,
        line: String,
    ) -> Result<bool, Fail>;

    /// Shows one event of the account.
    fn event(&mut self, event: &ClientEvent);
}

/// Reads the lines of `source` (made on the thread) on a thread of its own, then
/// [`Input::End`]. A thread, not a task: a read that never completes would keep the
/// runtime from shutting down; the thread ends with the process.
pub(crate) fn read_lines<I>(source: impl FnOnce() -> I + Send + 'static) -> UnboundedReceiver<Input>
where
    I: Iterator<Item = String>,
{
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in source() {
            if tx.send(Input::Line(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::End);
    });
    rx
}

/// Hands `command` the lines read and the account's events until the input ends,
/// `command` stops, or a signal arrives (Ctrl-C, SIGTERM, SIGHUP).
pub(crate) async fn serve(
    account: &mut Account<SqliteStore>,
    command: &mut impl Lines,
    input: &mut UnboundedReceiver<Input>,
) -> Result<(), Fail> {
    let mut stop = crate::signals::stop_channel();
    loop {
        loop {
            match input.try_recv() {
                Ok(Input::Line(line)) => {
                    if !command.line(account, line).await? {
                        return Ok(());
                    }
                }
                Ok(Input::End) | Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) => break,
            }
        }
        if stop.try_recv().is_ok() {
            return Ok(());
        }
        if let Some(ev) = account.next_event(POLL).await? {
            command.event(&ev);
        }
    }
}
