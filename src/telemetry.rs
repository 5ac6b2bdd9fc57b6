//! Logging: one structured line per event on standard error, filtered like `RUST_LOG`.

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Where actix-http reports connections it gave up on before any request reached the
/// application: oversized or garbled request heads, clients that went away. It logs
/// them at ERROR, but they are the client's doing, and anyone could fill an operator's
/// error alerts with them.
const CONNECTION_LEVEL: &str = "actix_http::h1";

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter_fn(|meta| !is_client_fault(meta)));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        // Outermost, so that the line layer has finished with the original event when
        // this one logs it again (a nested event would otherwise confuse its filter).
        .with(ClientFaults)
        .try_init();
}

fn is_client_fault(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::ERROR && meta.target().starts_with(CONNECTION_LEVEL)
}

/// Logs actix-http's connection errors again at INFO, under a name of ours.
struct ClientFaults;

impl<S: Subscriber> Layer<S> for ClientFaults {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if !is_client_fault(event.metadata()) {
            return;
        }
        let mut reason = Message(String::new());
        event.record(&mut reason);
        tracing::info!(reason = %reason.0, "refused a request before routing");
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }
}
