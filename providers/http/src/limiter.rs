//! A token bucket: at most `requests` per `per`, with bursts up to the
//! whole allowance, as the providers' published limits are stated.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// A published request limit, e.g. Cloudflare's 1,200 per 5 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

pub(crate) struct TokenBucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub(crate) fn new(limit: RateLimit) -> TokenBucket {
        TokenBucket {
            limit,
            state: Mutex::new((limit.requests as f64, Instant::now())),
        }
    }

    fn rate(&self) -> f64 {
        self.limit.requests as f64 / self.limit.per.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Waits until a request may be sent, then takes its `n` tokens: one
    /// per API call it carries (a batch carries many, each counted against
    /// the provider's quota). A batch larger than the whole allowance waits
    /// for a full bucket and leaves it in debt, so the average rate holds.
    pub(crate) async fn acquire_n(&self, n: u32) {
        let n = n.max(1) as f64;
        let need = n.min(self.limit.requests as f64);
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                let refill = now.duration_since(state.1).as_secs_f64() * self.rate();
                state.0 = (state.0 + refill).min(self.limit.requests as f64);
                state.1 = now;
                if state.0 >= need {
                    state.0 -= n;
                    return;
                }
                Duration::from_secs_f64((need - state.0) / self.rate())
            };
            tokio::time::sleep(wait).await;
        }
    }
}
