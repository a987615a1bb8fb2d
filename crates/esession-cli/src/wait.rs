//! Waiting for engine events with a bound, printing and recording every event seen.
use crate::account::History;
use crate::fail::Fail;
use crate::output::Out;
use esession::Event;
use esession_store::SqliteStore;
use esession_xmpp::Client;
use std::time::Duration;
use tokio::time::Instant;

/// Reads events for up to `limit`, printing each, until `pick` returns `Some`. `Ok(None)`
/// when the time ran out.
pub(crate) async fn wait_for<T>(
    client: &mut Client<SqliteStore>,
    history: &mut History,
    out: Out,
    limit: Duration,
    mut pick: impl FnMut(&Event) -> Option<Result<T, Fail>>,
) -> Result<Option<T>, Fail> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        if let Some(ev) = client.next_event(left).await? {
            history.note(client, &ev);
            if let Some(result) = pick(&ev) {
                // A failure is reported by the caller, once: as the command's error, or as
                // why the contact looks offline (a bounced request).
                if !matches!(ev, Event::Failed { .. }) {
                    out.event(&ev);
                }
                return result.map(Some);
            }
            out.event(&ev);
        }
    }
}
