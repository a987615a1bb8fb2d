//! Interrupt, termination and hang-up signals end a command cleanly: its sessions are
//! terminated and the contacts told (XEP-0116 §5), as on `/quit` or the end of input.

/// A channel that receives `()` on the first of the signals [`stop`] waits for (read with
/// `try_recv` by loops that must not cancel a read of the stream).
pub(crate) fn stop_channel() -> tokio::sync::mpsc::UnboundedReceiver<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        stop().await;
        let _ = tx.send(());
    });
    rx
}

/// Resolves on Ctrl-C or (on unix) SIGTERM or SIGHUP (the terminal closed).
pub(crate) async fn stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Resolves as [`stop`] does, or on SIGHUP (the terminal went away).
pub(crate) async fn stop_or_hangup() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut hangup) = signal(SignalKind::hangup()) {
            tokio::select! {
                () = stop() => {}
                _ = hangup.recv() => {}
            }
            return;
        }
    }
    stop().await;
}
