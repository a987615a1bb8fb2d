//! Interrupt and termination signals end a command cleanly.

/// Resolves on Ctrl-C or (on unix) SIGTERM.
pub(crate) async fn stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
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
