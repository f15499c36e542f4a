//! The cluster's token on the command line: from `HISTO_TOKEN` or
//! `--token-file`, never a flag value (it would show in `ps`). `serve` and
//! `master` guard the HTTP API with it; masters, `equalize --zk` and
//! workers authenticate the worker RPC with it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use histo_cluster::token::Token;

/// Where the token comes from.
#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    /// File holding the cluster's token (default: the HISTO_TOKEN variable).
    #[arg(long, env = "HISTO_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
}

impl TokenArgs {
    /// The token, if one is configured.
    pub fn read(&self) -> Result<Option<Token>> {
        read(std::env::var_os("HISTO_TOKEN"), self.token_file.as_deref())
    }
}

fn read(env: Option<OsString>, file: Option<&Path>) -> Result<Option<Token>> {
    match (env, file) {
        (Some(_), Some(_)) => bail!("HISTO_TOKEN and --token-file (HISTO_TOKEN_FILE) are both set; use one"),
        (Some(value), None) => {
            let value = value.into_string().map_err(|_| anyhow::anyhow!("HISTO_TOKEN is not valid UTF-8"))?;
            Ok(Some(Token::new(&value).context("HISTO_TOKEN")?))
        }
        (None, Some(path)) => {
            let meta = std::fs::metadata(path).with_context(|| format!("cannot read token file {}", path.display()))?;
            if meta.len() > 4096 {
                bail!("token file {} is {} bytes; a token is a short line", path.display(), meta.len());
            }
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read token file {}", path.display()))?;
            Ok(Some(Token::new(&text).with_context(|| format!("token file {}", path.display()))?))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_sources() {
        let dir = std::env::temp_dir().join(format!("histo-token-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let t = read(None, Some(&file)).unwrap().unwrap();
        assert!(t.matches("from-file"));
        let t = read(Some("from-env".into()), None).unwrap().unwrap();
        assert!(t.matches("from-env"));
        assert!(read(Some("x".into()), Some(&file)).is_err());
        assert!(read(Some("".into()), None).is_err());
        assert!(read(None, Some(&dir.join("missing"))).is_err());
        assert!(read(None, None).unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
