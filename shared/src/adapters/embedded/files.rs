//! Directory-backed adapters: export bundles in a blob directory, and the
//! retiring product's data as one directory per customer id.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use crate::domain::CustomerId;
use crate::ports::{BlobStore, Erased, PortError, PortResult, ProductData, ProductFile};

/// Maps a `/`-separated key to a path under `root`, refusing anything that
/// could leave it.
fn key_path(root: &Path, key: &str) -> PortResult<PathBuf> {
    let rel = Path::new(key);
    if key.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(PortError::permanent(anyhow::anyhow!(
            "blob key '{key}' is not a plain relative path"
        )));
    }
    Ok(root.join(rel))
}

fn io(e: std::io::Error) -> PortError {
    PortError::retryable(e)
}

/// Every regular file under `dir`, relative paths with `/`, sorted.
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Overwrites a file with zeros, syncs, then unlinks it: the bytes do not
/// stay readable in the freed blocks of a file system that writes in place.
fn shred(path: &Path) -> std::io::Result<u64> {
    let len = std::fs::metadata(path)?.len();
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_data()?;
    }
    std::fs::remove_file(path)?;
    Ok(len)
}

fn shred_tree(dir: &Path) -> std::io::Result<Erased> {
    let mut erased = Erased::default();
    for file in walk(dir)? {
        erased.bytes += shred(&file)?;
        erased.files += 1;
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    Ok(erased)
}

pub struct DirBlobStore {
    root: PathBuf,
}

impl DirBlobStore {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }
}

#[async_trait]
impl BlobStore for DirBlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> PortResult<()> {
        let path = key_path(&self.root, key)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        match std::fs::read(key_path(&self.root, key)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let dir = match prefix.rsplit_once('/') {
            Some((dir, _)) => key_path(&self.root, dir)?,
            None => self.root.clone(),
        };
        Ok(walk(&dir)
            .map_err(io)?
            .iter()
            .map(|p| relative(&self.root, p))
            .filter(|k| k.starts_with(prefix))
            .collect())
    }

    async fn delete_prefix(&self, prefix: &str) -> PortResult<u64> {
        let mut n = 0;
        for key in self.list(prefix).await? {
            shred(&key_path(&self.root, &key)?).map_err(io)?;
            n += 1;
        }
        if let Some(dir) = prefix.strip_suffix('/') {
            let _ = std::fs::remove_dir(key_path(&self.root, dir)?);
        }
        Ok(n)
    }
}

/// The product's data: `root/<customer id>/...`.
pub struct DirProductData {
    root: PathBuf,
}

impl DirProductData {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn dir(&self, customer: &CustomerId) -> PathBuf {
        // CustomerId allows no '/' and no leading '.', so this stays inside.
        self.root.join(customer.as_str())
    }
}

#[async_trait]
impl ProductData for DirProductData {
    async fn files(&self, customer: &CustomerId) -> PortResult<Vec<ProductFile>> {
        let dir = self.dir(customer);
        walk(&dir)
            .map_err(io)?
            .into_iter()
            .map(|p| {
                Ok(ProductFile {
                    path: relative(&dir, &p),
                    bytes: std::fs::read(&p).map_err(io)?,
                })
            })
            .collect()
    }

    async fn erase(&self, customer: &CustomerId) -> PortResult<Erased> {
        shred_tree(&self.dir(customer)).map_err(io)
    }
}

/// Copies a directory tree (the user's product data into the data dir, so
/// the simulation never deletes the original).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for file in walk(from)? {
        let target = to.join(file.strip_prefix(from).unwrap_or(&file));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&file, &target)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_root() {
        let root = Path::new("/data");
        assert!(key_path(root, "../x").is_err());
        assert!(key_path(root, "/etc/passwd").is_err());
        assert!(key_path(root, "exports/a/b.zip").is_ok());
    }
}
