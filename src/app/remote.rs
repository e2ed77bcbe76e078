//! The app's link to a `lantern serve` on another machine ("Compute ▸ Connect to a server…"):
//! connecting runs as a background task, the worker then computes on the server's device, a
//! round trip every [`CHECK_EVERY`] notices a server that went away, and a lost server puts the
//! worker back on the local device with a message. The open images, settings and audit never
//! depend on the link: only the models are loaded again on the new device.

use super::settings::ServerChoice;
use web_time::{Duration, Instant};

/// How often the app asks an idle server whether it is still there.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// Where the worker computes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Link {
    /// On this machine.
    #[default]
    Local,
    /// Connecting to this server (the worker still computes locally).
    Connecting(String),
    /// On this server, last checked or used at `checked`.
    Remote { server: String, checked: Instant },
}

/// The link and the "Connect to a server" window.
#[derive(Debug, Default)]
pub struct RemoteState {
    pub link: Link,
    /// The window's fields as edited (`None`: the window is closed).
    pub form: Option<ServerChoice>,
    /// A round trip is on its way to the worker.
    checking: bool,
}

impl RemoteState {
    /// Whether the worker computes on a server.
    pub fn remote(&self) -> Option<&str> {
        match &self.link {
            Link::Remote { server, .. } => Some(server),
            _ => None,
        }
    }

    pub fn connecting(&self) -> Option<&str> {
        match &self.link {
            Link::Connecting(server) => Some(server),
            _ => None,
        }
    }

    /// The worker now computes on `server` (`None`: locally).
    pub fn changed(&mut self, server: Option<String>) {
        self.checking = false;
        self.link = match server {
            Some(server) => Link::Remote { server, checked: Instant::now() },
            None => Link::Local,
        };
    }

    /// Whether it is time to ask the server for a round trip (and note that one is on its way).
    pub fn check_due(&mut self) -> bool {
        match &self.link {
            Link::Remote { checked, .. } if !self.checking && checked.elapsed() >= CHECK_EVERY => {
                self.checking = true;
                true
            }
            _ => false,
        }
    }

    /// A round trip came back.
    pub fn checked(&mut self) {
        self.checking = false;
        if let Link::Remote { checked, .. } = &mut self.link {
            *checked = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_due_once_per_period_and_only_when_remote() {
        let mut r = RemoteState::default();
        assert!(!r.check_due(), "nothing to check locally");
        r.link = Link::Connecting("ws://gpu:3000".into());
        assert!(!r.check_due(), "nothing to check while connecting");
        r.changed(Some("remote: ws://gpu:3000".into()));
        assert_eq!(r.remote(), Some("remote: ws://gpu:3000"));
        assert!(!r.check_due(), "just connected");
        r.link = Link::Remote { server: "s".into(), checked: Instant::now() - CHECK_EVERY };
        assert!(r.check_due());
        assert!(!r.check_due(), "one round trip at a time");
        r.checked();
        assert!(!r.check_due(), "checked just now");
        r.changed(None);
        assert_eq!(r.link, Link::Local);
    }
}
