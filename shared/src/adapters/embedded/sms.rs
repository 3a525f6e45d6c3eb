//! The embedded texter: an SMS outbox, one JSON line per text in
//! `DIR/sms-outbox.jsonl`, and the numbers that answered STOP, one per
//! line in `DIR/sms-opt-out.txt` (the operator adds them; `#` starts a
//! comment). A line is written whole with one `write` on a file opened
//! for appending, and synced before the send counts as done.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::ids::MobileNumber;
use crate::ports::{OutgoingSms, PortError, PortResult, SendError, Texter};
use crate::render::sms::Segments;

/// One line of the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsLine {
    pub message_id: String,
    pub to: String,
    pub sender_id: Option<String>,
    pub campaign: String,
    pub milestone: String,
    pub text: String,
    /// How many parts the text is sent in, and in which encoding.
    pub segments: u32,
    pub encoding: String,
}

#[derive(Clone)]
pub struct SmsOutbox {
    file: PathBuf,
    opt_out: PathBuf,
    /// One writer at a time, so lines never interleave.
    lock: Arc<Mutex<()>>,
}

impl SmsOutbox {
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            file: dir.join("sms-outbox.jsonl"),
            opt_out: dir.join("sms-opt-out.txt"),
            lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every text sent so far, in order.
    pub fn read(&self) -> PortResult<Vec<SmsLine>> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PortError::retryable(e)),
        };
        text.lines()
            .map(|l| serde_json::from_str(l).map_err(PortError::permanent))
            .collect()
    }

    fn opted_out(&self, number: &MobileNumber) -> PortResult<bool> {
        let text = match std::fs::read_to_string(&self.opt_out) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(PortError::retryable(e)),
        };
        Ok(text
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty())
            .filter_map(|l| MobileNumber::parse(l).ok())
            .any(|n| n == *number))
    }

    fn deliver(&self, sms: &OutgoingSms) -> Result<String, SendError> {
        if self.opted_out(&sms.to)? {
            return Err(SendError::OptedOut);
        }
        let segments = Segments::of(&sms.text);
        let line = SmsLine {
            message_id: sms.message_id.clone(),
            to: sms.to.to_string(),
            sender_id: sms.sender_id.clone(),
            campaign: sms.key.campaign.to_string(),
            milestone: sms.key.milestone.name(),
            text: sms.text.clone(),
            segments: segments.count,
            encoding: segments.encoding.as_str().to_owned(),
        };
        let mut bytes = serde_json::to_vec(&line).map_err(PortError::permanent)?;
        bytes.push(b'\n');
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .map_err(PortError::retryable)?;
        file.write_all(&bytes).map_err(PortError::retryable)?;
        file.sync_data().map_err(PortError::retryable)?;
        Ok(sms.message_id.clone())
    }
}

#[async_trait]
impl Texter for SmsOutbox {
    async fn send(&self, sms: &OutgoingSms) -> Result<String, SendError> {
        // File writes block: off the async runtime.
        let (outbox, sms) = (self.clone(), sms.clone());
        tokio::task::spawn_blocking(move || outbox.deliver(&sms))
            .await
            .map_err(|e| {
                PortError::permanent(anyhow::anyhow!("the SMS outbox writer failed: {e}"))
            })?
    }
}
