//! The two small pieces of a live feed: a one-frame mailbox where the newest frame replaces the
//! one nobody took ([`LatestSlot`]: never a queue, so a slow reader always gets the present, and
//! what it missed is counted), and a rate over the last seconds ([`Rate`]).

use std::collections::VecDeque;
use web_time::{Duration, Instant};

/// Holds the newest value put in. A value put in before the last one was taken is dropped and
/// counted; the newest one stays readable ([`Self::newest`]) after it was taken.
#[derive(Debug)]
pub struct LatestSlot<T> {
    newest: Option<T>,
    /// The newest value has not been taken.
    untaken: bool,
    put: u64,
    dropped: u64,
}

impl<T> Default for LatestSlot<T> {
    fn default() -> Self {
        Self { newest: None, untaken: false, put: 0, dropped: 0 }
    }
}

impl<T: Clone> LatestSlot<T> {
    /// Put `value` in, replacing (and counting as dropped) a value nobody took.
    pub fn put(&mut self, value: T) {
        if self.untaken {
            self.dropped += 1;
        }
        self.newest = Some(value);
        self.untaken = true;
        self.put += 1;
    }

    /// The newest value, if it was not taken yet; it is taken.
    pub fn take(&mut self) -> Option<T> {
        if !std::mem::replace(&mut self.untaken, false) {
            return None;
        }
        self.newest.clone()
    }

    /// The newest value put in, taken or not.
    pub fn newest(&self) -> Option<&T> {
        self.newest.as_ref()
    }

    /// How many values were put in.
    pub fn put_count(&self) -> u64 {
        self.put
    }

    /// How many values were replaced before anyone took them.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Events per second over the last [`Rate::WINDOW`]: the events in the window divided by the
/// window (or by the time since the first event, while that is shorter), so a rate falls to zero
/// when events stop.
#[derive(Debug, Default)]
pub struct Rate {
    first: Option<Instant>,
    ticks: VecDeque<Instant>,
}

impl Rate {
    pub const WINDOW: Duration = Duration::from_secs(2);

    /// One event, at `now`.
    pub fn tick(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.ticks.push_back(now);
        self.forget_before(now);
    }

    fn forget_before(&mut self, now: Instant) {
        while self.ticks.front().is_some_and(|t| now.saturating_duration_since(*t) > Self::WINDOW) {
            self.ticks.pop_front();
        }
    }

    /// Events per second at `now`.
    pub fn per_second(&self, now: Instant) -> f64 {
        let Some(first) = self.first else { return 0.0 };
        let span = now.saturating_duration_since(first).min(Self::WINDOW).as_secs_f64();
        let recent = self.ticks.iter().filter(|t| now.saturating_duration_since(**t) <= Self::WINDOW).count();
        if span <= 0.0 { 0.0 } else { recent as f64 / span }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_value_wins_what_nobody_took_is_counted_and_nothing_queues() {
        let mut slot = LatestSlot::default();
        assert_eq!(slot.take(), None);
        for frame in 1..=3 {
            slot.put(frame);
        }
        assert_eq!((slot.put_count(), slot.dropped()), (3, 2), "frames 1 and 2 were never taken");
        assert_eq!(slot.take(), Some(3), "the newest, not the oldest");
        assert_eq!(slot.take(), None, "taken once: no older frame waits behind it");
        assert_eq!(slot.newest(), Some(&3), "still shown after it was taken");
        slot.put(4);
        assert_eq!(slot.take(), Some(4));
        slot.put(5);
        assert_eq!(slot.dropped(), 2, "a frame put after a take replaces nothing");
    }

    #[test]
    fn a_rate_counts_the_events_of_the_last_two_seconds_and_falls_when_they_stop() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut rate = Rate::default();
        assert_eq!(rate.per_second(start), 0.0);
        // 10 events a second for 3 seconds.
        for i in 0..30 {
            rate.tick(at(i * 100));
        }
        assert!((rate.per_second(at(2_950)) - 10.0).abs() < 0.6, "{}", rate.per_second(at(2_950)));
        // Half a second in: 6 events (at 0, 100, ..., 500) over half a second.
        let mut young = Rate::default();
        (0..6).for_each(|i| young.tick(at(i * 100)));
        assert!((young.per_second(at(500)) - 12.0).abs() < 1e-6);
        assert_eq!(rate.per_second(at(10_000)), 0.0, "nothing in the last two seconds");
    }
}
