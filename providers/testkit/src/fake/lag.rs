//! Eventual consistency: an object a write created stays out of listings
//! for the next N list reads (as moto's manual state transitions), so a
//! client that re-reads right after writing meets what real services do.

use std::collections::HashMap;

/// Objects hidden from listings, and for how many more reads.
#[derive(Debug, Default)]
pub struct Lag {
    reads: usize,
    hidden: HashMap<String, usize>,
}

impl Lag {
    /// From now on, each object written stays invisible for `reads` list
    /// reads (0: at once visible, the default).
    pub fn set(&mut self, reads: usize) {
        self.reads = reads;
    }

    /// A store wrote the object `id`.
    pub fn written(&mut self, id: &str) {
        if self.reads > 0 {
            self.hidden.insert(id.to_string(), self.reads);
        }
    }

    /// One list read: returns whether each id it would show is visible,
    /// through `keep`, and counts the read against every hidden object.
    pub fn list_read(&mut self) -> impl Fn(&str) -> bool {
        let hidden: Vec<String> = self.hidden.keys().cloned().collect();
        self.hidden.retain(|_, n| {
            *n -= 1;
            *n > 0
        });
        move |id| !hidden.iter().any(|h| h == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_for_n_reads_then_visible() {
        let mut lag = Lag::default();
        lag.written("a");
        assert!(lag.list_read()("a"), "no lag by default");
        lag.set(2);
        lag.written("b");
        assert!(!lag.list_read()("b"));
        assert!(!lag.list_read()("b"));
        let visible = lag.list_read();
        assert!(visible("b") && visible("a"));
    }
}
