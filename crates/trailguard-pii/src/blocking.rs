//! CPU-heavy work (decoding, OCR, face detection) off the async runtime's threads.

use crate::error::PiiDetectError;

/// Runs `work` on tokio's blocking pool when called inside a tokio runtime, else right here (a
/// caller without tokio has no runtime threads to protect). A panic in `work` is reported as
/// [`PiiDetectError::Internal`], not propagated.
pub async fn run_blocking<T, F>(work: F) -> Result<T, PiiDetectError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(|error| PiiDetectError::Internal(error.to_string())),
        Err(_) => Ok(work()),
    }
}
