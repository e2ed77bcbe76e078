//! A playlist being presented: which step is shown, and whether its layer and class still wait
//! for the model (they are checked against the model's layers and labels once it is loaded).

use crate::playlist::{Playlist, Step};

/// The open playlist and its current step.
#[derive(Debug, Clone, PartialEq)]
pub struct Talk {
    pub playlist: Playlist,
    /// The current step (an index into `playlist.steps`).
    pub index: usize,
    /// The current step's layer and class are not applied yet (the model is loading).
    pub waiting_for_model: bool,
}

impl Talk {
    /// A talk at its first step.
    pub fn new(playlist: Playlist) -> Self {
        Self { playlist, index: 0, waiting_for_model: true }
    }

    pub fn step(&self) -> &Step {
        &self.playlist.steps[self.index]
    }

    /// Move by `delta` steps, staying within the playlist; whether the step changed.
    pub fn advance(&mut self, delta: isize) -> bool {
        let last = self.playlist.steps.len() - 1;
        let next = self.index.saturating_add_signed(delta).min(last);
        let moved = next != self.index;
        self.index = next;
        if moved {
            self.waiting_for_model = true;
        }
        moved
    }

    /// "Step 2 of 6", with the title when the playlist has one.
    pub fn position(&self) -> String {
        let n = self.playlist.steps.len();
        match &self.playlist.title {
            Some(title) => format!("{title} · step {} of {n}", self.index + 1),
            None => format!("Step {} of {n}", self.index + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_stay_within_the_playlist() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/talk.toml");
        let mut talk = Talk::new(Playlist::read(&path).unwrap());
        let n = talk.playlist.steps.len();
        talk.waiting_for_model = false;
        assert!(!talk.advance(-1), "no step before the first");
        assert!(!talk.waiting_for_model);
        assert!(talk.advance(1));
        assert_eq!(talk.index, 1);
        assert!(talk.waiting_for_model, "a new step's layer and class wait for the model");
        assert!(talk.advance(100));
        assert_eq!(talk.index, n - 1);
        assert!(!talk.advance(1));
        assert!(talk.position().ends_with(&format!("step {n} of {n}")), "{}", talk.position());
    }
}
