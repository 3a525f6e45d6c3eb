//! Directory-backed adapters: export bundles in a blob directory, and the
//! retiring product's data as one directory per customer id.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;

use crate::parallel;

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

/// Overwrites a file with zeros in place; not yet durable.
fn overwrite(path: &Path) -> std::io::Result<u64> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    let len = f.metadata()?.len();
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(len)
}

/// Makes overwrites durable: one `syncfs` for the file system holding
/// `root` on Linux (one flush for a whole batch instead of one per file),
/// else an fsync per file.
fn sync(root: &Path, files: &[PathBuf]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let _ = files;
        let dir = std::fs::File::open(root)?;
        rustix::fs::syncfs(&dir).map_err(std::io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = root;
        for f in files {
            std::fs::File::open(f)?.sync_data()?;
        }
        Ok(())
    }
}

/// Overwrites every file with zeros, flushes that to disk, then unlinks
/// them: the bytes do not stay readable in freed blocks of a file system
/// that writes in place. (Copy-on-write file systems and SSD wear
/// levelling may keep old blocks; encrypt such volumes.)
fn shred(root: &Path, files: &[PathBuf]) -> std::io::Result<Vec<u64>> {
    let sizes = parallel::map(files, |f| overwrite(f))
        .into_iter()
        .collect::<std::io::Result<Vec<u64>>>()?;
    if !files.is_empty() {
        sync(root, files)?;
    }
    parallel::map(files, |f| std::fs::remove_file(f))
        .into_iter()
        .collect::<std::io::Result<()>>()?;
    Ok(sizes)
}

/// Removes a directory whose files are gone: one `rmdir` when it is empty
/// (the usual case), a full removal of left-over subdirectories otherwise.
fn remove_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
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

    async fn any_under(&self, prefixes: &[String]) -> PortResult<Vec<bool>> {
        let paths = prefixes
            .iter()
            .map(|p| Ok((p, key_path(&self.root, p.trim_end_matches('/'))?)))
            .collect::<PortResult<Vec<_>>>()?;
        let found = crate::parallel::map(&paths, |(prefix, path)| -> std::io::Result<bool> {
            if prefix.ends_with('/') {
                // A directory prefix: present while its directory is.
                path.try_exists()
            } else {
                Ok(walk(path.parent().unwrap_or(&self.root))?
                    .iter()
                    .any(|f| relative(&self.root, f).starts_with(prefix.as_str())))
            }
        });
        found
            .into_iter()
            .collect::<std::io::Result<Vec<bool>>>()
            .map_err(io)
    }

    async fn delete_prefixes(&self, prefixes: &[String]) -> PortResult<Vec<u64>> {
        // Most purged customers have no bundle: one listing of each parent
        // directory spares a failed open per customer.
        let mut listed: std::collections::HashMap<
            PathBuf,
            std::collections::HashSet<std::ffi::OsString>,
        > = std::collections::HashMap::new();
        let mut files = Vec::new();
        let mut counts = Vec::with_capacity(prefixes.len());
        for prefix in prefixes {
            let dir = key_path(&self.root, prefix.trim_end_matches('/'))?;
            if let (true, Some(parent), Some(name)) =
                (prefix.ends_with('/'), dir.parent(), dir.file_name())
            {
                if !listed.contains_key(parent) {
                    let names = match std::fs::read_dir(parent) {
                        Ok(entries) => entries
                            .filter_map(|e| e.ok().map(|e| e.file_name()))
                            .collect(),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
                        Err(e) => return Err(io(e)),
                    };
                    listed.insert(parent.to_owned(), names);
                }
                if !listed[parent].contains(name) {
                    counts.push(0);
                    continue;
                }
            }
            let keys = self.list(prefix).await?;
            counts.push(keys.len() as u64);
            for key in keys {
                files.push(key_path(&self.root, &key)?);
            }
        }
        shred(&self.root, &files).map_err(io)?;
        for (prefix, n) in prefixes.iter().zip(&counts) {
            if let (Some(dir), true) = (prefix.strip_suffix('/'), *n > 0) {
                remove_dir(&key_path(&self.root, dir)?).map_err(io)?;
            }
        }
        Ok(counts)
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

    async fn any_left(&self, customers: &[CustomerId]) -> PortResult<Vec<bool>> {
        crate::parallel::map(customers, |c| self.dir(c).try_exists())
            .into_iter()
            .collect::<std::io::Result<Vec<bool>>>()
            .map_err(io)
    }

    async fn erase(&self, customers: &[CustomerId]) -> PortResult<Vec<Erased>> {
        let found = parallel::map(customers, |c| walk(&self.dir(c)))
            .into_iter()
            .collect::<std::io::Result<Vec<Vec<PathBuf>>>>()
            .map_err(io)?;
        let all: Vec<PathBuf> = found.iter().flatten().cloned().collect();
        let mut sizes = shred(&self.root, &all).map_err(io)?.into_iter();
        let per_customer = found
            .iter()
            .map(|files| Erased {
                files: files.len() as u64,
                bytes: sizes.by_ref().take(files.len()).sum(),
            })
            .collect();
        parallel::map(customers, |c| remove_dir(&self.dir(c)))
            .into_iter()
            .collect::<std::io::Result<()>>()
            .map_err(io)?;
        Ok(per_customer)
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
