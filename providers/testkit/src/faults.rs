//! Injected faults for fake servers: what a test asks a fake to do wrong,
//! and when.
//!
//! A fault matches requests by a name the fake gives each request (an RPC
//! action, a discovery method id, `"GET /users"`; any request when `None`),
//! lets `skip` matching requests through first, then fires `times` times.
//! What a kind means (HTTP 429, 500 after the write, a slow answer) is the
//! fake's own `K`.

/// One injected fault of kind `K`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault<K> {
    /// The request name it matches; any request when `None`.
    pub on: Option<String>,
    /// What goes wrong.
    pub kind: K,
    /// Matching requests let through before the fault fires.
    pub skip: usize,
    /// How many times it fires; `usize::MAX` for always.
    pub times: usize,
}

impl<K: Clone> Fault<K> {
    /// `kind` on the next request named `on` (any request when `None`).
    pub fn on(on: Option<&str>, kind: K) -> Fault<K> {
        Fault {
            on: on.map(str::to_string),
            kind,
            skip: 0,
            times: 1,
        }
    }

    /// Lets `n` matching requests through first.
    pub fn skip(mut self, n: usize) -> Fault<K> {
        self.skip = n;
        self
    }

    /// Fires `n` times (`usize::MAX`: always).
    pub fn times(mut self, n: usize) -> Fault<K> {
        self.times = n;
        self
    }
}

/// Takes the fault to apply to a request named `name`, if any: the first
/// matching fault, once its `skip` is used up; spent faults are removed.
pub fn take<K: Clone>(faults: &mut Vec<Fault<K>>, name: &str) -> Option<K> {
    take_where(faults, |on| on == name, |_| true)
}

/// Takes the first fault whose kind `want` accepts and whose `on` pattern
/// `named` accepts (a fault without `on` matches any request), once its
/// `skip` is used up; spent faults are removed.
pub fn take_where<K: Clone>(
    faults: &mut Vec<Fault<K>>,
    named: impl Fn(&str) -> bool,
    want: impl Fn(&K) -> bool,
) -> Option<K> {
    let pos = faults
        .iter()
        .position(|f| want(&f.kind) && f.on.as_deref().is_none_or(&named))?;
    let f = &mut faults[pos];
    if f.skip > 0 {
        f.skip -= 1;
        return None;
    }
    let kind = f.kind.clone();
    f.times = f.times.saturating_sub(1);
    if f.times == 0 {
        faults.remove(pos);
    }
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_fires_and_expires() {
        let mut faults = vec![Fault::on(Some("a"), 1).skip(1).times(2), Fault::on(None, 2)];
        assert_eq!(take(&mut faults, "b"), Some(2));
        assert_eq!(take(&mut faults, "a"), None);
        assert_eq!(take(&mut faults, "a"), Some(1));
        assert_eq!(take(&mut faults, "a"), Some(1));
        assert_eq!(take(&mut faults, "a"), None);
        assert!(faults.is_empty());
    }
}
