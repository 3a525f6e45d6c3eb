//! The embedded mailer: a Maildir outbox, one RFC 5322 file per e-mail in
//! `new/`, written to `tmp/` first and renamed so a reader never sees half
//! a message. Open it with any mail client (`mutt -f DIR/outbox`).

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::mime;
use crate::ports::{Mailer, OutgoingEmail, PortError, PortResult};

pub struct MaildirOutbox {
    root: PathBuf,
}

impl MaildirOutbox {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl MaildirOutbox {
    fn deliver(&self, email: &OutgoingEmail) -> PortResult<String> {
        let bytes = mime::render(email);
        // The message id is derived from the ledger key, so it is unique per
        // message and the file name says when it was sent.
        let name = format!("{}.{}.sunset", email.date.timestamp(), email.message_id);
        let tmp = self.root.join("tmp").join(&name);
        std::fs::write(&tmp, &bytes).map_err(PortError::retryable)?;
        std::fs::rename(&tmp, self.root.join("new").join(&name)).map_err(PortError::retryable)?;
        Ok(email.message_id.clone())
    }
}

#[async_trait]
impl Mailer for MaildirOutbox {
    async fn send(&self, email: &OutgoingEmail) -> PortResult<String> {
        self.deliver(email)
    }

    async fn send_all(&self, emails: &[OutgoingEmail]) -> Vec<PortResult<String>> {
        super::parallel::map(emails, |e| self.deliver(e))
    }
}
