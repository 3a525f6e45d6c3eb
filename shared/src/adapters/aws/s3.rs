//! S3 for export bundles: server-side encrypted objects under
//! `exports/{campaign}/{customer}/`, deleted by prefix in batches of up to
//! 1,000 keys (DeleteObjects) when a customer is purged.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};

use super::join_all;
use crate::ports::{BlobStore, PortError, PortResult};

#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

fn sdk_err<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    super::classify(
        e,
        "S3",
        &[
            "SlowDown",
            "InternalError",
            "ServiceUnavailable",
            "RequestTimeout",
        ],
    )
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let body = out.body.collect().await.map_err(PortError::retryable)?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn download_url(
        &self,
        key: &str,
        valid_for: std::time::Duration,
    ) -> PortResult<Option<String>> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(valid_for)
            .map_err(PortError::permanent)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition("attachment")
            .presigned(config)
            .await
            .map_err(sdk_err)?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            keys.extend(
                page.map_err(sdk_err)?
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    async fn any_under(&self, prefixes: &[String]) -> PortResult<Vec<bool>> {
        // A purge verifies a whole page of customers: listed side by side.
        let checks: Vec<_> = prefixes
            .iter()
            .map(|prefix| async move {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .max_keys(1)
                    .send()
                    .await
                    .map_err(sdk_err)?;
                Ok(!page.contents().is_empty())
            })
            .collect();
        join_all(checks).await.into_iter().collect()
    }

    async fn delete_prefixes(&self, prefixes: &[String]) -> PortResult<Vec<u64>> {
        let mut counts = Vec::with_capacity(prefixes.len());
        let mut keys = Vec::new();
        let listings: Vec<_> = prefixes.iter().map(|p| self.list(p)).collect();
        for found in join_all(listings).await {
            let found = found?;
            counts.push(found.len() as u64);
            keys.extend(found);
        }
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .build()
                        .map_err(PortError::permanent)
                })
                .collect::<PortResult<Vec<_>>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(PortError::permanent)?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(sdk_err)?;
            if let Some(failed) = out.errors().first() {
                return Err(PortError::retryable(anyhow::anyhow!(
                    "S3 did not delete {}: {}",
                    failed.key().unwrap_or_default(),
                    failed.code().unwrap_or_default()
                )));
            }
        }
        Ok(counts)
    }
}

/// The retiring product's data in S3: `{prefix}{customer id}/...`.
#[derive(Clone)]
pub struct S3ProductData {
    store: S3BlobStore,
    prefix: String,
}

impl S3ProductData {
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            store: S3BlobStore::new(client, bucket),
            prefix: prefix.into(),
        }
    }

    fn dir(&self, customer: &crate::domain::CustomerId) -> String {
        format!("{}{customer}/", self.prefix)
    }
}

#[async_trait]
impl crate::ports::ProductData for S3ProductData {
    async fn files(
        &self,
        customer: &crate::domain::CustomerId,
    ) -> PortResult<Vec<crate::ports::ProductFile>> {
        let dir = self.dir(customer);
        let keys = self.store.list(&dir).await?;
        let mut files = Vec::with_capacity(keys.len());
        let reads: Vec<_> = keys.iter().map(|k| self.store.get(k)).collect();
        for (key, bytes) in keys.iter().zip(join_all(reads).await) {
            if let Some(bytes) = bytes? {
                files.push(crate::ports::ProductFile {
                    path: key[dir.len()..].to_owned(),
                    bytes,
                });
            }
        }
        Ok(files)
    }

    async fn erase(
        &self,
        customers: &[crate::domain::CustomerId],
    ) -> PortResult<Vec<crate::ports::Erased>> {
        let mut erased = Vec::with_capacity(customers.len());
        let mut prefixes = Vec::with_capacity(customers.len());
        for c in customers {
            let dir = self.dir(c);
            let mut e = crate::ports::Erased::default();
            let mut pages = self
                .store
                .client
                .list_objects_v2()
                .bucket(&self.store.bucket)
                .prefix(&dir)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for o in page.map_err(sdk_err)?.contents() {
                    e.files += 1;
                    e.bytes += o.size().unwrap_or_default().max(0) as u64;
                }
            }
            erased.push(e);
            prefixes.push(dir);
        }
        self.store.delete_prefixes(&prefixes).await?;
        Ok(erased)
    }

    async fn any_left(&self, customers: &[crate::domain::CustomerId]) -> PortResult<Vec<bool>> {
        let prefixes: Vec<String> = customers.iter().map(|c| self.dir(c)).collect();
        self.store.any_under(&prefixes).await
    }
}
