//! What every layer uses and that knows none of them: ids, the clock, secrets, a cache.

pub mod cache;
pub mod calendar;
pub mod clock;
pub mod ids;
pub mod metrics;
pub mod secrets;
